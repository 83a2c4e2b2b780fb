package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

func init() {
	samlTests = append(samlTests,
		test{"KeyRetire", testSAMLKeyRetire},
		test{"KeyRetireRaces", testSAMLKeyRetireRaces},
		test{"KeyRetireRotationRace", testSAMLKeyRetireRotationRace},
	)
}

func newSAMLKey(id string, from, signUntil, expires time.Time) *store.SAMLKey {
	return &store.SAMLKey{ID: id, CertDER: []byte("cert " + id), PrivateEnc: []byte("sealed " + id), CreatedAt: from,
		SignUntil: signUntil, ExpiresAt: expires}
}

func (h *H) samlKeyIDs(t *testing.T) []string {
	t.Helper()
	keys, err := h.S.SAMLKeys(h.Ctx)
	ssotest.NoErr(t, err, "SAMLKeys")
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	return ids
}

// testSAMLKeyRetire: RetireSAMLKey withdraws a key at once (SAMLKeys no longer returns it, a
// second withdrawal does not find it, a rotation does not count it, Purge deletes it) and
// stores its successor in the same call; keys that are unknown, expired or withdrawn are not
// found, a successor whose id exists is refused, and nothing is changed then.
func testSAMLKeyRetire(t *testing.T, h *H) {
	suspect := newSAMLKey("suspect", h.Now.Add(-time.Hour), h.Now.Add(24*time.Hour), h.Now.Add(48*time.Hour)) // signs now
	next := newSAMLKey("next", h.Now.Add(24*time.Hour), h.Now.Add(96*time.Hour), h.Now.Add(120*time.Hour))    // published ahead
	before := newSAMLKey("before", h.Now.Add(-96*time.Hour), h.Now.Add(-time.Hour), h.Now.Add(time.Hour))     // published after
	expired := newSAMLKey("expired", h.Now.Add(-96*time.Hour), h.Now.Add(-3*time.Hour), h.Now.Add(-2*time.Hour))
	for _, k := range []*store.SAMLKey{suspect, next, before, expired} {
		ssotest.NoErr(t, h.S.AddSAMLKey(h.Ctx, k), "AddSAMLKey(%s)", k.ID)
	}
	check := func(what string, want ...string) {
		t.Helper()
		if got := h.samlKeyIDs(t); !slices.Equal(got, want) {
			t.Fatalf("SAMLKeys after %s = %v, want %v", what, got, want)
		}
	}
	check("setting up", "before", "suspect", "next")

	successor := newSAMLKey("successor", h.Now.Add(-time.Minute), h.Now.Add(72*time.Hour), h.Now.Add(96*time.Hour))
	ssotest.NoErr(t, h.S.RetireSAMLKey(h.Ctx, suspect.ID, successor), "RetireSAMLKey(the signing key, with a successor)")
	check("the signing key was withdrawn", "before", "successor", "next")
	keys, err := h.S.SAMLKeys(h.Ctx)
	ssotest.NoErr(t, err, "SAMLKeys")
	if s := keys[1]; !s.CreatedAt.Equal(successor.CreatedAt) || !s.SignUntil.Equal(successor.SignUntil) ||
		!s.ExpiresAt.Equal(successor.ExpiresAt) || string(s.CertDER) != "cert successor" || string(s.PrivateEnc) != "sealed successor" || s.Withdrawn() {
		t.Fatalf("the successor stored = %+v, want %+v", s, successor)
	}
	ssotest.IsErr(t, h.S.RetireSAMLKey(h.Ctx, suspect.ID, newSAMLKey("second", h.Now, h.Now.Add(time.Hour), h.Now.Add(2*time.Hour))),
		sso.ErrNotFound, "RetireSAMLKey(withdrawn already)")
	check("withdrawing it again (no second successor)", "before", "successor", "next")
	// A rotation's successor does not count the withdrawn key: it signed only until now.
	ssotest.IsErr(t, h.S.AddSAMLSuccessor(h.Ctx, newSAMLKey("rotated", h.Now.Add(time.Hour), h.Now.Add(48*time.Hour), h.Now.Add(49*time.Hour))),
		sso.ErrConflict, "AddSAMLSuccessor while the successor signs")

	ssotest.NoErr(t, h.S.RetireSAMLKey(h.Ctx, next.ID, nil), "RetireSAMLKey(published ahead, no successor)")
	ssotest.NoErr(t, h.S.RetireSAMLKey(h.Ctx, before.ID, nil), "RetireSAMLKey(signs no more, no successor)")
	check("the keys published ahead and after were withdrawn", "successor")

	ssotest.IsErr(t, h.S.RetireSAMLKey(h.Ctx, "no-such-key", newSAMLKey("s2", h.Now, h.Now.Add(time.Hour), h.Now.Add(2*time.Hour))),
		sso.ErrNotFound, "RetireSAMLKey(unknown)")
	ssotest.IsErr(t, h.S.RetireSAMLKey(h.Ctx, expired.ID, newSAMLKey("s3", h.Now, h.Now.Add(time.Hour), h.Now.Add(2*time.Hour))),
		sso.ErrNotFound, "RetireSAMLKey(expired)")
	check("withdrawing unknown and expired keys (no successor stored)", "successor")

	clash := newSAMLKey(expired.ID, h.Now, h.Now.Add(time.Hour), h.Now.Add(2*time.Hour))
	ssotest.IsErr(t, h.S.RetireSAMLKey(h.Ctx, successor.ID, clash), sso.ErrConflict, "RetireSAMLKey(a successor whose id exists)")
	check("a withdrawal whose successor clashed (nothing withdrawn)", "successor")

	// Purge at a moment before any live key's end deletes the withdrawn ones and the expired
	// one only.
	n, err := h.S.Purge(h.Ctx, h.Now.Add(time.Minute))
	ssotest.NoErr(t, err, "Purge")
	if n < 4 {
		t.Fatalf("Purge deleted %d rows, want the 3 withdrawn keys and the expired one", n)
	}
	check("Purge", "successor")
}

// testSAMLKeyRetireRaces: operators withdrawing one key at once store one successor between
// them; a replica's rotation at the same moment stores no second signing key beside it.
func testSAMLKeyRetireRaces(t *testing.T, h *H) {
	k := newSAMLKey("suspect", h.Now.Add(-time.Hour), h.Now.Add(time.Hour), h.Now.Add(2*time.Hour))
	ssotest.NoErr(t, h.S.AddSAMLKey(h.Ctx, k), "AddSAMLKey")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		won     []string
		rotated []string
		errs    []error
		begin   = make(chan struct{})
	)
	for i := range 8 {
		id := ssotest.RandomID()
		wg.Go(func() {
			<-begin
			var err error
			if i%2 == 0 {
				err = h.S.RetireSAMLKey(h.Ctx, k.ID, newSAMLKey(id, h.Now.Add(-time.Minute), h.Now.Add(72*time.Hour), h.Now.Add(96*time.Hour)))
			} else {
				// A rotation: the successor of the suspect key, from its sign_until.
				err = h.S.AddSAMLSuccessor(h.Ctx, newSAMLKey(id, k.SignUntil, k.SignUntil.Add(72*time.Hour), k.SignUntil.Add(96*time.Hour)))
			}
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && i%2 == 0:
				won = append(won, id)
			case err == nil:
				rotated = append(rotated, id)
			case i%2 == 0 && errors.Is(err, sso.ErrNotFound), i%2 == 1 && errors.Is(err, sso.ErrConflict):
			default:
				errs = append(errs, err)
			}
		})
	}
	close(begin)
	wg.Wait()
	ssotest.NoErr(t, errors.Join(errs...), "concurrent RetireSAMLKey and AddSAMLSuccessor")
	if len(won) != 1 || len(rotated) > 1 {
		t.Fatalf("%d withdrawals and %d rotations succeeded, want 1 and at most 1", len(won), len(rotated))
	}
	want := append(won, rotated...) // the successor signs from a minute ago, a rotated key from later
	if got := h.samlKeyIDs(t); !slices.Equal(got, want) {
		t.Fatalf("SAMLKeys after the race = %v, want %v (the withdrawal's successor, and a rotation's key stored before it)", got, want)
	}
}

// testSAMLKeyRetireRotationRace is sso/storetest's RetireRotationRace for the SAML keys
// (final read R2-5): a rotation (a replica's AddSAMLSuccessor, from the signing key's
// SignUntil) and a withdrawal of that key with its successor, at once, end as if run one after
// the other, round after round: the withdrawal always stores its successor; a rotation that
// comes second finds it signing and stores nothing (ErrConflict), one that came first has
// stored its key, published ahead of its turn beside the successor. Never two keys made by
// rotations, never no successor. Each round starts with no live key (the last round's are
// withdrawn: they sign no more, so the next rotation does not count them).
func testSAMLKeyRetireRotationRace(t *testing.T, h *H) {
	for round := range 12 {
		for _, id := range h.samlKeyIDs(t) {
			ssotest.NoErr(t, h.S.RetireSAMLKey(h.Ctx, id, nil), "round %d: RetireSAMLKey(%s) to start afresh", round, id)
		}
		k := newSAMLKey(ssotest.RandomID(), h.Now.Add(-time.Hour), h.Now.Add(time.Hour), h.Now.Add(2*time.Hour))
		ssotest.NoErr(t, h.S.AddSAMLKey(h.Ctx, k), "AddSAMLKey")
		successor := newSAMLKey(ssotest.RandomID(), h.Now.Add(-time.Minute), h.Now.Add(72*time.Hour), h.Now.Add(96*time.Hour))
		next := newSAMLKey(ssotest.RandomID(), k.SignUntil, k.SignUntil.Add(72*time.Hour), k.SignUntil.Add(96*time.Hour))
		var (
			wg                 sync.WaitGroup
			retireErr, rotated error
			begin              = make(chan struct{})
		)
		wg.Go(func() { <-begin; retireErr = h.S.RetireSAMLKey(h.Ctx, k.ID, successor) })
		wg.Go(func() { <-begin; rotated = h.S.AddSAMLSuccessor(h.Ctx, next) })
		close(begin)
		wg.Wait()
		ssotest.NoErr(t, retireErr, "round %d: RetireSAMLKey racing a rotation", round)
		want := []string{successor.ID} // SAMLKeys is oldest first: the successor signs from a minute ago
		switch {
		case rotated == nil:
			want = append(want, next.ID)
		case !errors.Is(rotated, sso.ErrConflict):
			t.Fatalf("round %d: AddSAMLSuccessor racing a withdrawal: %v, want nil or ErrConflict", round, rotated)
		}
		if got := h.samlKeyIDs(t); !slices.Equal(got, want) {
			t.Fatalf("round %d: SAMLKeys after the race = %v, want %v (rotation: %v)", round, got, want, rotated)
		}
	}
}
