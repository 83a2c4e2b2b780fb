package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var rotationTests = []test{
	{"RotateOnce", testRotateOnce},
	{"RotateChain", testRotateChain},
	{"StrictReuse", testStrictReuse},
	{"RetryWithinGrace", testRetryWithinGrace},
	{"ReuseAfterGrace", testReuseAfterGrace},
	{"ReuseOtherSuccessor", testReuseOtherSuccessor},
	{"ReuseOlderGeneration", testReuseOlderGeneration},
	{"ConcurrentRetryWithinGrace", testConcurrentRetryWithinGrace},
	{"ConcurrentStrictRotation", testConcurrentStrictRotation},
	{"RotateUnknownOrExpired", testRotateUnknownOrExpired},
	{"RotateWrongToken", testRotateWrongToken},
}

// Rotation returns the rotation of family f from its current token to a new one at 'at'.
func Rotation(f *sso.RefreshToken, at time.Time, grace time.Duration) *sso.Rotation {
	return &sso.Rotation{FamilyID: f.FamilyID, Generation: f.Generation, OldHash: f.Hash, NewHash: RandomID(), Now: at, Grace: grace}
}

// Applied returns f as a successful rotation r leaves it.
func Applied(f *sso.RefreshToken, r *sso.Rotation) *sso.RefreshToken {
	n := *f
	n.Generation, n.Hash, n.RotatedAt = r.Generation+1, r.NewHash, r.Now
	return &n
}

// Rotate rotates the family from its current token at 'at' and returns it as it should now be
// stored.
func (h *H) Rotate(f *sso.RefreshToken, at time.Time, grace time.Duration) (*sso.RefreshToken, error) {
	r := Rotation(f, at, grace)
	if err := h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}); err != nil {
		return nil, err
	}
	return Applied(f, r), nil
}

func testRotateOnce(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	next, err := h.Rotate(f, h.Now.Add(time.Second), 0)
	NoErr(t, err, "Rotate")
	got := h.MustFamily(f.FamilyID)
	Equal(t, got, next, "Family after a rotation")
	if got.Generation != 1 || got.Hash == f.Hash {
		t.Fatalf("after a rotation: generation %d hash %s", got.Generation, got.Hash)
	}
}

func testRotateChain(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	for i := range 5 {
		next, err := h.Rotate(f, h.Now.Add(time.Duration(i+1)*time.Second), time.Second)
		NoErr(t, err, "Rotate %d", i)
		f = next
	}
	Equal(t, h.MustFamily(f.FamilyID), f, "Family after five rotations")
}

// testStrictReuse: with no grace, the same rotation presented twice is reuse.
func testStrictReuse(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	r := Rotation(f, h.Now, 0)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}), "Rotate")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}), sso.ErrRefreshReused, "the same rotation again")
	if !h.Revoked(f.FamilyID) {
		t.Fatal("reuse left the family live")
	}
}

func testRetryWithinGrace(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	r := Rotation(f, h.Now, 5*time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}), "Rotate")
	retry := *r
	retry.Now = h.Now.Add(2 * time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &retry}), "retry within grace")
	Equal(t, h.MustFamily(f.FamilyID), Applied(f, r), "Family after a retry within grace")
}

func testReuseAfterGrace(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	r := Rotation(f, h.Now, 5*time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}), "Rotate")
	late := *r
	late.Now = h.Now.Add(6 * time.Second)
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &late}), sso.ErrRefreshReused, "retry after grace")
	if !h.Revoked(f.FamilyID) {
		t.Fatal("reuse left the family live")
	}
}

func testReuseOtherSuccessor(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	r := Rotation(f, h.Now, 5*time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}), "Rotate")
	other := *r
	other.NewHash = RandomID()
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &other}), sso.ErrRefreshReused, "another successor within grace")
	if !h.Revoked(f.FamilyID) {
		t.Fatal("reuse left the family live")
	}
}

func testReuseOlderGeneration(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	first := Rotation(f, h.Now, 5*time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: first}), "Rotate")
	_, err := h.Rotate(Applied(f, first), h.Now, 5*time.Second)
	NoErr(t, err, "Rotate again")
	// The first rotation again, within grace: the family has moved on twice since.
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: first}), sso.ErrRefreshReused, "a token two generations back")
	if !h.Revoked(f.FamilyID) {
		t.Fatal("reuse left the family live")
	}
}

func testConcurrentRetryWithinGrace(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	r := Rotation(f, h.Now, 5*time.Second)
	for i, err := range Parallel(10, func(int) error { return h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: r}) }) {
		NoErr(t, err, "concurrent retry %d", i)
	}
	Equal(t, h.MustFamily(f.FamilyID), Applied(f, r), "Family after concurrent retries")
}

// testConcurrentStrictRotation: strict rotation raced by the same token: one wins, the others
// are reuse, and the family ends revoked.
func testConcurrentStrictRotation(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	rots := make([]*sso.Rotation, 10)
	for i := range rots {
		rots[i] = Rotation(f, h.Now, 0)
	}
	won := 0
	for i, err := range Parallel(len(rots), func(i int) error { return h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: rots[i]}) }) {
		switch {
		case err == nil:
			won++
		case errors.Is(err, sso.ErrRefreshReused), errors.Is(err, sso.ErrTokenRevoked):
		default:
			t.Fatalf("rotation %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent rotations of one token succeeded, want 1", won)
	}
	if !h.Revoked(f.FamilyID) {
		t.Fatal("a raced strict rotation left the family live")
	}
}

func testRotateUnknownOrExpired(t *testing.T, h *H) {
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: Rotation(h.NewRefreshToken(), h.Now, 0)}), sso.ErrNotFound, "rotating an unknown family")
	f := h.Grant("alice", "client-1")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: Rotation(f, f.ExpiresAt.Add(time.Second), 0)}), sso.ErrNotFound,
		"rotating an expired family")
	Equal(t, h.MustFamily(f.FamilyID), f, "Family after a refused rotation")
}

func testRotateWrongToken(t *testing.T, h *H) {
	f := h.Grant("alice", "client-1")
	wrong := Rotation(f, h.Now, 0)
	wrong.OldHash = RandomID()
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: wrong}), sso.ErrNotFound, "rotating from another hash")
	future := Rotation(f, h.Now, 0)
	future.Generation = 3
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: future}), sso.ErrNotFound, "rotating from a future generation")
	noRefresh := h.NewAccessFamily()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: noRefresh}), "IssueTokens(access only)")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: Rotation(noRefresh, h.Now, 0)}), sso.ErrNotFound,
		"rotating a family without a refresh token")
	Equal(t, h.MustFamily(f.FamilyID), f, "Family after refused rotations")
}
