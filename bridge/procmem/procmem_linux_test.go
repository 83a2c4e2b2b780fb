package procmem

import (
	"crypto/sha256"
	_ "embed"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

const smapsSample = `00400000-011a0000 r-xp 00000000 fe:00 123 /opt/ssobridge
Size:              14176 kB
Rss:               12576 kB
Anonymous:             0 kB
VmFlags: rd ex mr mw me
011a0000-02170000 r--p 00d99000 fe:00 123 /opt/ssobridge
Rss:               11668 kB
Anonymous:             0 kB
02170000-02230000 rw-p 01d6e000 fe:00 123 /opt/ssobridge
Rss:                 784 kB
Anonymous:           512 kB
02230000-02300000 r--p 01e00000 fe:00 123 /opt/ssobridge
Rss:                  64 kB
Anonymous:            64 kB
7f0000000000-7f0000100000 rw-p 00000000 00:00 0
Rss:                8472 kB
Anonymous:          8472 kB
7f1000000000-7f1000200000 r-xp 00000000 fe:00 77 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 920 kB
Anonymous:             0 kB
7f2000000000-7f2000001000 r--p 00000000 fe:00 99 /opt/ssobridge (deleted)
Rss:                   4 kB
Anonymous:             0 kB
7f3000000000-7f3000001000 r--p 00000000 fe:00 78 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
Rss:                 392 kB
Anonymous:           392 kB
7f4000000000-7f4000002000 r--p 00000000 fe:00 79 /usr/share/zoneinfo/UTC
Rss:                   8 kB
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Rss:                   8 kB
Anonymous:             0 kB
7f5000000000-7f5000001000 r--p 00000000 fe:00 80 /usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)
Rss:                   4 kB
Anonymous:             0 kB
`

// TestReleasable: only the read-only mappings with no private page of the executable and of
// the shared libraries are released: not their writable data, not a read-only segment written
// before being protected (RELRO: Anonymous > 0), not other files (a deleted library, a data
// file), not the vDSO, not anonymous memory.
func TestReleasable(t *testing.T) {
	maps, err := parseSmaps([]byte(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 11 {
		t.Fatalf("parsed %d mappings, want 11: %+v", len(maps), maps)
	}
	got := releasable(maps, "/opt/ssobridge")
	want := []uintptr{0x00400000, 0x011a0000, 0x7f1000000000}
	if len(got) != len(want) {
		t.Fatalf("releasable = %+v, want starts %x", got, want)
	}
	for i, m := range got {
		if m.start != want[i] || m.rss == 0 {
			t.Fatalf("releasable[%d] = %+v, want start %x with its Rss", i, m, want[i])
		}
	}
	if maps[2].anonymous != 512 || maps[3].perms != "r--p" || maps[6].path != "/opt/ssobridge (deleted)" ||
		!slices.Equal(maps[0].flags, []string{"rd", "ex", "mr", "mw", "me"}) {
		t.Fatalf("fields: %+v", maps)
	}
}

// TestReleaseStartupPagesKeepsRunning releases this test binary's start-up pages and then runs
// code and reads read-only data again: they come back from the page cache.
func TestReleaseStartupPagesKeepsRunning(t *testing.T) {
	before := sha256.Sum256([]byte(smapsSample))
	n, err := ReleaseStartupPages(false)
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Fatalf("released %d bytes, want some", n)
	}
	if after := sha256.Sum256([]byte(smapsSample)); after != before {
		t.Fatal("read-only data changed after release")
	}
	if _, err := os.ReadFile("/proc/self/status"); err != nil {
		t.Fatal(err)
	}
}

// rodata is 256 KiB of read-only data in the test binary that only TestReleaseEvicts reads.
//
//go:embed testdata/rodata.txt
var rodata string

// TestReleaseEvicts: with evict, the released mappings read one page at a time from then on
// (VmFlags rr: MADV_RANDOM), and pages of the executable that the process used before the
// release but not since are neither mapped nor left in the page cache, where the kernel's
// fault-around would map them back with their neighbours.
func TestReleaseEvicts(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(exe, &fs); err != nil {
		t.Fatal(err)
	}
	if fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.RAMFS_MAGIC {
		t.Skipf("%s is on tmpfs: its pages cannot leave the page cache", exe)
	}
	// Map and read rodata: its pages are resident and in the page cache.
	if n := strings.Count(rodata, "\n"); n < 1000 {
		t.Fatalf("rodata has %d lines", n)
	}
	// The test binary was just written by the linker: pages still dirty or under writeback
	// cannot be dropped from the page cache, so on a busy disk some would stay. Write them
	// back first (an installed binary's pages are clean).
	if f, err := os.Open(exe); err == nil {
		err = unix.Fdatasync(int(f.Fd()))
		f.Close()
		if err != nil {
			t.Fatalf("fdatasync %s: %v", exe, err)
		}
	}
	first, last := rodataPages(t, exe)
	if c := cachedPages(t, exe, first, last); c != last-first {
		t.Fatalf("%d of rodata's %d inner pages cached after reading it", c, last-first)
	}
	n, err := ReleaseStartupPages(true)
	if err != nil {
		t.Fatal(err)
	}
	if c := cachedPages(t, exe, first, last); n <= 0 || c != 0 {
		t.Fatalf("released %d bytes; %d of rodata's %d inner pages still in the page cache", n, c, last-first)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := parseSmaps(smaps)
	if err != nil {
		t.Fatal(err)
	}
	rel := releasable(maps, exe)
	if len(rel) == 0 {
		t.Fatal("no mapping of the executable")
	}
	for _, m := range rel {
		if !slices.Contains(m.flags, "rr") {
			t.Fatalf("%x-%x %s: VmFlags %v without rr (MADV_RANDOM)", m.start, m.end, m.perms, m.flags)
		}
	}
	// And it still reads the same (read back from the file).
	if n := strings.Count(rodata, "\n"); n < 1000 {
		t.Fatalf("rodata has %d lines after the release", n)
	}
}

// rodataPages returns the file page numbers [first, last) of the pages wholly inside rodata,
// from the mapping of the executable that holds it (/proc/self/maps: range, offset).
func rodataPages(t *testing.T, exe string) (first, last int64) {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	p := uint64(uintptr(unsafe.Pointer(unsafe.StringData(rodata))))
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != exe {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		off, _ := strconv.ParseUint(f[2], 16, 64)
		if p < start || p+uint64(len(rodata)) > end {
			continue
		}
		page := uint64(os.Getpagesize())
		fo := p - start + off
		return int64((fo + page - 1) / page), int64((fo + uint64(len(rodata))) / page)
	}
	t.Fatalf("rodata at %x is in no mapping of %s", p, exe)
	return 0, 0
}

// cachedPages returns how many of path's pages [first, last) are in the page cache.
func cachedPages(t *testing.T, path string, first, last int64) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := int64(os.Getpagesize())
	b, err := unix.Mmap(int(f.Fd()), first*page, int((last-first)*page), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	vec := make([]byte, last-first)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	var cached int64
	for _, v := range vec {
		cached += int64(v & 1)
	}
	return cached
}

func FuzzParseSmaps(f *testing.F) {
	f.Add([]byte(smapsSample))
	f.Add([]byte("zz-yy r-xp 0 0 0 /x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		maps, err := parseSmaps(b)
		if err != nil {
			return
		}
		for _, m := range releasable(maps, "/opt/ssobridge") {
			if m.perms[1] != '-' || m.anonymous != 0 {
				t.Fatalf("released %+v", m)
			}
		}
	})
}
