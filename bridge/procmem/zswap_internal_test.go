package procmem

import "testing"

// TestReleasableSkipsSwappedOutPrivatePages (review Z-1): a read-only mapping whose private
// (relocated) pages have all been swapped out shows Anonymous: 0 and Swap: > 0 in smaps.
// MADV_DONTNEED on it drops the swap entries, and the next access reads the file's unrelocated
// bytes: a shared library's RELRO (.data.rel.ro, .got: function pointers libc and libcrypto
// call through) or a cgo build's own RELRO would then hold file offsets instead of addresses.
// Such a mapping must not be released, exactly as one with resident private pages is not.
func TestReleasableSkipsSwappedOutPrivatePages(t *testing.T) {
	const smaps = `7f1000000000-7f1000200000 r-xp 00000000 fe:00 77 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                 920 kB
Anonymous:             0 kB
Swap:                  0 kB
7f1000200000-7f1000204000 r--p 001f6000 fe:00 77 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                   0 kB
Anonymous:             0 kB
Swap:                 16 kB
7f3000000000-7f3000040000 r--p 00360000 fe:00 78 /usr/lib/x86_64-linux-gnu/libcrypto.so.3
Rss:                   0 kB
Anonymous:             0 kB
Swap:                256 kB
00600000-00610000 r--p 00200000 fe:00 123 /opt/ssobridge
Rss:                   0 kB
Anonymous:             0 kB
Swap:                 64 kB
`
	maps, err := parseSmaps([]byte(smaps))
	if err != nil {
		t.Fatal(err)
	}
	if len(maps) != 4 {
		t.Fatalf("parsed %d mappings, want 4", len(maps))
	}
	got := releasable(maps, "/opt/ssobridge")
	for _, m := range got {
		if m.start != 0x7f1000000000 {
			t.Errorf("releasable: %x-%x %s %s, whose written pages are in swap", m.start, m.end, m.perms, m.path)
		}
	}
	if len(got) != 1 || got[0].start != 0x7f1000000000 {
		t.Fatalf("want only libc's text (7f1000000000) releasable, got %d mappings", len(got))
	}
}
