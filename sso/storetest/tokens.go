package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var tokenTests = []test{
	{"AccessTokenRoundTrip", testAccessTokenRoundTrip},
	{"ClientCredentialsToken", testClientCredentialsToken},
	{"AccessTokenUnknownExpired", testAccessTokenUnknownExpired},
	{"RevokeAccessToken", testRevokeAccessToken},
	{"AccessTokenConflict", testAccessTokenConflict},
	{"RefreshTokenRoundTrip", testRefreshTokenRoundTrip},
	{"RefreshTokenUnknownExpired", testRefreshTokenUnknownExpired},
	{"CodeConsumedOnce", testCodeConsumedOnce},
	{"CodeUnknown", testCodeUnknown},
	{"CodeConsumedConcurrently", testCodeConsumedConcurrently},
	{"IssueIsAtomic", testIssueIsAtomic},
	{"RevokeFamily", testRevokeFamily},
	{"RevokeGrantsBySubject", testRevokeGrantsBySubject},
	{"RevokeGrantsBySubjectAndClient", testRevokeGrantsBySubjectAndClient},
	{"ListRefreshTokens", testListRefreshTokens},
}

// NewAccessToken returns a user's access token valid for an hour, issued with the refresh family
// (empty for none).
func (h *H) NewAccessToken(family string) sso.AccessToken {
	return sso.AccessToken{
		IDHash:    RandomID(),
		ClientID:  "client-a",
		Subject:   "subject-a",
		Audience:  []string{"client-a", "https://api.example.org"},
		Scopes:    []string{"openid", "profile", "offline_access"},
		FamilyID:  family,
		SessionID: "session-a",
		AuthTime:  h.Now.Add(-time.Minute),
		AMR:       []string{"pwd"},
		CreatedAt: h.Now,
		ExpiresAt: h.Now.Add(time.Hour),
	}
}

// NewRefreshToken returns the first refresh token of a new family ending in a day.
func (h *H) NewRefreshToken() *sso.RefreshToken {
	return &sso.RefreshToken{
		Hash:      RandomID(),
		FamilyID:  RandomID(),
		ClientID:  "client-a",
		Subject:   "subject-a",
		Audience:  []string{"client-a"},
		Scopes:    []string{"openid", "offline_access"},
		SessionID: "session-a",
		AuthTime:  h.Now.Add(-time.Minute),
		AMR:       []string{"pwd"},
		CreatedAt: h.Now,
		ExpiresAt: h.Now.Add(24 * time.Hour),
	}
}

// Successor returns the next refresh token of rt's family, created at 'at'.
func Successor(rt *sso.RefreshToken, at time.Time) *sso.RefreshToken {
	n := *rt
	n.Hash, n.CreatedAt, n.RotatedAt, n.SuccessorHash, n.Revoked = RandomID(), at, time.Time{}, "", false
	return &n
}

// Grant issues a new refresh family for subject and client with one access token and returns
// both as stored.
func (h *H) Grant(subject, client string) (*sso.RefreshToken, sso.AccessToken) {
	h.T.Helper()
	rt := h.NewRefreshToken()
	rt.Subject, rt.ClientID = subject, client
	at := h.NewAccessToken(rt.FamilyID)
	at.Subject, at.ClientID = subject, client
	NoErr(h.T, h.S.IssueTokens(h.Ctx, sso.Issue{Access: at, Refresh: rt}), "IssueTokens(grant)")
	return rt, at
}

// AccessState returns nil for a live access token, or the lookup error.
func (h *H) AccessState(idHash string) error {
	_, err := h.S.AccessToken(h.Ctx, idHash)
	return err
}

// MustRefresh returns the stored refresh token.
func (h *H) MustRefresh(hash string) *sso.RefreshToken {
	h.T.Helper()
	rt, err := h.S.RefreshToken(h.Ctx, hash)
	NoErr(h.T, err, "RefreshToken")
	return rt
}

func testAccessTokenRoundTrip(t *testing.T, h *H) {
	want := h.NewAccessToken(RandomID())
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: want}), "IssueTokens")
	got, err := h.S.AccessToken(h.Ctx, want.IDHash)
	NoErr(t, err, "AccessToken")
	Equal(t, got, &want, "AccessToken")
}

func testClientCredentialsToken(t *testing.T, h *H) {
	want := sso.AccessToken{IDHash: RandomID(), ClientID: "machine", Audience: []string{"https://api.example.org"},
		Scopes: []string{"api.read"}, CreatedAt: h.Now, ExpiresAt: h.Now.Add(5 * time.Minute)}
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: want}), "IssueTokens")
	got, err := h.S.AccessToken(h.Ctx, want.IDHash)
	NoErr(t, err, "AccessToken")
	Equal(t, got, &want, "client_credentials AccessToken")
}

func testAccessTokenUnknownExpired(t *testing.T, h *H) {
	IsErr(t, h.AccessState(RandomID()), sso.ErrNotFound, "AccessToken(unknown)")
	a := h.NewAccessToken("")
	a.CreatedAt, a.ExpiresAt = h.Now.Add(-2*time.Hour), h.Now.Add(-time.Hour)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: a}), "IssueTokens(expired access)")
	IsErr(t, h.AccessState(a.IDHash), sso.ErrNotFound, "AccessToken(expired)")
}

func testRevokeAccessToken(t *testing.T, h *H) {
	a, b := h.NewAccessToken(""), h.NewAccessToken("")
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: a}), "IssueTokens")
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: b}), "IssueTokens")
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, a.IDHash), "RevokeAccessToken")
	IsErr(t, h.AccessState(a.IDHash), sso.ErrTokenRevoked, "AccessToken(revoked)")
	NoErr(t, h.AccessState(b.IDHash), "another AccessToken")
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, a.IDHash), "RevokeAccessToken again (idempotent)")
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, RandomID()), "RevokeAccessToken(unknown)")
}

func testAccessTokenConflict(t *testing.T, h *H) {
	a := h.NewAccessToken("")
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: a}), "IssueTokens")
	b := h.NewAccessToken("")
	b.IDHash, b.Subject = a.IDHash, "someone-else"
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: b}), sso.ErrConflict, "IssueTokens with an existing access id")
	got, err := h.S.AccessToken(h.Ctx, a.IDHash)
	NoErr(t, err, "AccessToken")
	Equal(t, got, &a, "the first access token is unchanged")
}

func testRefreshTokenRoundTrip(t *testing.T, h *H) {
	rt := h.NewRefreshToken()
	at := h.NewAccessToken(rt.FamilyID)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: at, Refresh: rt}), "IssueTokens")
	Equal(t, h.MustRefresh(rt.Hash), rt, "RefreshToken")
	got, err := h.S.AccessToken(h.Ctx, at.IDHash)
	NoErr(t, err, "AccessToken")
	Equal(t, got, &at, "AccessToken issued with the refresh token")
}

func testRefreshTokenUnknownExpired(t *testing.T, h *H) {
	_, err := h.S.RefreshToken(h.Ctx, RandomID())
	IsErr(t, err, sso.ErrNotFound, "RefreshToken(unknown)")
	rt := h.NewRefreshToken()
	rt.CreatedAt, rt.ExpiresAt = h.Now.Add(-48*time.Hour), h.Now.Add(-time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: h.NewAccessToken(rt.FamilyID), Refresh: rt}), "IssueTokens(expired refresh)")
	_, err = h.S.RefreshToken(h.Ctx, rt.Hash)
	IsErr(t, err, sso.ErrNotFound, "RefreshToken(expired)")
	if l, err := h.S.ListRefreshTokens(h.Ctx, rt.Subject, ""); err != nil || len(l) != 0 {
		t.Fatalf("ListRefreshTokens = %d tokens, %v; want none", len(l), err)
	}
}

func testCodeConsumedOnce(t *testing.T, h *H) {
	_, codeHash := h.CreateCode()
	rt := h.NewRefreshToken()
	at := h.NewAccessToken(rt.FamilyID)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, Access: at, Refresh: rt}), "IssueTokens(code)")
	NoErr(t, h.AccessState(at.IDHash), "AccessToken of the code grant")
	h.MustRefresh(rt.Hash)

	// The replay writes nothing.
	rt2 := h.NewRefreshToken()
	at2 := h.NewAccessToken(rt2.FamilyID)
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, Access: at2, Refresh: rt2}),
		sso.ErrCodeConsumed, "IssueTokens(replayed code)")
	IsErr(t, h.AccessState(at2.IDHash), sso.ErrNotFound, "AccessToken of the replay")
	_, err := h.S.RefreshToken(h.Ctx, rt2.Hash)
	IsErr(t, err, sso.ErrNotFound, "RefreshToken of the replay")
	// ... and leaves the first grant alone (revoking it on replay is the caller's decision).
	NoErr(t, h.AccessState(at.IDHash), "AccessToken of the code grant after the replay")
}

func testCodeUnknown(t *testing.T, h *H) {
	at := h.NewAccessToken("")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: RandomID(), Access: at}), sso.ErrNotFound,
		"IssueTokens(unknown code)")
	IsErr(t, h.AccessState(at.IDHash), sso.ErrNotFound, "AccessToken of a refused grant")
}

func testCodeConsumedConcurrently(t *testing.T, h *H) {
	_, codeHash := h.CreateCode()
	const n = 20
	access := make([]sso.AccessToken, n)
	refresh := make([]*sso.RefreshToken, n)
	for i := range n {
		refresh[i] = h.NewRefreshToken()
		access[i] = h.NewAccessToken(refresh[i].FamilyID)
	}
	errs := Parallel(n, func(i int) error {
		return h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, Access: access[i], Refresh: refresh[i]})
	})
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("goroutines %d and %d both exchanged the code", winner, i)
			}
			winner = i
		case errors.Is(err, sso.ErrCodeConsumed):
		default:
			t.Fatalf("goroutine %d: got %v, want nil or ErrCodeConsumed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine exchanged the code")
	}
	for i := range n {
		accessErr := h.AccessState(access[i].IDHash)
		_, refreshErr := h.S.RefreshToken(h.Ctx, refresh[i].Hash)
		if i == winner {
			NoErr(t, accessErr, "winner's AccessToken")
			NoErr(t, refreshErr, "winner's RefreshToken")
		} else {
			IsErr(t, accessErr, sso.ErrNotFound, "loser %d's AccessToken", i)
			IsErr(t, refreshErr, sso.ErrNotFound, "loser %d's RefreshToken", i)
		}
	}
}

// testIssueIsAtomic: when a later write of the grant fails, the code stays unconsumed.
func testIssueIsAtomic(t *testing.T, h *H) {
	_, codeHash := h.CreateCode()
	existing := h.NewAccessToken("")
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: existing}), "IssueTokens")

	dup := h.NewAccessToken("")
	dup.IDHash = existing.IDHash
	rt := h.NewRefreshToken()
	err := h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, Access: dup, Refresh: rt})
	IsErr(t, err, sso.ErrConflict, "IssueTokens with a duplicate access id")
	r, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode")
	if r.CodeConsumed {
		t.Fatal("the code was consumed by a failed grant")
	}
	_, err = h.S.RefreshToken(h.Ctx, rt.Hash)
	IsErr(t, err, sso.ErrNotFound, "RefreshToken of the failed grant")

	// The same grant with a fresh access id goes through.
	ok := h.NewAccessToken(rt.FamilyID)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, Access: ok, Refresh: rt}), "IssueTokens retry")
}

func testRevokeFamily(t *testing.T, h *H) {
	rt, at := h.Grant("subject-a", "client-a")
	next := Successor(rt, h.Now.Add(time.Second))
	at2 := h.NewAccessToken(rt.FamilyID)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: h.Now.Add(time.Second),
		Grace: time.Second}, Access: at2, Refresh: next}), "IssueTokens(rotate)")
	other, otherAT := h.Grant("subject-a", "client-a")

	NoErr(t, h.S.RevokeFamily(h.Ctx, rt.FamilyID), "RevokeFamily")
	for _, hash := range []string{rt.Hash, next.Hash} {
		if got := h.MustRefresh(hash); !got.Revoked {
			t.Fatalf("refresh token of the revoked family: Revoked = false")
		}
	}
	IsErr(t, h.AccessState(at.IDHash), sso.ErrTokenRevoked, "first AccessToken of the revoked family")
	IsErr(t, h.AccessState(at2.IDHash), sso.ErrTokenRevoked, "second AccessToken of the revoked family")
	if got := h.MustRefresh(other.Hash); got.Revoked {
		t.Fatal("another family was revoked")
	}
	NoErr(t, h.AccessState(otherAT.IDHash), "AccessToken of another family")
	NoErr(t, h.S.RevokeFamily(h.Ctx, rt.FamilyID), "RevokeFamily again (idempotent)")
}

func testRevokeGrantsBySubject(t *testing.T, h *H) {
	a1, a1at := h.Grant("alice", "client-1")
	a2, a2at := h.Grant("alice", "client-2")
	// A rotated family still counts once.
	next := Successor(a2, h.Now)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: a2.Hash, Now: h.Now, Grace: time.Second},
		Access: h.NewAccessToken(a2.FamilyID), Refresh: next}), "IssueTokens(rotate)")
	// An access token without a family (e.g. issued by a code grant without offline_access).
	lone := h.NewAccessToken("")
	lone.Subject, lone.ClientID = "alice", "client-3"
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: lone}), "IssueTokens")
	b1, b1at := h.Grant("bob", "client-1")

	n, err := h.S.RevokeGrants(h.Ctx, "alice", "")
	NoErr(t, err, "RevokeGrants(alice)")
	if n != 2 {
		t.Fatalf("RevokeGrants(alice) = %d families, want 2", n)
	}
	for _, hash := range []string{a1.Hash, a2.Hash, next.Hash} {
		if !h.MustRefresh(hash).Revoked {
			t.Fatal("a refresh token of alice is not revoked")
		}
	}
	for _, id := range []string{a1at.IDHash, a2at.IDHash, lone.IDHash} {
		IsErr(t, h.AccessState(id), sso.ErrTokenRevoked, "an AccessToken of alice")
	}
	if h.MustRefresh(b1.Hash).Revoked {
		t.Fatal("bob's refresh token was revoked")
	}
	NoErr(t, h.AccessState(b1at.IDHash), "bob's AccessToken")

	n, err = h.S.RevokeGrants(h.Ctx, "alice", "")
	NoErr(t, err, "RevokeGrants(alice) again")
	if n != 0 {
		t.Fatalf("RevokeGrants(alice) again = %d families, want 0", n)
	}
	n, err = h.S.RevokeGrants(h.Ctx, "nobody", "")
	NoErr(t, err, "RevokeGrants(unknown subject)")
	if n != 0 {
		t.Fatalf("RevokeGrants(unknown subject) = %d, want 0", n)
	}
}

func testRevokeGrantsBySubjectAndClient(t *testing.T, h *H) {
	a1, a1at := h.Grant("alice", "client-1")
	a1b, _ := h.Grant("alice", "client-1")
	a2, a2at := h.Grant("alice", "client-2")
	b1, b1at := h.Grant("bob", "client-1")

	n, err := h.S.RevokeGrants(h.Ctx, "alice", "client-1")
	NoErr(t, err, "RevokeGrants(alice, client-1)")
	if n != 2 {
		t.Fatalf("RevokeGrants(alice, client-1) = %d families, want 2", n)
	}
	if !h.MustRefresh(a1.Hash).Revoked || !h.MustRefresh(a1b.Hash).Revoked {
		t.Fatal("alice's client-1 refresh tokens are not revoked")
	}
	IsErr(t, h.AccessState(a1at.IDHash), sso.ErrTokenRevoked, "alice's client-1 AccessToken")
	if h.MustRefresh(a2.Hash).Revoked || h.MustRefresh(b1.Hash).Revoked {
		t.Fatal("RevokeGrants(alice, client-1) revoked another client's or subject's refresh token")
	}
	NoErr(t, h.AccessState(a2at.IDHash), "alice's client-2 AccessToken")
	NoErr(t, h.AccessState(b1at.IDHash), "bob's client-1 AccessToken")
}

func hashes(l []*sso.RefreshToken) []string {
	out := make([]string, len(l))
	for i, rt := range l {
		out[i] = rt.Hash
	}
	return out
}

func testListRefreshTokens(t *testing.T, h *H) {
	a1, _ := h.Grant("alice", "client-1")
	a2, _ := h.Grant("alice", "client-2")
	b1, _ := h.Grant("bob", "client-1")
	// Rotated: only the successor is listed.
	r, _ := h.Grant("alice", "client-1")
	next := Successor(r, h.Now)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: r.Hash, Now: h.Now, Grace: time.Second},
		Access: h.NewAccessToken(r.FamilyID), Refresh: next}), "IssueTokens(rotate)")
	// Revoked and expired families are not listed.
	rev, _ := h.Grant("alice", "client-1")
	NoErr(t, h.S.RevokeFamily(h.Ctx, rev.FamilyID), "RevokeFamily")
	exp := h.NewRefreshToken()
	exp.Subject, exp.ClientID, exp.ExpiresAt = "alice", "client-1", h.Now.Add(-time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Access: h.NewAccessToken(exp.FamilyID), Refresh: exp}), "IssueTokens(expired)")

	for _, c := range []struct {
		subject, client string
		want            []string
	}{
		{"", "", []string{a1.Hash, a2.Hash, b1.Hash, next.Hash}},
		{"alice", "", []string{a1.Hash, a2.Hash, next.Hash}},
		{"", "client-1", []string{a1.Hash, b1.Hash, next.Hash}},
		{"alice", "client-1", []string{a1.Hash, next.Hash}},
		{"bob", "client-2", nil},
		{"nobody", "", nil},
	} {
		l, err := h.S.ListRefreshTokens(h.Ctx, c.subject, c.client)
		NoErr(t, err, "ListRefreshTokens(%q, %q)", c.subject, c.client)
		SameSet(t, hashes(l), c.want, "ListRefreshTokens(%q, %q)", c.subject, c.client)
	}
	l, err := h.S.ListRefreshTokens(h.Ctx, "bob", "client-1")
	NoErr(t, err, "ListRefreshTokens")
	if len(l) != 1 {
		t.Fatalf("ListRefreshTokens(bob, client-1) = %d tokens, want 1", len(l))
	}
	Equal(t, l[0], b1, "listed refresh token")
}
