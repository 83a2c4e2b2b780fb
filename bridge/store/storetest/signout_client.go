package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// signInAt completes a new sign-in of subject into client with a code, in a new session, in one
// write (CompleteSignIn, as the login form does), and returns the session and the code's
// request id and hash.
func (h *H) signInAt(subject, client string) (sess *sso.Session, requestID, codeHash string, err error) {
	r := h.sso().NewAuthRequest()
	r.ClientID = client
	if err := h.S.CreateAuthRequest(h.Ctx, r); err != nil {
		return nil, "", "", err
	}
	sess = h.sso().NewSession(subject)
	codeHash = ssotest.RandomID()
	err = h.S.CompleteSignIn(h.Ctx, &store.SignIn{
		Session: sess, RequestID: r.ID, RequestClient: client,
		Completion: sso.Completion{Subject: subject, AuthTime: h.Now, AMR: []string{"pwd"}, SessionID: sess.ID},
		CodeHash:   codeHash, CodeExpires: h.Now.Add(10 * time.Minute),
	})
	return sess, r.ID, codeHash, err
}

// exchange reports whether the code (request id, hash) is exchanged for a new family.
func (h *H) exchange(requestID, codeHash string) bool {
	return h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: requestID,
		Family: h.sso().NewAccessFamily()}) == nil
}

// listed reports whether the session lists client.
func (h *H) listed(sessionID, client string) bool {
	h.T.Helper()
	s, err := h.S.Session(h.Ctx, sessionID)
	ssotest.NoErr(h.T, err, "Session")
	return slices.Contains(s.Clients, client)
}

// testSignOutOfClient: SignOutOfClient ("Sign out of <app> on all your devices", session 23) does
// LeaveClient's and RevokeGrants' work in one write: the app leaves every live session of the
// member, the member's families at the app are revoked (the live ones with a refresh token
// counted), their unexchanged code there is consumed and their approved device authorization
// denied. Another member's and another app's stay; an empty subject or client is refused.
func testSignOutOfClient(t *testing.T, h *H) {
	const app, other = "portal", "other"
	sub, stranger := ssotest.RandomID(), ssotest.RandomID()
	both := h.createSession(sub, app, other)
	ended := h.createSession(sub, app)
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, ended.ID), "EndSession")
	theirs := h.createSession(stranger, app)
	mine, otherApp, strangers := h.grant(sub, app), h.grant(sub, other), h.grant(stranger, app)
	access := h.sso().NewAccessFamily()
	access.Subject, access.ClientID = sub, app
	ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: access}), "IssueTokens (access only)")
	signedIn, req, code, err := h.signInAt(sub, app)
	ssotest.NoErr(t, err, "sign-in")
	_, otherReq, otherCode, err := h.signInAt(sub, other)
	ssotest.NoErr(t, err, "sign-in elsewhere")
	_, strangerReq, strangerCode, err := h.signInAt(stranger, app)
	ssotest.NoErr(t, err, "another member's sign-in")
	ds, devices := h.S.(sso.DeviceStore)
	var approved, kept *sso.DeviceAuthorization
	if devices {
		for _, d := range []**sso.DeviceAuthorization{&approved, &kept} {
			*d = ssotest.NewDevice(h.Now)
			(*d).ClientID = app
			ssotest.NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, *d), "CreateDeviceAuthorization")
		}
		ssotest.NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, approved.UserCode, true, sso.Completion{Subject: sub, SessionID: both.ID}, h.Now), "approve")
		ssotest.NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, kept.UserCode, true, sso.Completion{Subject: stranger, SessionID: theirs.ID}, h.Now), "approve")
	}

	_, _, err = h.S.SignOutOfClient(h.Ctx, "", app)
	ssotest.SomeErr(t, err, "SignOutOfClient without a subject")
	_, _, err = h.S.SignOutOfClient(h.Ctx, sub, "")
	ssotest.SomeErr(t, err, "SignOutOfClient without a client")
	left, families, err := h.S.SignOutOfClient(h.Ctx, sub, app)
	ssotest.NoErr(t, err, "SignOutOfClient")
	if left != 2 || families != 1 {
		t.Fatalf("SignOutOfClient = %d sessions left, %d families revoked; want 2 (the live sessions listing the app), 1 (the live family with a refresh token)", left, families)
	}
	if h.listed(both.ID, app) || h.listed(signedIn.ID, app) || !h.listed(both.ID, other) || !h.listed(theirs.ID, app) {
		t.Fatalf("after SignOutOfClient: the member's sessions list the app %t, %t (want false), the other app %t, another member's session lists it %t (want true)",
			h.listed(both.ID, app), h.listed(signedIn.ID, app), h.listed(both.ID, other), h.listed(theirs.ID, app))
	}
	if !h.sso().Revoked(mine.FamilyID) || !h.sso().Revoked(access.FamilyID) || h.sso().Revoked(otherApp.FamilyID) || h.sso().Revoked(strangers.FamilyID) {
		t.Fatalf("after SignOutOfClient: revoked: the member's families at the app %t, %t (want true), at another app %t, another member's %t (want false)",
			h.sso().Revoked(mine.FamilyID), h.sso().Revoked(access.FamilyID), h.sso().Revoked(otherApp.FamilyID), h.sso().Revoked(strangers.FamilyID))
	}
	if h.exchange(req, code) {
		t.Fatal("the member's unexchanged code of the app was exchanged after SignOutOfClient")
	}
	if !h.exchange(otherReq, otherCode) || !h.exchange(strangerReq, strangerCode) {
		t.Fatal("a code SignOutOfClient did not name was refused")
	}
	if devices {
		ssotest.IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, approved.DeviceCodeHash, app, h.Now), sso.ErrNotFound,
			"the member's approved device authorization after SignOutOfClient")
		ssotest.NoErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, kept.DeviceCodeHash, app, h.Now), "another member's device authorization")
	}
	if left, families, err := h.S.SignOutOfClient(h.Ctx, sub, app); err != nil || left != 0 || families != 0 {
		t.Fatalf("SignOutOfClient again = %d, %d, %v; want 0, 0, nil", left, families, err)
	}
}

// testSignOutOfClientRacesSignIn: a sign-in into the app (CompleteSignIn: its session listing
// the app, its code) committing while SignOutOfClient runs is either closed (its code refused)
// or kept listed by its session: never a live code in a session that no longer lists the app
// (its sign-out would not tell the app, and the account page would not offer to sign out of
// it). Rounds of the two writes started together.
func testSignOutOfClientRacesSignIn(t *testing.T, h *H) {
	const app = "portal"
	for range 20 {
		sub := ssotest.RandomID()
		var (
			wg                    sync.WaitGroup
			sess                  *sso.Session
			req, code             string
			signInErr, signOutErr error
			start                 = make(chan struct{})
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			sess, req, code, signInErr = h.signInAt(sub, app)
		}()
		go func() {
			defer wg.Done()
			<-start
			_, _, signOutErr = h.S.SignOutOfClient(h.Ctx, sub, app)
		}()
		close(start)
		wg.Wait()
		ssotest.NoErr(t, signInErr, "sign-in")
		ssotest.NoErr(t, signOutErr, "SignOutOfClient")
		listed := h.listed(sess.ID, app)
		if h.exchange(req, code) && !listed {
			t.Fatal("a sign-in into the app during SignOutOfClient holds a live code in a session that no longer lists the app")
		}
	}
}
