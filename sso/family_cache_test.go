package sso_test

import (
	"context"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// familyReads counts the store's Family reads.
type familyReads struct {
	*memstore.Store
	n atomic.Int64
}

func (f *familyReads) Family(ctx context.Context, id string) (*sso.RefreshToken, error) {
	f.n.Add(1)
	return f.Store.Family(ctx, id)
}

// TestRefreshFamilyCacheNeverDecides: the refresh grant skips reading the family it issued or
// rotated last (one store read fewer per refresh), and still refuses whatever the store says is
// over: a family revoked behind the provider's back, and a token rotated on another replica and
// presented again to this one (reuse: the family is revoked everywhere).
func TestRefreshFamilyCacheNeverDecides(t *testing.T) {
	var reads *familyReads
	h := newHarnessWith(t, func(st *memstore.Store) sso.Store {
		reads = &familyReads{Store: st}
		return reads
	})
	refreshOn := func(h *harness, rt string) (int, map[string]any) {
		status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web:"+webSecret)
		return status, body
	}
	family := func(rt string) string { return rt[:strings.IndexByte(rt, '.')] }

	t.Run("issued and rotated families are not read again", func(t *testing.T) {
		tok := h.tokens("alice", "openid", "offline_access")
		before := reads.n.Load()
		rt := tok.RefreshToken
		for i := range 3 {
			status, body := refreshOn(h, rt)
			if status != 200 {
				t.Fatalf("refresh %d: %d %v", i, status, body)
			}
			rt = body["refresh_token"].(string)
		}
		if n := reads.n.Load() - before; n != 0 {
			t.Fatalf("three refreshes read the family %d times, want 0", n)
		}
	})

	t.Run("revoked in the store behind the provider", func(t *testing.T) {
		tok := h.tokens("alice", "openid", "offline_access")
		if status, body := refreshOn(h, tok.RefreshToken); status != 200 {
			t.Fatalf("refresh: %d %v", status, body)
		} else {
			if err := h.store.RevokeFamily(t.Context(), family(tok.RefreshToken)); err != nil {
				t.Fatal(err)
			}
			if status, body := refreshOn(h, body["refresh_token"].(string)); status != 400 || body["error"] != "invalid_grant" {
				t.Fatalf("refresh of a family revoked in the store: %d %v", status, body)
			}
		}
	})

	t.Run("rotated on another replica", func(t *testing.T) {
		b := h.replica()
		tok := h.tokens("alice", "openid", "offline_access")
		status, onA := refreshOn(h, tok.RefreshToken) // A remembers generation 1 as current
		if status != 200 {
			t.Fatalf("refresh on A: %d %v", status, onA)
		}
		status, onB := refreshOn(b, onA["refresh_token"].(string)) // B rotates to generation 2
		if status != 200 {
			t.Fatalf("refresh on B: %d %v", status, onB)
		}
		// Generation 1 again, on A, whose cache still calls it current: reuse.
		if status, body := refreshOn(h, onA["refresh_token"].(string)); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("reuse on the replica that cached the token: %d %v", status, body)
		}
		// The family is revoked for everyone: B's current token is refused too.
		if status, body := refreshOn(b, onB["refresh_token"].(string)); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("current token after reuse: %d %v", status, body)
		}
		f, err := h.store.Family(t.Context(), family(tok.RefreshToken))
		if err != nil || !f.Revoked {
			t.Fatalf("family after reuse: %+v, %v", f, err)
		}
	})

	t.Run("newer generation from another replica is read", func(t *testing.T) {
		b := h.replica()
		tok := h.tokens("alice", "openid", "offline_access")
		status, onA := refreshOn(h, tok.RefreshToken)
		if status != 200 {
			t.Fatalf("refresh on A: %d %v", status, onA)
		}
		status, onB := refreshOn(b, onA["refresh_token"].(string))
		if status != 200 {
			t.Fatalf("refresh on B: %d %v", status, onB)
		}
		if status, body := refreshOn(h, onB["refresh_token"].(string)); status != 200 {
			t.Fatalf("B's token on A: %d %v", status, body)
		}
	})
}
