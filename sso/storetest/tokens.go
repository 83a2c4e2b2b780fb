package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var tokenTests = []test{
	{"FamilyRoundTrip", testFamilyRoundTrip},
	{"AccessOnlyFamily", testAccessOnlyFamily},
	{"FamilyUnknownExpired", testFamilyUnknownExpired},
	{"FamilyConflict", testFamilyConflict},
	{"LegacyRefreshTokenUnknown", testLegacyUnknown},
	{"RevokeAccessToken", testRevokeAccessToken},
	{"CodeConsumedOnce", testCodeConsumedOnce},
	{"CodeUnknown", testCodeUnknown},
	{"CodeConsumedConcurrently", testCodeConsumedConcurrently},
	{"CodeOfSessionNotHeld", testCodeOfSessionNotHeld},
	{"IssueIsAtomic", testIssueIsAtomic},
	{"RevokeFamily", testRevokeFamily},
	{"RevokeGrantsBySubject", testRevokeGrantsBySubject},
	{"RevokeGrantsBySubjectAndClient", testRevokeGrantsBySubjectAndClient},
	{"RevokeGrantsByClient", testRevokeGrantsByClient},
	{"RevokeGrantsClosesPending", testRevokeGrantsClosesPending},
	{"ListRefreshTokens", testListRefreshTokens},
	{"FamilyResources", testFamilyResources},
}

// NewRefreshToken returns a new family with its first refresh token, ending in a day.
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

// NewAccessFamily returns a new family of a grant that issued an access token only (no refresh
// token), ending in an hour.
func (h *H) NewAccessFamily() *sso.RefreshToken {
	f := h.NewRefreshToken()
	f.Hash, f.ExpiresAt = "", h.Now.Add(time.Hour)
	return f
}

// Grant issues a new family with a refresh token for subject and client and returns it as stored.
func (h *H) Grant(subject, client string) *sso.RefreshToken {
	h.T.Helper()
	rt := h.NewRefreshToken()
	rt.Subject, rt.ClientID = subject, client
	NoErr(h.T, h.S.IssueTokens(h.Ctx, sso.Issue{Family: rt}), "IssueTokens(grant)")
	return rt
}

// MustFamily returns the stored family.
func (h *H) MustFamily(id string) *sso.RefreshToken {
	h.T.Helper()
	f, err := h.S.Family(h.Ctx, id)
	NoErr(h.T, err, "Family")
	return f
}

// Revoked tells whether the family is revoked (a purged or unknown family fails the test).
func (h *H) Revoked(id string) bool {
	h.T.Helper()
	return h.MustFamily(id).Revoked
}

func testFamilyRoundTrip(t *testing.T, h *H) {
	want := h.NewRefreshToken()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: want}), "IssueTokens")
	Equal(t, h.MustFamily(want.FamilyID), want, "Family")
}

func testAccessOnlyFamily(t *testing.T, h *H) {
	want := h.NewAccessFamily()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: want}), "IssueTokens")
	Equal(t, h.MustFamily(want.FamilyID), want, "Family")
	l, err := h.S.ListRefreshTokens(h.Ctx, "", "")
	NoErr(t, err, "ListRefreshTokens")
	if len(l) != 0 {
		t.Fatalf("ListRefreshTokens lists a family without a refresh token: %+v", l[0])
	}
	n, err := h.S.RevokeGrants(h.Ctx, want.Subject, "")
	NoErr(t, err, "RevokeGrants")
	if n != 0 {
		t.Fatalf("RevokeGrants counted %d refresh families, want 0", n)
	}
	if !h.Revoked(want.FamilyID) {
		t.Fatal("RevokeGrants left an access-only family live")
	}
}

func testFamilyUnknownExpired(t *testing.T, h *H) {
	_, err := h.S.Family(h.Ctx, RandomID())
	IsErr(t, err, sso.ErrNotFound, "Family(unknown)")
	f := h.NewRefreshToken()
	f.CreatedAt, f.ExpiresAt = h.Now.Add(-2*time.Hour), h.Now.Add(-time.Hour)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens(expired family)")
	_, err = h.S.Family(h.Ctx, f.FamilyID)
	IsErr(t, err, sso.ErrNotFound, "Family(expired)")
}

func testFamilyConflict(t *testing.T, h *H) {
	f := h.NewRefreshToken()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
	dup := h.NewRefreshToken()
	dup.FamilyID = f.FamilyID
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: dup}), sso.ErrConflict, "IssueTokens with a family id in use")
	Equal(t, h.MustFamily(f.FamilyID), f, "Family after a conflict")
}

func testLegacyUnknown(t *testing.T, h *H) {
	f := h.NewRefreshToken()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
	_, err := h.S.LegacyRefreshToken(h.Ctx, f.Hash)
	IsErr(t, err, sso.ErrNotFound, "LegacyRefreshToken of a family's current token")
	_, err = h.S.LegacyRefreshToken(h.Ctx, RandomID())
	IsErr(t, err, sso.ErrNotFound, "LegacyRefreshToken(unknown)")
}

func testRevokeAccessToken(t *testing.T, h *H) {
	id := RandomID()
	revoked := func() bool {
		t.Helper()
		r, err := h.S.AccessTokenRevoked(h.Ctx, id)
		NoErr(t, err, "AccessTokenRevoked")
		return r
	}
	if revoked() {
		t.Fatal("a token never revoked is revoked")
	}
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, id, h.Now.Add(time.Hour)), "RevokeAccessToken")
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, id, h.Now.Add(time.Hour)), "RevokeAccessToken again")
	if !revoked() {
		t.Fatal("a revoked token is not revoked")
	}
	other := RandomID()
	NoErr(t, h.S.RevokeAccessToken(h.Ctx, other, h.Now.Add(-time.Second)), "RevokeAccessToken(expired)")
	r, err := h.S.AccessTokenRevoked(h.Ctx, other)
	NoErr(t, err, "AccessTokenRevoked(expired)")
	if r {
		t.Fatal("an expired revocation still counts")
	}
}

func testCodeConsumedOnce(t *testing.T, h *H) {
	r, codeHash := h.CreateCode()
	f := h.NewAccessFamily()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: f}), "IssueTokens")
	again := h.NewRefreshToken()
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: again}), sso.ErrCodeConsumed,
		"IssueTokens with the code again")
	_, err := h.S.Family(h.Ctx, again.FamilyID)
	IsErr(t, err, sso.ErrNotFound, "the family of the refused replay")
	h.MustFamily(f.FamilyID)
}

// testCodeOfSessionNotHeld (review s22 X-1): a code is exchanged only while the session its
// request names is held and not ended. Purge deletes an ended session at its next run (every
// minute), so a sign-out and a purge landing between the provider's early session read and the
// exchange leave the code naming a session the store no longer holds: refused as an ended one
// (ErrSessionEnded), nothing written, the code left as it was. So is a session never stored,
// and one that expired (at the store's clock) but is still held, not yet purged (session 23
// P7: only the provider's early read refused it before). A request that names no session is
// not refused for it.
func testCodeOfSessionNotHeld(t *testing.T, h *H) {
	for _, tc := range []struct {
		name       string
		sessionID  func() string
		wantRefuse bool
	}{
		{"live", func() string { return h.CreateSession("sub").ID }, false},
		{"ended", func() string {
			s := h.CreateSession("sub")
			NoErr(t, h.S.EndSession(h.Ctx, s.ID), "EndSession")
			return s.ID
		}, true},
		{"ended then purged", func() string {
			s := h.CreateSession("sub")
			NoErr(t, h.S.EndSession(h.Ctx, s.ID), "EndSession")
			_, err := h.S.Purge(h.Ctx, h.Now)
			NoErr(t, err, "Purge")
			return s.ID
		}, true},
		{"expired, held", func() string { return h.createExpiredSession("sub").ID }, true},
		{"never stored", RandomID, true},
		{"no session", func() string { return "" }, false},
	} {
		for _, offline := range []bool{false, true} {
			sessionID := tc.sessionID()
			r := h.completeAuthRequest("sub", sessionID)
			hash := RandomID()
			NoErr(t, h.S.SaveCode(h.Ctx, r.ID, hash, h.Now.Add(10*time.Minute)), "SaveCode")
			family := func() *sso.RefreshToken {
				f := h.NewAccessFamily()
				if offline {
					f = h.NewRefreshToken()
				}
				f.Subject, f.SessionID = "sub", sessionID
				return f
			}
			f := family()
			err := h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: hash, ConsumeCodeRequest: r.ID, Family: f})
			if !tc.wantRefuse {
				NoErr(t, err, "IssueTokens (%s, offline %v)", tc.name, offline)
				h.MustFamily(f.FamilyID)
				continue
			}
			IsErr(t, err, sso.ErrSessionEnded, "IssueTokens (%s, offline %v)", tc.name, offline)
			_, err = h.S.Family(h.Ctx, f.FamilyID)
			IsErr(t, err, sso.ErrNotFound, "the family of a refused code (%s, offline %v)", tc.name, offline)
			// The code was left as it was: refused again for its session, not as a replay.
			IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: hash, ConsumeCodeRequest: r.ID, Family: family()}),
				sso.ErrSessionEnded, "IssueTokens again (%s, offline %v)", tc.name, offline)
		}
	}
}

func testCodeUnknown(t *testing.T, h *H) {
	f := h.NewRefreshToken()
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: RandomID(), ConsumeCodeRequest: RandomID(), Family: f}), sso.ErrNotFound,
		"IssueTokens with an unknown code")
	_, err := h.S.Family(h.Ctx, f.FamilyID)
	IsErr(t, err, sso.ErrNotFound, "the family of a refused grant")
}

func testCodeConsumedConcurrently(t *testing.T, h *H) {
	r, codeHash := h.CreateCode()
	const n = 20
	fams := make([]*sso.RefreshToken, n)
	for i := range n {
		fams[i] = h.NewRefreshToken()
	}
	errs := Parallel(n, func(i int) error {
		return h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: fams[i]})
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
		_, err := h.S.Family(h.Ctx, fams[i].FamilyID)
		if i == winner {
			NoErr(t, err, "winner's Family")
		} else {
			IsErr(t, err, sso.ErrNotFound, "loser %d's Family", i)
		}
	}
}

// testIssueIsAtomic: when a later write of the grant fails, the code stays unconsumed.
func testIssueIsAtomic(t *testing.T, h *H) {
	req, codeHash := h.CreateCode()
	existing := h.NewRefreshToken()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: existing}), "IssueTokens")

	dup := h.NewRefreshToken()
	dup.FamilyID = existing.FamilyID
	err := h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: req.ID, Family: dup})
	IsErr(t, err, sso.ErrConflict, "IssueTokens with a duplicate family id")
	r, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode")
	if r.CodeConsumed {
		t.Fatal("the code was consumed by a failed grant")
	}
	// The same grant with a fresh family goes through.
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: req.ID, Family: h.NewRefreshToken()}), "IssueTokens retry")
}

func testRevokeFamily(t *testing.T, h *H) {
	rt := h.Grant("subject-a", "client-a")
	other := h.Grant("subject-a", "client-a")
	NoErr(t, h.S.RevokeFamily(h.Ctx, rt.FamilyID), "RevokeFamily")
	NoErr(t, h.S.RevokeFamily(h.Ctx, rt.FamilyID), "RevokeFamily again")
	NoErr(t, h.S.RevokeFamily(h.Ctx, RandomID()), "RevokeFamily(unknown)")
	if !h.Revoked(rt.FamilyID) {
		t.Fatal("family not revoked")
	}
	if h.Revoked(other.FamilyID) {
		t.Fatal("another family of the same grant revoked")
	}
	_, err := h.Rotate(rt, h.Now, 0)
	IsErr(t, err, sso.ErrTokenRevoked, "rotating a revoked family")
}

func testRevokeGrantsBySubject(t *testing.T, h *H) {
	a1 := h.Grant("alice", "client-1")
	a2 := h.Grant("alice", "client-2")
	rotated := h.Grant("alice", "client-1")
	_, err := h.Rotate(rotated, h.Now, 0)
	NoErr(t, err, "Rotate")
	dead := h.Grant("alice", "client-2")
	NoErr(t, h.S.RevokeFamily(h.Ctx, dead.FamilyID), "RevokeFamily")
	access := h.NewAccessFamily()
	access.Subject = "alice"
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: access}), "IssueTokens(access only)")
	b := h.Grant("bob", "client-1")

	n, err := h.S.RevokeGrants(h.Ctx, "alice", "")
	NoErr(t, err, "RevokeGrants")
	if n != 3 {
		t.Fatalf("RevokeGrants = %d, want 3 (live families with a refresh token)", n)
	}
	for _, f := range []*sso.RefreshToken{a1, a2, rotated, dead, access} {
		if !h.Revoked(f.FamilyID) {
			t.Fatalf("alice's family %s not revoked", f.FamilyID)
		}
	}
	if h.Revoked(b.FamilyID) {
		t.Fatal("bob's family revoked")
	}
	n, err = h.S.RevokeGrants(h.Ctx, "alice", "")
	NoErr(t, err, "RevokeGrants again")
	if n != 0 {
		t.Fatalf("RevokeGrants again = %d, want 0", n)
	}
	SomeErr(t, func() error { _, err := h.S.RevokeGrants(h.Ctx, "", ""); return err }(), "RevokeGrants without a subject")
}

func testRevokeGrantsBySubjectAndClient(t *testing.T, h *H) {
	a1 := h.Grant("alice", "client-1")
	a2 := h.Grant("alice", "client-2")
	n, err := h.S.RevokeGrants(h.Ctx, "alice", "client-1")
	NoErr(t, err, "RevokeGrants")
	if n != 1 {
		t.Fatalf("RevokeGrants = %d, want 1", n)
	}
	if !h.Revoked(a1.FamilyID) || h.Revoked(a2.FamilyID) {
		t.Fatal("RevokeGrants(alice, client-1) revoked the wrong families")
	}
}

// testRevokeGrantsByClient: a client's grants of every subject are revoked, its access-only
// families too (review s16 X16-3: an app's access tokens must die with it), and no other
// client's; neither subject nor client is refused.
func testRevokeGrantsByClient(t *testing.T, h *H) {
	a1 := h.Grant("alice", "client-1")
	b1 := h.Grant("bob", "client-1")
	a2 := h.Grant("alice", "client-2")
	access := h.NewAccessFamily()
	access.Subject, access.ClientID = "carol", "client-1"
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: access}), "IssueTokens(access-only)")
	n, err := h.S.RevokeGrants(h.Ctx, "", "client-1")
	NoErr(t, err, "RevokeGrants(client-1)")
	if n != 2 {
		t.Fatalf("RevokeGrants(\"\", client-1) = %d, want 2 (families with a refresh token)", n)
	}
	if !h.Revoked(a1.FamilyID) || !h.Revoked(b1.FamilyID) || !h.Revoked(access.FamilyID) {
		t.Fatal("RevokeGrants by client left a family of the client live")
	}
	if h.Revoked(a2.FamilyID) {
		t.Fatal("RevokeGrants by client revoked another client's family")
	}
	if _, err := h.S.RevokeGrants(h.Ctx, "", ""); err == nil {
		t.Fatal("RevokeGrants with neither subject nor client accepted")
	}
	if !h.Revoked(a1.FamilyID) || h.Revoked(a2.FamilyID) {
		t.Fatal("RevokeGrants(\"\", \"\") changed something")
	}
}

func families(l []*sso.RefreshToken) []string {
	out := make([]string, 0, len(l))
	for _, t := range l {
		out = append(out, t.FamilyID)
	}
	return out
}

func testListRefreshTokens(t *testing.T, h *H) {
	a1 := h.Grant("alice", "client-1")
	a2 := h.Grant("alice", "client-2")
	b1 := h.Grant("bob", "client-1")
	rotated, err := h.Rotate(h.Grant("bob", "client-2"), h.Now.Add(time.Second), 0)
	NoErr(t, err, "Rotate")
	dead := h.Grant("carol", "client-1")
	NoErr(t, h.S.RevokeFamily(h.Ctx, dead.FamilyID), "RevokeFamily")
	expired := h.NewRefreshToken()
	expired.ExpiresAt = h.Now.Add(-time.Second)
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: expired}), "IssueTokens(expired)")

	for _, c := range []struct {
		subject, client string
		want            []*sso.RefreshToken
	}{
		{"", "", []*sso.RefreshToken{a1, a2, b1, rotated}},
		{"alice", "", []*sso.RefreshToken{a1, a2}},
		{"", "client-1", []*sso.RefreshToken{a1, b1}},
		{"bob", "client-2", []*sso.RefreshToken{rotated}},
		{"carol", "", nil},
	} {
		got, err := h.S.ListRefreshTokens(h.Ctx, c.subject, c.client)
		NoErr(t, err, "ListRefreshTokens(%q, %q)", c.subject, c.client)
		SameSet(t, families(got), families(c.want), "ListRefreshTokens(%q, %q)", c.subject, c.client)
		for _, g := range got {
			if g.FamilyID == rotated.FamilyID {
				Equal(t, g, rotated, "the listed rotated family")
			}
		}
	}
}

// testFamilyResources: a family whose grant is bound to resources (RFC 8707) keeps them, in
// order, as its Audience, through rotation and the family cache's source (Family), with and
// without a refresh token; RefreshToken.Resources then names them, and a family whose Audience
// is its client's id (every family before session 19) names none: the client's whole set.
func testFamilyResources(t *testing.T, h *H) {
	res := []string{"https://orders.example.org/api", "https://billing.example.org/"}
	for _, f := range []*sso.RefreshToken{h.NewRefreshToken(), h.NewAccessFamily()} {
		f.Audience = res
		NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
		got := h.MustFamily(f.FamilyID)
		Equal(t, got.Audience, res, "Audience of a family bound to resources")
		Equal(t, got.Resources(), res, "Resources of a family bound to resources")
		if f.Hash == "" {
			continue
		}
		NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Rotate: &sso.Rotation{FamilyID: f.FamilyID, Generation: 0,
			OldHash: f.Hash, NewHash: RandomID(), Now: h.Now}}), "IssueTokens(rotate)")
		Equal(t, h.MustFamily(f.FamilyID).Audience, res, "Audience after a rotation")
	}
	plain := h.NewRefreshToken()
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: plain}), "IssueTokens")
	if got := h.MustFamily(plain.FamilyID); got.Resources() != nil {
		t.Fatalf("Resources of a family whose Audience is its client: %q", got.Resources())
	}
}

// codeOf creates a done auth request of subject at client with an unexchanged code, and
// returns the request and the code's hash.
func (h *H) codeOf(subject, client string) (*sso.AuthRequest, string) {
	h.T.Helper()
	r := h.NewAuthRequest()
	r.ClientID = client
	NoErr(h.T, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	c := sso.Completion{Subject: subject, AuthTime: h.Now, AMR: []string{"pwd"}, SessionID: h.CreateSession(subject).ID}
	NoErr(h.T, h.S.CompleteAuthRequest(h.Ctx, r.ID, c), "CompleteAuthRequest")
	codeHash := RandomID()
	NoErr(h.T, h.S.SaveCode(h.Ctx, r.ID, codeHash, h.Now.Add(10*time.Minute)), "SaveCode")
	return r, codeHash
}

// testRevokeGrantsClosesPending: the grants a revocation names that are not redeemed yet
// close with its families (review s22 X-3: "Sign out of <app>" and "withdraw" after approving
// a device code by mistake): the member's approved device authorization of that client is
// no longer approved (its poll gets access_denied, ConsumeDeviceAuthorization ErrNotFound), the
// member's unexchanged code of that client is consumed; another member's, another client's and
// a pending (undecided) authorization are untouched.
func testRevokeGrantsClosesPending(t *testing.T, h *H) {
	client := "app-" + RandomID()[:8]
	mine, theirs, elsewhere := h.codeOf0("alice", client), h.codeOf0("bob", client), h.codeOf0("alice", "other-"+client)
	ds, devices := h.S.(sso.DeviceStore)
	var dMine, dTheirs, dElsewhere, dPending *sso.DeviceAuthorization
	if devices {
		approve := func(subject, client string) *sso.DeviceAuthorization {
			d := NewDevice(h.Now)
			d.ClientID = client
			NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create device authorization")
			NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: subject, SessionID: RandomID()}, h.Now), "approve")
			return d
		}
		dMine, dTheirs, dElsewhere = approve("alice", client), approve("bob", client), approve("alice", "other-"+client)
		dPending = NewDevice(h.Now)
		dPending.ClientID = client
		NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, dPending), "create pending device authorization")
	}
	_, err := h.S.RevokeGrants(h.Ctx, "alice", client)
	NoErr(t, err, "RevokeGrants")

	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: mine.hash, ConsumeCodeRequest: mine.id, Family: h.NewAccessFamily()}),
		sso.ErrCodeConsumed, "exchange of the member's code of the app after RevokeGrants")
	for _, c := range []pendingCode{theirs, elsewhere} {
		NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: c.hash, ConsumeCodeRequest: c.id, Family: h.NewAccessFamily()}),
			"exchange of a code RevokeGrants did not name")
	}
	if !devices {
		return
	}
	got, err := ds.PollDeviceAuthorization(h.Ctx, dMine.DeviceCodeHash, dMine.ClientID, h.Now)
	NoErr(t, err, "poll of the member's device authorization")
	if got.State != sso.DeviceDenied {
		t.Errorf("the member's approved device authorization of the app is %q after RevokeGrants, want %q", got.State, sso.DeviceDenied)
	}
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, dMine.DeviceCodeHash, dMine.ClientID, h.Now), sso.ErrNotFound,
		"consume the member's device authorization after RevokeGrants")
	for _, d := range []*sso.DeviceAuthorization{dTheirs, dElsewhere} {
		NoErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now), "consume a device authorization RevokeGrants did not name")
	}
	got, err = ds.PollDeviceAuthorization(h.Ctx, dPending.DeviceCodeHash, dPending.ClientID, h.Now)
	NoErr(t, err, "poll of the pending device authorization")
	if got.State != sso.DevicePending {
		t.Errorf("an undecided device authorization is %q after RevokeGrants, want %q", got.State, sso.DevicePending)
	}
}

type pendingCode struct{ id, hash string }

func (h *H) codeOf0(subject, client string) pendingCode {
	r, hash := h.codeOf(subject, client)
	return pendingCode{r.ID, hash}
}
