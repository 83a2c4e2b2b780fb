package procmem

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// TrimMinFaults is how many pages the process must have faulted in (minor and major faults,
// getrusage) since the previous trim for Trim to do anything: an idle server faults in little
// (its background work reaches the threshold about every 20 s), so most of its trims cost one
// system call; a server under load faults its hot code back in after each trim (a few hundred
// faults) and is trimmed again at the next one.
const TrimMinFaults = 256

// Trimmer unmaps, at each Trim, the pages of the executable's code and read-only data, and of
// the shared libraries' read-only mappings, that the process has mapped since the previous
// trim: the same mappings as ReleaseStartupPages, unmapped the same way (MADV_DONTNEED), never
// dropped from the page cache. Run a few times a second, it keeps what the process has mapped of
// its files close to the code and data the current work uses: a phase of work (signing with
// one algorithm, sign-ins, a batch of provisioning) maps its code, with up to 64 KiB around
// each page it touches (the kernel's fault-around), and that stays mapped and counted in the
// resident set after the work has moved on, until a trim. The pages stay in the page cache, so
// what the process uses again comes back with a minor fault (no read from disk), which is the
// whole cost: a few hundred faults after each trim under load, and one read of
// /proc/self/smaps (about a millisecond). A mapping that holds a private page (Anonymous or Swap
// in smaps: a breakpoint or uprobe written into the code, a relocated segment) is left alone,
// as ReleaseStartupPages leaves it.
//
// Only the mappings there when the Trimmer was made (serve makes it after start-up) are
// unmapped, never one mapped since: a library being loaded (dlopen: an NSS module at a first
// lookup through cgo, an OpenSSL provider) is mapped read-only from its file over its whole
// span first, then its data and bss over part of it, which are written; a Trim whose read of
// smaps fell in between would zero them by its MADV_DONTNEED of the range it read, and so it
// would an anonymous mapping made in the range of a library unloaded meanwhile (review s28
// R8-2). The executable and the libraries loaded at start-up (libc, the loader, libcrypto) are
// never unloaded.
//
// A Trimmer is not safe for concurrent use: one goroutine calls Trim.
type Trimmer struct {
	exe    string
	smaps  []byte // the last read of /proc/self/smaps, reused
	faults int64  // minor + major faults after the last trim
	// startup is the executable's and the libraries' mappings when the Trimmer was made.
	startup map[span]bool
}

// span is a mapping's range and file.
type span struct {
	start, end uintptr
	path       string
}

// NewTrimmer returns a Trimmer for the running executable and the libraries mapped now.
func NewTrimmer() (*Trimmer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("procmem: executable: %w", err)
	}
	t := &Trimmer{exe: exe, startup: map[span]bool{}}
	if t.smaps, err = readProc("/proc/self/smaps", nil); err != nil {
		return nil, fmt.Errorf("procmem: read smaps: %w", err)
	}
	maps, err := parseSmaps(t.smaps)
	if err != nil {
		return nil, err
	}
	for _, m := range maps {
		if m.path == exe || sharedLibrary(m.path) {
			t.startup[span{m.start, m.end, m.path}] = true
		}
	}
	t.faults = faults()
	return t, nil
}

// Trim unmaps the releasable mappings' pages when the process has faulted in at least
// TrimMinFaults pages since the previous trim (or since NewTrimmer), and says whether it did and
// how many bytes were resident in them.
func (t *Trimmer) Trim() (released int64, trimmed bool, err error) {
	if faults()-t.faults < TrimMinFaults {
		return 0, false, nil
	}
	if t.smaps, err = readProc("/proc/self/smaps", t.smaps[:0]); err != nil {
		return 0, false, fmt.Errorf("procmem: read smaps: %w", err)
	}
	maps, err := parseSmaps(t.smaps)
	if err != nil {
		return 0, false, err
	}
	for _, m := range releasable(maps, t.exe) {
		if !t.startup[span{m.start, m.end, m.path}] {
			continue
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, true, fmt.Errorf("procmem: madvise %x-%x: %w", m.start, m.end, errno)
		}
		released += m.rss << 10
	}
	t.faults = faults()
	return released, true, nil
}

// faults is the number of pages the process has faulted in so far (minor and major faults).
func faults() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Minflt + ru.Majflt
}

// readProc reads a /proc file whole into buf (grown as needed), as os.ReadFile does, without a
// new buffer each time.
func readProc(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	if cap(buf) == 0 {
		buf = make([]byte, 0, 128<<10) // /proc/self/smaps of a serving bridge: about 100 KiB
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
