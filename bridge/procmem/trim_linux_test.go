package procmem

import (
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestTrimUnmapsWhatWasMappedSince: a Trim after the process has faulted pages in unmaps the
// executable's read-only data it had mapped (rodata's pages are no longer present in the
// process), leaves them readable (they come back from the page cache, unchanged), and a Trim
// with nothing faulted in since does nothing.
func TestTrimUnmapsWhatWasMappedSince(t *testing.T) {
	if raceEnabled {
		// Under the race detector rodata's pages are mapped again between the Trim and the
		// check, though their mapping is released (review s28 R8-6; not understood yet). CI
		// runs without -race.
		t.Skip("rodata is mapped again under the race detector (review s28 R8-6)")
	}
	// A test binary just written by the linker sits in the page cache in large folios, and a
	// fault anywhere in one maps all of it: the runtime's own reads of read-only data next to
	// rodata would map rodata back at once. Evict first (as serve does at start-up), so that
	// rodata is read back one page at a time.
	if _, err := ReleaseStartupPages(true); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrimmer()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Count(rodata, "\n") // maps rodata's pages
	if want < 1000 {
		t.Fatalf("rodata has %d lines", want)
	}
	if p := presentPages(t); p == 0 {
		t.Fatal("none of rodata's pages is mapped after reading it")
	}
	// Fault in enough pages for the next Trim to act: a fresh anonymous mapping, touched.
	touch(t, 2*TrimMinFaults)
	n, trimmed, err := tr.Trim()
	if err != nil {
		t.Fatal(err)
	}
	if !trimmed || n <= 0 {
		t.Fatalf("Trim after %d faults: trimmed %v, %d bytes; want trimmed, some bytes", 2*TrimMinFaults, trimmed, n)
	}
	if p := presentPages(t); p != 0 {
		t.Fatalf("%d of rodata's pages still mapped after Trim", p)
	}
	if _, trimmed, err := tr.Trim(); err != nil || trimmed {
		t.Fatalf("Trim with nothing faulted in since: trimmed %v, err %v; want neither", trimmed, err)
	}
	if got := strings.Count(rodata, "\n"); got != want {
		t.Fatalf("rodata has %d lines after Trim, had %d", got, want)
	}
	if p := presentPages(t); p == 0 {
		t.Fatal("rodata's pages are not mapped again after reading it")
	}
}

// touch faults in n fresh anonymous pages.
func touch(t *testing.T, n int) {
	t.Helper()
	page := os.Getpagesize()
	b, err := unix.Mmap(-1, 0, n*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
}

// presentPages counts rodata's pages that are mapped in the process (/proc/self/pagemap: bit 63,
// present; readable without privileges), leaving out 64 KiB at each end: the kernel maps the
// cached neighbours of a faulting page within 64 KiB (fault-around), and the data next to
// rodata is the runtime's.
func presentPages(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := uintptr(os.Getpagesize())
	lo := (uintptr(unsafe.Pointer(unsafe.StringData(rodata)))+64<<10)/page + 1
	hi := (uintptr(unsafe.Pointer(unsafe.StringData(rodata)))+uintptr(len(rodata))-64<<10)/page - 1
	if hi < lo+8 {
		t.Fatalf("rodata is %d bytes: too small to leave 64 KiB out at each end", len(rodata))
	}
	entries := make([]byte, 8*(hi-lo+1))
	if _, err := f.ReadAt(entries, int64(lo*8)); err != nil {
		t.Fatal(err)
	}
	present := 0
	for i := 0; i < len(entries); i += 8 {
		if entries[i+7]&0x80 != 0 {
			present++
		}
	}
	return present
}
