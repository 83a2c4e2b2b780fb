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
	{"ReuseAfterGraceKillsFamily", testReuseAfterGrace},
	{"ReuseWithOtherSuccessorKillsFamily", testReuseOtherSuccessor},
	{"RetryWithinGrace", testRetryWithinGrace},
	{"ConcurrentRetryWithinGrace", testConcurrentRetryWithinGrace},
	{"RotateRevoked", testRotateRevoked},
	{"RotateUnknownOrExpired", testRotateUnknownOrExpired},
	{"RotateWithCode", testRotateWithCode},
	{"StrictReuseAtOnce", testStrictReuseAtOnce},
}

const grace = 5 * time.Second

// Rotate rotates old to a fresh successor at 'at' with the suite's grace and returns the
// successor and the access token issued with it, and the IssueTokens error.
func (h *H) Rotate(old *sso.RefreshToken, at time.Time) (*sso.RefreshToken, sso.AccessToken, error) {
	next := Successor(old, at)
	a := h.NewAccessToken(old.FamilyID)
	a.Subject, a.ClientID, a.CreatedAt = old.Subject, old.ClientID, at
	err := h.S.IssueTokens(h.Ctx, sso.Issue{
		Rotate: &sso.RotateFrom{OldHash: old.Hash, Now: at, Grace: grace},
		Access: a, Refresh: next,
	})
	return next, a, err
}

func testRotateOnce(t *testing.T, h *H) {
	rt, _ := h.Grant("alice", "client-1")
	at := h.Now.Add(time.Minute)
	next, a, err := h.Rotate(rt, at)
	NoErr(t, err, "rotate")

	old := h.MustRefresh(rt.Hash)
	if !old.RotatedAt.Equal(at) || old.SuccessorHash != next.Hash || old.Revoked {
		t.Fatalf("old token after rotation: RotatedAt %v (want %v), SuccessorHash %q (want %q), Revoked %v",
			old.RotatedAt, at, old.SuccessorHash, next.Hash, old.Revoked)
	}
	Equal(t, h.MustRefresh(next.Hash), next, "successor")
	if !next.ExpiresAt.Equal(rt.ExpiresAt) {
		t.Fatal("test bug: the successor must keep the family's end")
	}
	got, err := h.S.AccessToken(h.Ctx, a.IDHash)
	NoErr(t, err, "AccessToken of the rotation")
	Equal(t, got, &a, "AccessToken of the rotation")
}

func testRotateChain(t *testing.T, h *H) {
	rt, _ := h.Grant("alice", "client-1")
	cur := rt
	for i := range 5 {
		next, _, err := h.Rotate(cur, h.Now.Add(time.Duration(i+1)*time.Minute))
		NoErr(t, err, "rotation %d", i+1)
		cur = next
	}
	l, err := h.S.ListRefreshTokens(h.Ctx, "alice", "")
	NoErr(t, err, "ListRefreshTokens")
	SameSet(t, hashes(l), []string{cur.Hash}, "current token of a rotated family")
}

// assertFamilyDead checks that every given refresh token is revoked, every access token is
// revoked, and that nothing of the family is listed.
func (h *H) assertFamilyDead(refresh []string, access []string) {
	h.T.Helper()
	for _, hash := range refresh {
		if !h.MustRefresh(hash).Revoked {
			h.T.Fatalf("refresh token %s… of the reused family is not revoked", hash[:8])
		}
	}
	for _, id := range access {
		IsErr(h.T, h.AccessState(id), sso.ErrTokenRevoked, "AccessToken of the reused family")
	}
}

func testReuseAfterGrace(t *testing.T, h *H) {
	rt, a0 := h.Grant("alice", "client-1")
	t1 := h.Now.Add(time.Minute)
	next, a1, err := h.Rotate(rt, t1)
	NoErr(t, err, "first rotation")
	other, otherAT := h.Grant("alice", "client-1")

	// The old token comes back after the grace window, e.g. stolen: the family dies.
	replay, replayAT, err := h.Rotate(rt, t1.Add(grace+time.Second))
	IsErr(t, err, sso.ErrRefreshReused, "replay after grace")
	h.assertFamilyDead([]string{rt.Hash, next.Hash}, []string{a0.IDHash, a1.IDHash})
	_, err = h.S.RefreshToken(h.Ctx, replay.Hash)
	IsErr(t, err, sso.ErrNotFound, "the replay's successor")
	IsErr(t, h.AccessState(replayAT.IDHash), sso.ErrNotFound, "the replay's access token")

	// The legitimate successor is dead too.
	_, _, err = h.Rotate(next, t1.Add(2*grace))
	IsErr(t, err, sso.ErrTokenRevoked, "rotating the successor of a reused token")
	// Another family of the same subject and client lives on.
	if h.MustRefresh(other.Hash).Revoked {
		t.Fatal("another family was revoked")
	}
	NoErr(t, h.AccessState(otherAT.IDHash), "AccessToken of another family")
	l, err := h.S.ListRefreshTokens(h.Ctx, "alice", "client-1")
	NoErr(t, err, "ListRefreshTokens")
	SameSet(t, hashes(l), []string{other.Hash}, "ListRefreshTokens after reuse")
}

func testReuseOtherSuccessor(t *testing.T, h *H) {
	rt, a0 := h.Grant("alice", "client-1")
	next, a1, err := h.Rotate(rt, h.Now)
	NoErr(t, err, "first rotation")
	// Within the grace window but to another successor: not a retry of the same grant.
	_, _, err = h.Rotate(rt, h.Now.Add(time.Second))
	IsErr(t, err, sso.ErrRefreshReused, "reuse within grace with another successor")
	h.assertFamilyDead([]string{rt.Hash, next.Hash}, []string{a0.IDHash, a1.IDHash})

	// The same successor after the grace window is a reuse too.
	rt2, _ := h.Grant("alice", "client-1")
	next2, _, err := h.Rotate(rt2, h.Now)
	NoErr(t, err, "rotation")
	a := h.NewAccessToken(rt2.FamilyID)
	err = h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt2.Hash, Now: h.Now.Add(grace + time.Second),
		Grace: grace}, Access: a, Refresh: next2})
	IsErr(t, err, sso.ErrRefreshReused, "same successor after the grace window")
	h.assertFamilyDead([]string{rt2.Hash, next2.Hash}, nil)
}

func testRetryWithinGrace(t *testing.T, h *H) {
	rt, a0 := h.Grant("alice", "client-1")
	t1 := h.Now.Add(time.Minute)
	next, a1, err := h.Rotate(rt, t1)
	NoErr(t, err, "first rotation")

	// The client lost the response and retries: the provider derives the same successor.
	a2 := h.NewAccessToken(rt.FamilyID)
	err = h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: t1.Add(grace / 2), Grace: grace},
		Access: a2, Refresh: next})
	NoErr(t, err, "retry within grace")
	Equal(t, h.MustRefresh(next.Hash), next, "successor after the retry")
	old := h.MustRefresh(rt.Hash)
	if !old.RotatedAt.Equal(t1) || old.SuccessorHash != next.Hash || old.Revoked {
		t.Fatalf("old token after retry: RotatedAt %v (want %v), successor %q, Revoked %v", old.RotatedAt, t1, old.SuccessorHash, old.Revoked)
	}
	for _, id := range []string{a0.IDHash, a1.IDHash, a2.IDHash} {
		NoErr(t, h.AccessState(id), "AccessToken after a retry")
	}
	l, err := h.S.ListRefreshTokens(h.Ctx, "alice", "")
	NoErr(t, err, "ListRefreshTokens")
	SameSet(t, hashes(l), []string{next.Hash}, "ListRefreshTokens after a retry")
}

func testConcurrentRetryWithinGrace(t *testing.T, h *H) {
	rt, _ := h.Grant("alice", "client-1")
	next := Successor(rt, h.Now)
	const n = 8
	access := make([]sso.AccessToken, n)
	for i := range access {
		access[i] = h.NewAccessToken(rt.FamilyID)
	}
	errs := Parallel(n, func(i int) error {
		return h.S.IssueTokens(h.Ctx, sso.Issue{
			Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: h.Now.Add(time.Duration(i) * time.Millisecond), Grace: grace},
			Access: access[i], Refresh: next,
		})
	})
	for i, err := range errs {
		NoErr(t, err, "concurrent retry %d", i)
		NoErr(t, h.AccessState(access[i].IDHash), "AccessToken of retry %d", i)
	}
	old := h.MustRefresh(rt.Hash)
	if old.SuccessorHash != next.Hash || old.Revoked {
		t.Fatalf("old token: successor %q (want %q), revoked %v", old.SuccessorHash, next.Hash, old.Revoked)
	}
	Equal(t, h.MustRefresh(next.Hash), next, "the single successor")
}

func testRotateRevoked(t *testing.T, h *H) {
	rt, _ := h.Grant("alice", "client-1")
	NoErr(t, h.S.RevokeFamily(h.Ctx, rt.FamilyID), "RevokeFamily")
	next, a, err := h.Rotate(rt, h.Now)
	IsErr(t, err, sso.ErrTokenRevoked, "rotating a revoked token")
	_, err = h.S.RefreshToken(h.Ctx, next.Hash)
	IsErr(t, err, sso.ErrNotFound, "successor of a revoked token")
	IsErr(t, h.AccessState(a.IDHash), sso.ErrNotFound, "AccessToken of a refused rotation")

	// Revoked by RevokeGrants, and already rotated: still ErrTokenRevoked, not a reuse.
	rt2, _ := h.Grant("bob", "client-1")
	_, _, err = h.Rotate(rt2, h.Now)
	NoErr(t, err, "rotation")
	_, err = h.S.RevokeGrants(h.Ctx, "bob", "")
	NoErr(t, err, "RevokeGrants")
	_, _, err = h.Rotate(rt2, h.Now.Add(time.Hour))
	IsErr(t, err, sso.ErrTokenRevoked, "reusing a rotated token of a revoked family")
}

func testRotateUnknownOrExpired(t *testing.T, h *H) {
	ghost := h.NewRefreshToken()
	next, a, err := h.Rotate(ghost, h.Now)
	IsErr(t, err, sso.ErrNotFound, "rotating an unknown token")
	_, err = h.S.RefreshToken(h.Ctx, next.Hash)
	IsErr(t, err, sso.ErrNotFound, "successor of an unknown token")
	IsErr(t, h.AccessState(a.IDHash), sso.ErrNotFound, "AccessToken of a refused rotation")

	// Expired as of RotateFrom.Now.
	rt, _ := h.Grant("alice", "client-1")
	_, _, err = h.Rotate(rt, rt.ExpiresAt.Add(time.Second))
	IsErr(t, err, sso.ErrNotFound, "rotating an expired token")
	if got := h.MustRefresh(rt.Hash); !got.RotatedAt.IsZero() || got.Revoked {
		t.Fatal("a refused rotation changed the old token")
	}
}

// testRotateWithCode: ConsumeCodeHash and Rotate fail together (nothing written).
func testRotateWithCode(t *testing.T, h *H) {
	_, codeHash := h.CreateCode()
	rt, _ := h.Grant("alice", "client-1")
	NoErr(t, h.S.RevokeFamily(h.Ctx, rt.FamilyID), "RevokeFamily")
	next := Successor(rt, h.Now)
	err := h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash,
		Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: h.Now, Grace: grace},
		Access: h.NewAccessToken(rt.FamilyID), Refresh: next})
	if !errors.Is(err, sso.ErrTokenRevoked) {
		t.Fatalf("IssueTokens = %v, want ErrTokenRevoked", err)
	}
	r, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode")
	if r.CodeConsumed {
		t.Fatal("a failed grant consumed the code")
	}
}

// testStrictReuseAtOnce: with Grace 0 (strict rotation), presenting a rotated token again, even
// at the same instant and for the same successor, revokes the family.
func testStrictReuseAtOnce(t *testing.T, h *H) {
	rt, a0 := h.Grant("alice", "client-1")
	next := Successor(rt, h.Now)
	a1 := h.NewAccessToken(rt.FamilyID)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: h.Now}, Access: a1, Refresh: next}), "rotation")
	a2 := h.NewAccessToken(rt.FamilyID)
	err := h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: h.Now}, Access: a2, Refresh: next})
	IsErr(t, err, sso.ErrRefreshReused, "strict: the same rotation again at once")
	h.assertFamilyDead([]string{rt.Hash, next.Hash}, []string{a0.IDHash, a1.IDHash})
}
