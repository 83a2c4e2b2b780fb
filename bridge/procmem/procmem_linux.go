package procmem

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mapping is one line of /proc/self/smaps with the fields ReleaseStartupPages needs.
type mapping struct {
	start, end uintptr
	perms      string
	path       string
	anonymous  int64    // kB of private anonymous pages in it
	swap       int64    // kB of its private pages in swap (written, like anonymous ones)
	rss        int64    // kB resident
	flags      []string // VmFlags: "rr" once MADV_RANDOM applies
}

// ReleaseStartupPages unmaps the pages of the executable's read-only, never-written mappings
// (code and read-only data), and those of the shared libraries the process has loaded (libc
// and libcrypto in a cgo build: internal/rsasign), from the process and returns how many bytes
// were resident in them.
//
// With evict it also makes those mappings fault in one page at a time (MADV_RANDOM: no
// read-around of neighbouring pages on a page-cache miss, except in code on recent kernels:
// see the package documentation) and drops the files' pages that no
// process maps any more from the page cache (POSIX_FADV_DONTNEED), so that the kernel's
// fault-around, which maps the page-cache-resident neighbours of each faulting page (whole
// large folios on recent kernels), finds only pages this process used since. The package
// documentation says what it costs.
func ReleaseStartupPages(evict bool) (int64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("procmem: executable: %w", err)
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return 0, fmt.Errorf("procmem: read smaps: %w", err)
	}
	maps, err := parseSmaps(smaps)
	if err != nil {
		return 0, err
	}
	rel := releasable(maps, exe)
	var (
		files   []*os.File
		openErr error
	)
	if evict {
		// Opened before the unmapping, so that as little code as possible runs between it and
		// the page cache drop. An executable the service user may run but not read (mode 0711)
		// is still unmapped, just not dropped from the page cache; so is a library.
		seen := map[string]bool{}
		for _, m := range rel {
			if seen[m.path] {
				continue
			}
			seen[m.path] = true
			f, err := os.Open(m.path)
			if err != nil {
				if m.path == exe {
					openErr = err
				}
				continue
			}
			defer f.Close()
			if m.path == exe {
				// Dirty pages (a binary linked moments ago) cannot be dropped: write them
				// first. A file system that cannot sync a read-only descriptor only keeps those
				// pages cached.
				_ = unix.Fdatasync(int(f.Fd()))
			}
			files = append(files, f)
		}
	}
	// From here to the page cache drop, as little code as possible runs: every page the
	// process maps again in between (the code of this loop, whole large folios of it) stays in
	// the page cache. Raw calls: the ranges are addresses from smaps, never Go pointers, and
	// no other goroutine gets this thread's P to run (and fault in) code meanwhile.
	var released int64
	for _, m := range rel {
		if evict {
			if _, _, errno := unix.RawSyscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_RANDOM); errno != 0 {
				return released, fmt.Errorf("procmem: madvise random %x-%x: %w", m.start, m.end, errno)
			}
		}
		if _, _, errno := unix.RawSyscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("procmem: madvise %x-%x: %w", m.start, m.end, errno)
		}
		released += m.rss << 10
	}
	for _, f := range files {
		if _, _, errno := unix.RawSyscall6(unix.SYS_FADVISE64, f.Fd(), 0, 0, unix.FADV_DONTNEED, 0, 0); errno != 0 {
			return released, fmt.Errorf("procmem: fadvise %s: %w", f.Name(), errno)
		}
	}
	if openErr != nil {
		return released, fmt.Errorf("procmem: open executable: %w", openErr)
	}
	return released, nil
}

// releasable are the mappings of exe, and of the shared libraries (sharedLibrary), that are
// not writable, not shared-writable and hold no private (written) page, resident (Anonymous)
// or swapped out (Swap): dropping a written page of a read-only-after-relocation segment (the
// function pointers a library calls through) would bring the file's unrelocated bytes back.
func releasable(maps []mapping, exe string) []mapping {
	var out []mapping
	for _, m := range maps {
		if (m.path != exe && !sharedLibrary(m.path)) || len(m.perms) < 4 || m.perms[1] != '-' || m.perms[3] != 'p' ||
			m.anonymous != 0 || m.swap != 0 {
			continue
		}
		out = append(out, m)
	}
	return out
}

// sharedLibrary says whether path is a loaded shared object (/usr/lib/.../libc.so.6), not a
// special mapping ([vdso]), a deleted file or a data file.
func sharedLibrary(path string) bool {
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, " (deleted)") {
		return false
	}
	base := path[strings.LastIndexByte(path, '/')+1:]
	return strings.HasSuffix(base, ".so") || strings.Contains(base, ".so.")
}

// wantedField says whether the smaps field line b is one parseSmaps keeps.
func wantedField(b []byte) bool {
	for _, name := range [...]string{"Rss:", "Anonymous:", "Swap:", "VmFlags:"} {
		if len(b) >= len(name) && string(b[:len(name)]) == name {
			return true
		}
	}
	return false
}

// parseSmaps reads the mapping headers of /proc/self/smaps and their Rss and Anonymous lines.
func parseSmaps(b []byte) ([]mapping, error) {
	var (
		out []mapping
		cur *mapping
	)
	for rest := b; len(rest) > 0; {
		line := rest
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		// Of a mapping's field lines (their names begin with a capital; a header line with its
		// range in lower-case hexadecimal) only four are wanted: the other twenty are skipped
		// before they are copied and split (review s28 R8-4: a Trim's parse every second).
		if len(line) > 0 && line[0] >= 'A' && line[0] <= 'Z' && !wantedField(line) {
			continue
		}
		fields := strings.Fields(string(line))
		if len(fields) == 0 {
			continue
		}
		if name, ok := strings.CutSuffix(fields[0], ":"); ok {
			if cur == nil || len(fields) < 2 {
				continue
			}
			if name == "VmFlags" {
				cur.flags = fields[1:]
				continue
			}
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				continue
			}
			switch name {
			case "Rss":
				cur.rss = kb
			case "Anonymous":
				cur.anonymous = kb
			case "Swap":
				cur.swap = kb
			}
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok || len(fields) < 5 {
			continue // a field line whose name has no colon (VmFlags has one; be lenient)
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("procmem: smaps: bad range %q", fields[0])
		}
		m := mapping{start: uintptr(start), end: uintptr(end), perms: fields[1]}
		if len(fields) >= 6 {
			m.path = strings.Join(fields[5:], " ")
		}
		out = append(out, m)
		cur = &out[len(out)-1]
	}
	return out, nil
}
