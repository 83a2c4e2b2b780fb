package procmem

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestTrimLeavesMappingsMadeSince (review s28 R8-2): a Trim unmaps only the mappings that were
// there when the Trimmer was made (serve makes it after start-up), never one mapped since.
// A library being loaded (dlopen: NSS modules at a first host or user lookup through cgo, an
// OpenSSL provider) is first mapped read-only from its file over its whole span, then its data
// and bss are mapped over part of that span and written (relocations, initialisers). A Trim
// whose read of smaps fell between the two would zero those written pages with its
// MADV_DONTNEED of the stale range; so would one whose library was unloaded and its range
// reused by an anonymous mapping. A mapping made after start-up is never in the Trimmer's
// set, so neither can happen. Here: a read-only file named like a library, mapped after
// NewTrimmer and read, is still mapped after a Trim.
func TestTrimLeavesMappingsMadeSince(t *testing.T) {
	tr, err := NewTrimmer()
	if err != nil {
		t.Fatal(err)
	}
	page := os.Getpagesize()
	const n = 16
	lib := filepath.Join(t.TempDir(), "libloadedlater.so.1")
	if err := os.WriteFile(lib, bytes.Repeat([]byte{7}, n*page), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, n*page, unix.PROT_READ, unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	sum := 0
	for i := 0; i < len(m); i += page {
		sum += int(m[i])
	}
	if sum != 7*n {
		t.Fatalf("read %d", sum)
	}
	if got := mappedPages(t, m); got != n {
		t.Fatalf("%d of the file's %d pages mapped after reading them", got, n)
	}
	touch(t, 2*TrimMinFaults)
	if _, trimmed, err := tr.Trim(); err != nil || !trimmed {
		t.Fatalf("Trim after %d faults: trimmed %v, err %v", 2*TrimMinFaults, trimmed, err)
	}
	if got := mappedPages(t, m); got != n {
		t.Fatalf("%d of the %d pages of a library mapped after NewTrimmer still mapped after a Trim: "+
			"it unmapped a mapping it did not see at start-up", got, n)
	}
}

// mappedPages counts the pages of b mapped in the process (/proc/self/pagemap, bit 63).
func mappedPages(t *testing.T, b []byte) int {
	t.Helper()
	f, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := uintptr(os.Getpagesize())
	entries := make([]byte, 8*(uintptr(len(b))/page))
	if _, err := f.ReadAt(entries, int64(uintptr(unsafe.Pointer(&b[0]))/page*8)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := 0; i < len(entries); i += 8 {
		if entries[i+7]&0x80 != 0 {
			n++
		}
	}
	return n
}
