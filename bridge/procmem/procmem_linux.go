package procmem

import (
	"bufio"
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
	anonymous  int64 // kB of private anonymous pages in it
	rss        int64 // kB resident
}

// ReleaseStartupPages unmaps the pages of the executable's read-only, never-written mappings
// (code and read-only data) from the process and returns how many bytes were resident in them.
func ReleaseStartupPages() (int64, error) {
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
	var released int64
	for _, m := range releasable(maps, exe) {
		// The raw call: the range is an address from smaps, never a Go pointer.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); errno != 0 {
			return released, fmt.Errorf("procmem: madvise %x-%x: %w", m.start, m.end, errno)
		}
		released += m.rss << 10
	}
	return released, nil
}

// releasable are the mappings of exe that are not writable, not shared-writable and hold no
// anonymous (private, written) page.
func releasable(maps []mapping, exe string) []mapping {
	var out []mapping
	for _, m := range maps {
		if m.path != exe || len(m.perms) < 4 || m.perms[1] != '-' || m.perms[3] != 'p' || m.anonymous != 0 {
			continue
		}
		out = append(out, m)
	}
	return out
}

// parseSmaps reads the mapping headers of /proc/self/smaps and their Rss and Anonymous lines.
func parseSmaps(b []byte) ([]mapping, error) {
	var (
		out []mapping
		cur *mapping
	)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if name, ok := strings.CutSuffix(fields[0], ":"); ok {
			if cur == nil || len(fields) < 2 {
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
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("procmem: smaps: %w", err)
	}
	return out, nil
}
