package storetest

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// sessionTests are the conformance tests of store.SessionStore: sessions found by their
// browser's cookie and signed in again by their member (review s10 V8).
var sessionTests = []test{
	{"ByCookie", testSessionByCookie},
	{"Reauthenticate", testReauthenticate},
	{"ReauthenticateRace", testReauthenticateRace},
	{"ReauthenticateWithSignIn", testReauthenticateWithSignIn},
	{"ReauthenticateSignInNotPending", testReauthenticateSignInNotPending},
	{"ReauthenticateSignInEnded", testReauthenticateSignInEnded},
	{"ReauthenticateSignInMismatch", testReauthenticateSignInMismatch},
	{"MoveUpstreamReplaces", testMoveUpstreamReplaces},
	{"EndRevokesSessionBoundGrants", testEndRevokesSessionBoundGrants},
	{"CodeOfEndedSession", testCodeOfEndedSession},
	{"CodeExchangeRacesEnd", testCodeExchangeRacesEnd},
	{"LeaveClient", testLeaveClient},
	{"SignOutOfClient", testSignOutOfClient},
	{"SignOutOfClientRacesSignIn", testSignOutOfClientRacesSignIn},
}

// testLeaveClient: LeaveClient takes a client out of every live session of the member (the
// account page's "Sign out of <app> on all your devices", brief s22 H2 item 2), not out of
// another member's, nor another client out of theirs; ended sessions are not counted; a later
// AddSessionClient puts it back.
func testLeaveClient(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	both := h.createSession(sub, "portal", "other")
	one := h.createSession(sub, "portal")
	ended := h.createSession(sub, "portal")
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, ended.ID), "EndSession")
	stranger := h.createSession(ssotest.RandomID(), "portal")

	n, err := h.S.LeaveClient(h.Ctx, sub, "portal")
	ssotest.NoErr(t, err, "LeaveClient")
	if n != 2 {
		t.Fatalf("LeaveClient took the client out of %d sessions, want 2 (the live ones)", n)
	}
	clients := func(id string) []string {
		t.Helper()
		s, err := h.S.Session(h.Ctx, id)
		ssotest.NoErr(t, err, "Session")
		return s.Clients
	}
	if c := clients(both.ID); !slices.Equal(c, []string{"other"}) {
		t.Fatalf("the session with two clients keeps %v, want [other]", c)
	}
	if c := clients(one.ID); len(c) != 0 {
		t.Fatalf("the session keeps %v, want none", c)
	}
	if c := clients(stranger.ID); !slices.Equal(c, []string{"portal"}) {
		t.Fatalf("another member's session keeps %v, want [portal]", c)
	}
	if n, err := h.S.LeaveClient(h.Ctx, sub, "portal"); err != nil || n != 0 {
		t.Fatalf("LeaveClient again: %d %v, want 0", n, err)
	}
	// Signed in there again: the client is back.
	ssotest.NoErr(t, h.S.AddSessionClient(h.Ctx, one.ID, "portal", h.Now), "AddSessionClient")
	if c := clients(one.ID); !slices.Equal(c, []string{"portal"}) {
		t.Fatalf("after signing in again the session has %v, want [portal]", c)
	}
}

// testEndRevokesSessionBoundGrants: every way the store ends a session revokes, in the same
// transaction, the session's grants that hold no refresh token (no offline_access: they last
// as long as the session, OIDC Core 11), so that their access tokens die with it (README
// "Security properties"; review s18 X18-5). The session's offline_access grant (a refresh
// token), the member's grants of another session or of none, and another member's are kept.
// The deactivations are left out: they revoke every grant of the member (Deactivation).
func testEndRevokesSessionBoundGrants(t *testing.T, h *H) {
	for _, tc := range h.bridgeSessionEnds() {
		if strings.Contains(tc.name, "Deactivate") {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			sub := ssotest.RandomID()
			sess := h.createSession(sub, "portal")
			sameOther := h.createSession(sub, "portal")
			stranger := h.createSession(ssotest.RandomID(), "portal")
			grant := func(s *sso.Session, sessionID string, offline bool) string {
				f := h.sso().NewRefreshToken()
				f.Subject, f.ClientID, f.Audience, f.SessionID = s.Subject, "portal", []string{"portal"}, sessionID
				if !offline {
					f = h.sso().NewAccessFamily()
					f.Subject, f.ClientID, f.Audience, f.SessionID, f.Scopes = s.Subject, "portal", []string{"portal"}, sessionID, []string{"openid", "profile"}
				}
				ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
				return f.FamilyID
			}
			bound, bound2 := grant(sess, sess.ID, false), grant(sess, sess.ID, false)
			offline := grant(sess, sess.ID, true)
			otherSession := grant(sameOther, sameOther.ID, false)
			noSession := grant(sess, "", false)
			strangers := grant(stranger, stranger.ID, false)

			ssotest.NoErr(t, tc.end(sess), "%s", tc.name)
			for _, c := range []struct {
				name, id string
				revoked  bool
			}{
				{"the session's grant without offline_access", bound, true},
				{"the session's second grant without offline_access", bound2, true},
				{"the session's offline_access grant", offline, false},
				// EndSubjectSessions ends the member's other sessions too.
				{"a grant of the member's other session", otherSession, tc.name == "EndSubjectSessions"},
				{"a grant of the member with no session", noSession, false},
				{"another member's grant", strangers, false},
			} {
				if got := h.sso().Revoked(c.id); got != c.revoked {
					t.Errorf("after %s, %s: revoked %v, want %v", tc.name, c.name, got, c.revoked)
				}
			}
			// Ending it again changes nothing.
			ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession again")
			if h.sso().Revoked(offline) {
				t.Error("ending the session again revoked its offline_access grant")
			}
		})
	}
}

// reauth is a re-authentication of sess by the browser presenting cookie key from.
func (h *H) reauth(sess *sso.Session, from string) *store.SessionReauth {
	return &store.SessionReauth{SessionID: sess.ID, Subject: sess.Subject, CookieKey: from, NewCookieKey: "ck-" + ssotest.RandomID(),
		AuthTime: h.Now.Add(time.Minute), AMR: []string{"pwd", "otp", "mfa"}, ExpiresAt: h.Now.Add(48 * time.Hour)}
}

// byCookie is the session key opens, or nil.
func (h *H) byCookie(key string) *sso.Session {
	h.T.Helper()
	s, err := h.S.SessionByCookie(h.Ctx, key)
	if errors.Is(err, sso.ErrNotFound) {
		return nil
	}
	ssotest.NoErr(h.T, err, "SessionByCookie")
	return s
}

// testSessionByCookie: a session never signed in again is opened by its id, and only while
// live.
func testSessionByCookie(t *testing.T, h *H) {
	sess := h.createSession("sub-c", "app-a", "app-b")
	got := h.byCookie(sess.ID)
	if got == nil || got.ID != sess.ID || got.Subject != "sub-c" || !slices.Equal(got.Clients, []string{"app-a", "app-b"}) {
		t.Fatalf("SessionByCookie(id) = %+v", got)
	}
	if h.byCookie("unknown") != nil || h.byCookie("") != nil {
		t.Error("SessionByCookie of an unknown key found a session")
	}
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	if h.byCookie(sess.ID) != nil {
		t.Error("SessionByCookie found an ended session")
	}
}

// testReauthenticate: the session keeps its id and clients and gets the new sign-in's auth
// time, amr and lifetime; the old cookie value opens nothing, the new one the session; a
// stale cookie value, another subject or an ended session change nothing.
func testReauthenticate(t *testing.T, h *H) {
	sess := h.createSession("sub-r", "app-a", "app-b")
	other := h.createSession("sub-other")
	r := h.reauth(sess, sess.ID)
	ssotest.NoErr(t, h.S.ReauthenticateSession(h.Ctx, r), "ReauthenticateSession")
	if h.byCookie(sess.ID) != nil {
		t.Error("the replaced cookie value still opens the session")
	}
	got := h.byCookie(r.NewCookieKey)
	if got == nil || got.ID != sess.ID || got.Subject != sess.Subject || !slices.Equal(got.Clients, []string{"app-a", "app-b"}) ||
		!got.AuthTime.Equal(r.AuthTime) || !slices.Equal(got.AMR, r.AMR) || !got.ExpiresAt.Equal(r.ExpiresAt) {
		t.Fatalf("session after the re-authentication: %+v", got)
	}
	if s, err := h.S.Session(h.Ctx, sess.ID); err != nil || !s.AuthTime.Equal(r.AuthTime) {
		t.Fatalf("Session(id) after the re-authentication: %v %v", s, err)
	}
	if h.byCookie(other.ID) == nil {
		t.Error("another session lost its cookie")
	}
	// The old cookie value again (replayed), another member: conflicts, nothing changes.
	stale := h.reauth(sess, sess.ID)
	ssotest.IsErr(t, h.S.ReauthenticateSession(h.Ctx, stale), sso.ErrConflict, "re-authentication with the replaced cookie value")
	wrong := h.reauth(sess, r.NewCookieKey)
	wrong.Subject = "sub-other"
	ssotest.IsErr(t, h.S.ReauthenticateSession(h.Ctx, wrong), sso.ErrConflict, "re-authentication as another member")
	if h.byCookie(r.NewCookieKey) == nil || h.byCookie(stale.NewCookieKey) != nil || h.byCookie(wrong.NewCookieKey) != nil {
		t.Fatal("a refused re-authentication changed the cookie key")
	}
	// Again from the current value: rotates once more; the lifetime never shrinks.
	r2 := h.reauth(sess, r.NewCookieKey)
	r2.ExpiresAt = h.Now.Add(time.Hour)
	ssotest.NoErr(t, h.S.ReauthenticateSession(h.Ctx, r2), "ReauthenticateSession again")
	if got := h.byCookie(r2.NewCookieKey); got == nil || !got.ExpiresAt.Equal(r.ExpiresAt) || h.byCookie(r.NewCookieKey) != nil {
		t.Fatalf("second re-authentication: %+v", got)
	}
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	ssotest.IsErr(t, h.S.ReauthenticateSession(h.Ctx, h.reauth(sess, r2.NewCookieKey)), sso.ErrNotFound, "re-authentication of an ended session")
	if h.byCookie(r2.NewCookieKey) != nil {
		t.Error("an ended session is still opened by its cookie")
	}
}

// testReauthenticateRace: two tabs signing the same session in again at once with the same
// cookie value: exactly one applies, the others conflict.
func testReauthenticateRace(t *testing.T, h *H) {
	sess := h.createSession("sub-race", "app-a")
	const n = 6
	errs := make([]error, n)
	rs := make([]*store.SessionReauth, n)
	var wg sync.WaitGroup
	for i := range n {
		rs[i] = h.reauth(sess, sess.ID)
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = h.S.ReauthenticateSession(h.Ctx, rs[i]) }()
	}
	wg.Wait()
	won := oneWinner(t, errs, sso.ErrConflict, "re-authentication")
	if h.byCookie(rs[won].NewCookieKey) == nil {
		t.Fatal("the winner's cookie opens nothing")
	}
}

// reauthSignIn is a sign-in of ar that signs sess in again from cookie key from.
func (h *H) reauthSignIn(ar *sso.AuthRequest, sess *sso.Session, from string) *store.SignIn {
	in := h.signIn(ar, "browser-a")
	r := h.reauth(sess, from)
	s := *sess
	s.AuthTime, s.AMR, s.ExpiresAt = r.AuthTime, r.AMR, r.ExpiresAt
	in.Session, in.Reauth = &s, r
	in.Audit.Subject = sess.Subject
	in.Completion.Subject, in.Completion.SessionID, in.Completion.AuthTime, in.Completion.AMR = sess.Subject, sess.ID, r.AuthTime, r.AMR
	return in
}

// testReauthenticateWithSignIn: CompleteSignIn with Reauth completes the request with the kept
// session (its id), adds the client to the session's and rotates the cookie key; with a stale
// cookie value it writes nothing (no audit row, the request still pending).
func testReauthenticateWithSignIn(t *testing.T, h *H) {
	sess := h.createSession("sub-s", "app-a")
	ar := h.boundRequest("browser-a")
	in := h.reauthSignIn(ar, sess, sess.ID)
	ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, in), "CompleteSignIn with a re-authentication")
	got, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if !got.Done || got.SessionID != sess.ID || !got.AuthTime.Equal(in.Reauth.AuthTime) {
		t.Errorf("request: done %v session %q auth time %v", got.Done, got.SessionID, got.AuthTime)
	}
	s := h.byCookie(in.Reauth.NewCookieKey)
	if s == nil || s.ID != sess.ID || !slices.Equal(s.Clients, []string{"app-a", ar.ClientID}) || !s.AuthTime.Equal(in.Reauth.AuthTime) {
		t.Fatalf("session after the sign-in: %+v", s)
	}
	if h.byCookie(sess.ID) != nil {
		t.Error("the replaced cookie value still opens the session")
	}
	if in.Audit.ID == 0 || h.auditRows(sess.Subject) != 1 {
		t.Errorf("audit row id %d, %d rows", in.Audit.ID, h.auditRows(sess.Subject))
	}
	// The replaced cookie value (a form sent again from a stale tab): nothing is written.
	ar2 := h.boundRequest("browser-a")
	stale := h.reauthSignIn(ar2, sess, sess.ID)
	ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, stale), sso.ErrConflict, "CompleteSignIn with a replaced cookie value")
	if got, err := h.S.AuthRequest(h.Ctx, ar2.ID); err != nil || got.Done {
		t.Errorf("request after a refused re-authentication: %+v %v", got, err)
	}
	if n := h.auditRows(sess.Subject); n != 1 {
		t.Errorf("%d audit rows after a refused re-authentication, want 1", n)
	}
	if h.byCookie(in.Reauth.NewCookieKey) == nil {
		t.Error("a refused re-authentication changed the cookie key")
	}
}

// testReauthenticateSignInNotPending: a re-authenticating sign-in whose request is no longer
// pending writes nothing (the session keeps its cookie value, auth time and clients) and says
// why.
func testReauthenticateSignInNotPending(t *testing.T, h *H) {
	sess := h.createSession("sub-n", "app-a")
	used := h.boundRequest("browser-a")
	ssotest.NoErr(t, h.S.CompleteAuthRequest(h.Ctx, used.ID, h.signIn(used, "browser-a").Completion), "CompleteAuthRequest")
	elsewhere := h.boundRequest("browser-b")
	for _, tc := range []struct {
		name string
		ar   *sso.AuthRequest
		want error
	}{
		{"used", used, sso.ErrAuthRequestUsed},
		{"elsewhere", elsewhere, sso.ErrAuthRequestElsewhere},
		{"unknown", h.sso().NewAuthRequest(), sso.ErrNotFound},
	} {
		in := h.reauthSignIn(tc.ar, sess, sess.ID)
		ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, in), tc.want, "CompleteSignIn of a %s request", tc.name)
		s := h.byCookie(sess.ID)
		if s == nil || !s.AuthTime.Equal(sess.AuthTime) || !slices.Equal(s.Clients, []string{"app-a"}) || h.byCookie(in.Reauth.NewCookieKey) != nil {
			t.Fatalf("%s: session changed: %+v", tc.name, s)
		}
		if n := h.auditRows(sess.Subject); n != 0 {
			t.Errorf("%s: %d audit rows, want 0", tc.name, n)
		}
	}
}

// testReauthenticateSignInEnded: a re-authenticating sign-in of a session that ended meanwhile
// conflicts and writes nothing.
func testReauthenticateSignInEnded(t *testing.T, h *H) {
	sess := h.createSession("sub-e", "app-a")
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	ar := h.boundRequest("browser-a")
	in := h.reauthSignIn(ar, sess, sess.ID)
	ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, in), sso.ErrConflict, "CompleteSignIn re-authenticating an ended session")
	if got, err := h.S.AuthRequest(h.Ctx, ar.ID); err != nil || got.Done {
		t.Errorf("request after a refused re-authentication: %+v %v", got, err)
	}
	if h.byCookie(in.Reauth.NewCookieKey) != nil || h.auditRows(sess.Subject) != 0 {
		t.Error("a refused re-authentication wrote something")
	}
}

// testReauthenticateSignInMismatch (review s11 RV1): a re-authenticating sign-in whose
// re-authentication names another session or member than its Session is refused and writes
// nothing: neither session is signed in again, the request stays pending.
func testReauthenticateSignInMismatch(t *testing.T, h *H) {
	sess := h.createSession("sub-m", "app-a")
	other := h.createSession("sub-o", "app-a")
	for _, tc := range []struct {
		name string
		mod  func(r *store.SessionReauth)
	}{
		// The other session's own re-authentication (its id, member and cookie key), sent with
		// this sign-in's Session: the compare-and-set alone would pass.
		{"another session", func(r *store.SessionReauth) { r.SessionID, r.Subject, r.CookieKey = other.ID, other.Subject, other.ID }},
		{"another member", func(r *store.SessionReauth) { r.Subject = other.Subject }},
	} {
		ar := h.boundRequest("browser-a")
		in := h.reauthSignIn(ar, sess, sess.ID)
		tc.mod(in.Reauth)
		if err := h.S.CompleteSignIn(h.Ctx, in); err == nil {
			t.Fatalf("%s: CompleteSignIn accepted a re-authentication of %q for session %q", tc.name, in.Reauth.SessionID, in.Session.ID)
		}
		if got, err := h.S.AuthRequest(h.Ctx, ar.ID); err != nil || got.Done {
			t.Errorf("%s: request after the refusal: %+v %v", tc.name, got, err)
		}
		if h.byCookie(in.Reauth.NewCookieKey) != nil || h.byCookie(sess.ID) == nil || h.byCookie(other.ID) == nil {
			t.Errorf("%s: a refused re-authentication changed a session's cookie key", tc.name)
		}
	}
}

// testMoveUpstreamReplaces: a held upstream sign-in moved to a session that has an upstream
// record already (a session signed in again through a provider) replaces that record.
func testMoveUpstreamReplaces(t *testing.T, h *H) {
	sess := h.createSession("sub-u")
	exp := h.Now.Add(time.Hour)
	ssotest.NoErr(t, h.S.PutUpstreamSession(h.Ctx, &store.UpstreamSession{SessionID: sess.ID, Issuer: "https://old",
		UpstreamSubject: "u-old", UpstreamSID: "sid-old", ExpiresAt: exp}), "PutUpstreamSession")
	held := store.HeldSignIn("challenge-u")
	ssotest.NoErr(t, h.S.PutUpstreamSession(h.Ctx, &store.UpstreamSession{SessionID: held, Issuer: "https://new",
		UpstreamSubject: "u-new", UpstreamSID: "sid-new", ExpiresAt: exp}), "PutUpstreamSession held")
	ssotest.NoErr(t, h.S.MoveUpstreamSession(h.Ctx, held, sess.ID, exp.Add(time.Hour)), "MoveUpstreamSession onto a recorded session")
	got, err := h.S.UpstreamSession(h.Ctx, sess.ID)
	ssotest.NoErr(t, err, "UpstreamSession")
	if got.Issuer != "https://new" || got.UpstreamSID != "sid-new" || !got.ExpiresAt.Equal(exp.Add(time.Hour)) {
		t.Errorf("upstream record after the move: %+v", got)
	}
	// A move that finds nothing to move leaves the session's record alone.
	ssotest.IsErr(t, h.S.MoveUpstreamSession(h.Ctx, held, sess.ID, exp), sso.ErrNotFound, "MoveUpstreamSession again")
	if _, err := h.S.UpstreamSession(h.Ctx, sess.ID); err != nil {
		t.Errorf("a move of nothing removed the session's record: %v", err)
	}
}
