package cache

import (
	"testing"
	"time"
)

// Review s28 R9-3: a member cached once is served until its TTL from the read that cached it,
// however often it is read meanwhile. A refresh grant re-checks its member through the cache
// (hooks.CheckGrant, SharedMemberByKey), and the README bounds how long a lapse the AMS records
// goes unseen at refresh by cache_ttl (session 28 Q): were a hit to extend the entry, an app
// refreshing more often than the TTL would keep its member's old status for good.
func TestHitsDoNotExtendTheTTL(t *testing.T) {
	for _, read := range []struct {
		name string
		get  func(c *Directory) error
	}{
		{"SharedMemberByKey", func(c *Directory) error { _, err := c.SharedMemberByKey(ctx, "K1"); return err }},
		{"MemberByKey", func(c *Directory) error { _, err := c.MemberByKey(ctx, "K1"); return err }},
		{"MemberByLogin", func(c *Directory) error { _, err := c.MemberByLogin(ctx, "alice"); return err }},
	} {
		t.Run(read.name, func(t *testing.T) {
			f, c, clk := setup(t) // TTL one minute
			if err := read.get(c); err != nil {
				t.Fatal(err)
			}
			fetched := reads(f)
			for range 5 { // a hit every 11 s, the last at 55 s
				clk.add(11 * time.Second)
				if err := read.get(c); err != nil {
					t.Fatal(err)
				}
			}
			if reads(f) != fetched {
				t.Fatalf("read the directory within the TTL: %v", f.calls)
			}
			clk.add(5 * time.Second) // 60 s after the member was cached
			if err := read.get(c); err != nil {
				t.Fatal(err)
			}
			if reads(f) == fetched {
				t.Fatal("served from the cache a minute after it was cached: the hits extended its TTL")
			}
		})
	}
}

// reads is how many member reads f has answered.
func reads(f *fake) int { return f.n("key") + f.n("login") + f.n("id") }
