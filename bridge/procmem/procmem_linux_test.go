package procmem

import (
	"crypto/sha256"
	"os"
	"testing"
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
`

// TestReleasable: only the executable's own read-only mappings with no private page are
// released: not its writable data, not a read-only segment written before being protected
// (RELRO in a position-independent build: Anonymous > 0), not other files, not anonymous memory.
func TestReleasable(t *testing.T) {
	maps, err := parseSmaps([]byte(smapsSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 7 {
		t.Fatalf("parsed %d mappings, want 7: %+v", len(maps), maps)
	}
	got := releasable(maps, "/opt/ssobridge")
	want := []uintptr{0x00400000, 0x011a0000}
	if len(got) != len(want) {
		t.Fatalf("releasable = %+v, want starts %x", got, want)
	}
	for i, m := range got {
		if m.start != want[i] || m.rss == 0 {
			t.Fatalf("releasable[%d] = %+v, want start %x with its Rss", i, m, want[i])
		}
	}
	if maps[2].anonymous != 512 || maps[3].perms != "r--p" || maps[6].path != "/opt/ssobridge (deleted)" {
		t.Fatalf("fields: %+v", maps)
	}
}

// TestReleaseStartupPagesKeepsRunning releases this test binary's start-up pages and then runs
// code and reads read-only data again: they come back from the page cache.
func TestReleaseStartupPagesKeepsRunning(t *testing.T) {
	before := sha256.Sum256([]byte(smapsSample))
	n, err := ReleaseStartupPages()
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
