package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// testKeysExtend: ExtendSigningKey only ever moves a live key's ExpiresAt later (a token
// lifetime raised after the key was made), leaves other keys alone, brings no expired key back,
// and Purge then keeps the key until the later time.
func testKeysExtend(t *testing.T, h *H) {
	k, other := NewKey(h.Now), NewKey(h.Now.Add(time.Second)) // published until Now+48h (oldest first)
	doomed := NewKey(h.Now.Add(-49 * time.Hour))
	for _, x := range []*sso.StoredKey{k, other, doomed} {
		NoErr(t, h.S.AddSigningKey(h.Ctx, x), "AddSigningKey")
	}
	extend := func(id string, at time.Time, want error, what string) {
		t.Helper()
		if want == nil {
			NoErr(t, h.S.ExtendSigningKey(h.Ctx, id, at), "ExtendSigningKey(%s)", what)
		} else {
			IsErr(t, h.S.ExtendSigningKey(h.Ctx, id, at), want, "ExtendSigningKey(%s)", what)
		}
	}
	check := func(what string, want ...*sso.StoredKey) {
		t.Helper()
		l, err := h.S.SigningKeys(h.Ctx)
		NoErr(t, err, "SigningKeys")
		Equal(t, l, want, "SigningKeys after %s", what)
	}

	extend(k.ID, h.Now.Add(72*time.Hour), nil, "later")
	k.ExpiresAt = h.Now.Add(72 * time.Hour)
	check("an extension", k, other)
	extend(k.ID, h.Now.Add(60*time.Hour), nil, "earlier than stored")
	extend(k.ID, h.Now.Add(time.Hour), nil, "before sign_until")
	extend(k.ID, k.ExpiresAt, nil, "the same")
	check("earlier extensions (never shortened)", k, other)
	extend("no-such-key", h.Now.Add(72*time.Hour), sso.ErrNotFound, "unknown")
	extend(doomed.ID, h.Now.Add(72*time.Hour), sso.ErrNotFound, "expired")
	check("extending an expired key (not brought back)", k, other)

	h.purge(h.Now.Add(50*time.Hour), 2) // doomed, and other (published until Now+48h)
	check("Purge past the first expiry (the extended key kept)", k)
}

// testKeysExtendConcurrently: replicas extending one key at once to different times leave the
// latest (expires_at = max(expires_at, ?), not the last writer's).
func testKeysExtendConcurrently(t *testing.T, h *H) {
	k := NewKey(h.Now)
	NoErr(t, h.S.AddSigningKey(h.Ctx, k), "AddSigningKey")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The latest is the fourth; the others race it, before and after.
			at := h.Now.Add(time.Duration(60+(i*5)%8) * time.Hour)
			if i == 3 {
				at = h.Now.Add(80 * time.Hour)
			}
			errs[i] = h.S.ExtendSigningKey(h.Ctx, k.ID, at)
		}()
	}
	wg.Wait()
	NoErr(t, errors.Join(errs...), "concurrent ExtendSigningKey")
	k.ExpiresAt = h.Now.Add(80 * time.Hour)
	l, err := h.S.SigningKeys(h.Ctx)
	NoErr(t, err, "SigningKeys")
	Equal(t, l, []*sso.StoredKey{k}, "SigningKeys after concurrent extensions (the latest kept)")
}
