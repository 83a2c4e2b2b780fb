package sso

import (
	"fmt"
	"testing"
	"time"
)

// The cache holds at most its bound, gives an entry once, and only for its code's hash before
// the code expires.
func TestCodeCacheTake(t *testing.T) {
	now := time.Now()
	c := newCodeCache(4)
	for i := range 10 {
		c.put(&AuthRequest{ID: fmt.Sprint(i), CodeHash: HashToken(fmt.Sprint("code", i)), CodeExpiresAt: now.Add(time.Minute)})
		if len(c.m) > 4 {
			t.Fatalf("%d entries after %d puts, bound 4", len(c.m), i+1)
		}
	}
	c = newCodeCache(4)
	c.put(&AuthRequest{ID: "a", CodeHash: HashToken("code-a"), CodeExpiresAt: now.Add(time.Minute)})
	c.put(&AuthRequest{ID: "b", CodeHash: HashToken("code-b"), CodeExpiresAt: now.Add(time.Minute)})
	c.put(&AuthRequest{ID: "old", CodeHash: HashToken("code-old"), CodeExpiresAt: now})
	if c.take("a", HashToken("code-b"), now) != nil {
		t.Fatal("taken with another code's hash")
	}
	if c.take("a", HashToken("code-a"), now) != nil {
		t.Fatal("an entry presented with another hash was kept")
	}
	if ar := c.take("b", HashToken("code-b"), now); ar == nil || ar.ID != "b" {
		t.Fatalf("take b: %v", ar)
	}
	if c.take("b", HashToken("code-b"), now) != nil {
		t.Fatal("taken twice")
	}
	if c.take("old", HashToken("code-old"), now) != nil {
		t.Fatal("an expired code's request taken")
	}
	if len(c.m) != 0 {
		t.Fatalf("%d entries left", len(c.m))
	}
	var nilCache *codeCache
	nilCache.put(&AuthRequest{ID: "x"})
	if nilCache.take("x", "", now) != nil {
		t.Fatal("a nil cache gave an entry")
	}
}

// PeekCommittedCode is the cache's entry for request id (nil: none), left in place.
func PeekCommittedCode(p *Provider, id string) *AuthRequest {
	if p.storage.codes == nil {
		return nil
	}
	p.storage.codes.mu.Lock()
	defer p.storage.codes.mu.Unlock()
	return p.storage.codes.m[id]
}
