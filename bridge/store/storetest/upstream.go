package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var upstreamTests = []test{
	{"LoginStates", testUpstreamLoginStates},
	{"LoginReplay", testUpstreamLoginReplay},
	{"LoginOutOfOrder", testUpstreamLoginOutOfOrder},
	{"LoginExpired", testUpstreamLoginExpired},
	{"LoginConcurrent", testUpstreamLoginConcurrent},
	{"LoginDuplicate", testUpstreamLoginDuplicate},
	{"Links", testUpstreamLinks},
	{"LinkOnce", testUpstreamLinkOnce},
	{"LinkDeleteOnlyOwn", testUpstreamLinkDeleteOwn},
	{"Sessions", testUpstreamSessions},
	{"Purge", testUpstreamPurge},
}

func (h *H) newUpstreamLogin(expires time.Time) *store.UpstreamLogin {
	h.T.Helper()
	l := &store.UpstreamLogin{ID: ssotest.RandomID(), Provider: "google", State: store.UpstreamStarted,
		AuthRequestID: ssotest.RandomID(), Browser: "browser-hash", CreatedAt: h.Now, ExpiresAt: expires}
	ssotest.NoErr(h.T, h.S.CreateUpstreamLogin(h.Ctx, l), "CreateUpstreamLogin")
	return l
}

func testUpstreamLoginStates(t *testing.T, h *H) {
	l := h.newUpstreamLogin(h.Now.Add(10 * time.Minute))
	got, err := h.S.UpstreamLogin(h.Ctx, l.ID)
	ssotest.NoErr(t, err, "UpstreamLogin")
	ssotest.Equal(t, got, l, "UpstreamLogin")
	ret := &store.UpstreamLogin{State: store.UpstreamReturned, Issuer: "https://accounts.example", UpstreamSubject: "u-1",
		Email: "a@example.org", UpstreamSID: "sid-1"}
	ssotest.NoErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted, ret), "started -> returned")
	got, err = h.S.UpstreamLogin(h.Ctx, l.ID)
	ssotest.NoErr(t, err, "UpstreamLogin")
	want := *l
	want.State, want.Issuer, want.UpstreamSubject, want.Email, want.UpstreamSID = store.UpstreamReturned, ret.Issuer, ret.UpstreamSubject, ret.Email, ret.UpstreamSID
	ssotest.Equal(t, got, &want, "returned login")
	ssotest.NoErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone}), "returned -> done")
	got, err = h.S.UpstreamLogin(h.Ctx, l.ID)
	ssotest.NoErr(t, err, "UpstreamLogin")
	want.State = store.UpstreamDone
	ssotest.Equal(t, got, &want, "done login keeps its identity")
}

func testUpstreamLoginReplay(t *testing.T, h *H) {
	l := h.newUpstreamLogin(h.Now.Add(10 * time.Minute))
	ret := &store.UpstreamLogin{State: store.UpstreamReturned, Issuer: "https://a", UpstreamSubject: "1"}
	ssotest.NoErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted, ret), "first callback")
	other := &store.UpstreamLogin{State: store.UpstreamReturned, Issuer: "https://a", UpstreamSubject: "2"}
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted, other), sso.ErrConflict, "replayed callback")
	got, err := h.S.UpstreamLogin(h.Ctx, l.ID)
	ssotest.NoErr(t, err, "UpstreamLogin")
	if got.UpstreamSubject != "1" {
		t.Fatalf("the replay overwrote the identity: %+v", got)
	}
	ssotest.NoErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone}), "finish")
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone}), sso.ErrConflict, "finish twice")
}

func testUpstreamLoginOutOfOrder(t *testing.T, h *H) {
	l := h.newUpstreamLogin(h.Now.Add(10 * time.Minute))
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamReturned, &store.UpstreamLogin{State: store.UpstreamDone}),
		sso.ErrConflict, "returned -> done before the callback")
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, ssotest.RandomID(), store.UpstreamStarted,
		&store.UpstreamLogin{State: store.UpstreamDone}), sso.ErrNotFound, "unknown login")
	// started -> done directly (a linked identity signs in at once) is allowed.
	ssotest.NoErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted, &store.UpstreamLogin{State: store.UpstreamDone}),
		"started -> done")
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted,
		&store.UpstreamLogin{State: store.UpstreamReturned, Issuer: "i", UpstreamSubject: "s"}), sso.ErrConflict, "callback after done")
}

func testUpstreamLoginExpired(t *testing.T, h *H) {
	l := h.newUpstreamLogin(h.Now.Add(-time.Second))
	_, err := h.S.UpstreamLogin(h.Ctx, l.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "expired login")
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted, &store.UpstreamLogin{State: store.UpstreamDone}),
		sso.ErrNotFound, "advance expired login")
}

func testUpstreamLoginConcurrent(t *testing.T, h *H) {
	l := h.newUpstreamLogin(h.Now.Add(10 * time.Minute))
	const n = 8
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		won, conflicts int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := h.S.AdvanceUpstreamLogin(h.Ctx, l.ID, store.UpstreamStarted,
				&store.UpstreamLogin{State: store.UpstreamReturned, Issuer: "https://a", UpstreamSubject: string(rune('a' + i))})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, sso.ErrConflict):
				conflicts++
			default:
				t.Errorf("AdvanceUpstreamLogin: %v", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 || conflicts != n-1 {
		t.Fatalf("%d callbacks won, %d conflicts; want 1 and %d", won, conflicts, n-1)
	}
}

func testUpstreamLoginDuplicate(t *testing.T, h *H) {
	l := h.newUpstreamLogin(h.Now.Add(10 * time.Minute))
	dup := *l
	ssotest.IsErr(t, h.S.CreateUpstreamLogin(h.Ctx, &dup), sso.ErrConflict, "same id twice")
	bad := *l
	bad.ID, bad.State = ssotest.RandomID(), store.UpstreamReturned
	if err := h.S.CreateUpstreamLogin(h.Ctx, &bad); err == nil {
		t.Fatal("a login created in state returned was accepted")
	}
}

func testUpstreamLinks(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	a := &store.UpstreamLink{Issuer: "https://accounts.google.com", UpstreamSubject: "g-1", Subject: sub, Provider: "google",
		Email: "jane@example.org", CreatedAt: h.Now}
	b := &store.UpstreamLink{Issuer: "https://login.microsoftonline.com/t/v2.0", UpstreamSubject: "m-1", Subject: sub,
		Provider: "entra", CreatedAt: h.Now.Add(time.Second)}
	ssotest.NoErr(t, h.S.PutUpstreamLink(h.Ctx, b), "PutUpstreamLink b")
	ssotest.NoErr(t, h.S.PutUpstreamLink(h.Ctx, a), "PutUpstreamLink a")
	ssotest.NoErr(t, h.S.PutUpstreamLink(h.Ctx, &store.UpstreamLink{Issuer: a.Issuer, UpstreamSubject: "g-2",
		Subject: ssotest.RandomID(), CreatedAt: h.Now}), "another member's link")
	got, err := h.S.UpstreamLink(h.Ctx, a.Issuer, a.UpstreamSubject)
	ssotest.NoErr(t, err, "UpstreamLink")
	ssotest.Equal(t, got, a, "UpstreamLink")
	_, err = h.S.UpstreamLink(h.Ctx, b.Issuer, a.UpstreamSubject)
	ssotest.IsErr(t, err, sso.ErrNotFound, "subject under another issuer")
	list, err := h.S.UpstreamLinks(h.Ctx, sub)
	ssotest.NoErr(t, err, "UpstreamLinks")
	ssotest.Equal(t, list, []*store.UpstreamLink{a, b}, "UpstreamLinks oldest first")
	none, err := h.S.UpstreamLinks(h.Ctx, ssotest.RandomID())
	ssotest.NoErr(t, err, "UpstreamLinks of nobody")
	if len(none) != 0 {
		t.Fatalf("links of nobody: %+v", none)
	}
}

func testUpstreamLinkOnce(t *testing.T, h *H) {
	l := &store.UpstreamLink{Issuer: "https://a", UpstreamSubject: "1", Subject: ssotest.RandomID(), CreatedAt: h.Now}
	ssotest.NoErr(t, h.S.PutUpstreamLink(h.Ctx, l), "PutUpstreamLink")
	again := *l
	again.Subject = ssotest.RandomID()
	ssotest.IsErr(t, h.S.PutUpstreamLink(h.Ctx, &again), sso.ErrConflict, "the same identity linked to a second member")
	same := *l
	ssotest.IsErr(t, h.S.PutUpstreamLink(h.Ctx, &same), sso.ErrConflict, "the same link twice")
	got, err := h.S.UpstreamLink(h.Ctx, l.Issuer, l.UpstreamSubject)
	ssotest.NoErr(t, err, "UpstreamLink")
	ssotest.Equal(t, got, l, "first link kept")
}

func testUpstreamLinkDeleteOwn(t *testing.T, h *H) {
	l := &store.UpstreamLink{Issuer: "https://a", UpstreamSubject: "1", Subject: ssotest.RandomID(), CreatedAt: h.Now}
	ssotest.NoErr(t, h.S.PutUpstreamLink(h.Ctx, l), "PutUpstreamLink")
	ssotest.IsErr(t, h.S.DeleteUpstreamLink(h.Ctx, ssotest.RandomID(), l.Issuer, l.UpstreamSubject), sso.ErrNotFound,
		"another member deletes the link")
	ssotest.NoErr(t, h.S.DeleteUpstreamLink(h.Ctx, l.Subject, l.Issuer, l.UpstreamSubject), "DeleteUpstreamLink")
	_, err := h.S.UpstreamLink(h.Ctx, l.Issuer, l.UpstreamSubject)
	ssotest.IsErr(t, err, sso.ErrNotFound, "deleted link")
	ssotest.IsErr(t, h.S.DeleteUpstreamLink(h.Ctx, l.Subject, l.Issuer, l.UpstreamSubject), sso.ErrNotFound, "delete twice")
	// Unlinked, the identity may be linked again (to anyone).
	l.Subject = ssotest.RandomID()
	ssotest.NoErr(t, h.S.PutUpstreamLink(h.Ctx, l), "link again")
}

func testUpstreamSessions(t *testing.T, h *H) {
	later := h.Now.Add(time.Hour)
	put := func(id, iss, sub, sid string, exp time.Time) {
		ssotest.NoErr(t, h.S.PutUpstreamSession(h.Ctx, &store.UpstreamSession{SessionID: id, Issuer: iss, UpstreamSubject: sub,
			UpstreamSID: sid, ExpiresAt: exp}), "PutUpstreamSession %s", id)
	}
	put("s1", "https://a", "u1", "sidA", later)
	put("s2", "https://a", "u1", "sidB", later)
	put("s3", "https://a", "u2", "sidA", later)
	put("s4", "https://b", "u1", "sidA", later)
	put("s5", "https://a", "u1", "sidA", h.Now.Add(-time.Second))
	for _, tc := range []struct {
		iss, sub, sid string
		want          []string
	}{
		{"https://a", "u1", "", []string{"s1", "s2"}},
		{"https://a", "u1", "sidA", []string{"s1"}},
		{"https://a", "", "sidA", []string{"s1", "s3"}},
		{"https://b", "u1", "", []string{"s4"}},
		{"https://a", "nobody", "", nil},
	} {
		got, err := h.S.UpstreamSessions(h.Ctx, tc.iss, tc.sub, tc.sid)
		ssotest.NoErr(t, err, "UpstreamSessions(%s, %s, %s)", tc.iss, tc.sub, tc.sid)
		if len(got) != len(tc.want) || (len(got) > 0 && !equalStrings(got, tc.want)) {
			t.Errorf("UpstreamSessions(%s, %s, %s) = %v, want %v", tc.iss, tc.sub, tc.sid, got, tc.want)
		}
	}
	got, err := h.S.UpstreamSession(h.Ctx, "s2")
	ssotest.NoErr(t, err, "UpstreamSession")
	ssotest.Equal(t, got, &store.UpstreamSession{SessionID: "s2", Issuer: "https://a", UpstreamSubject: "u1", UpstreamSID: "sidB",
		ExpiresAt: later}, "UpstreamSession")
	_, err = h.S.UpstreamSession(h.Ctx, "s5")
	ssotest.IsErr(t, err, sso.ErrNotFound, "UpstreamSession of an expired record")
	_, err = h.S.UpstreamSession(h.Ctx, "nobody")
	ssotest.IsErr(t, err, sso.ErrNotFound, "UpstreamSession of a session not started upstream")
	// A held sign-in's record: found by the logout like a session's; moved once to the session
	// the step opens (compare-and-set), or deleted by the logout first, then not moved.
	held := store.HeldSignIn("challenge-1")
	if !store.IsHeldSignIn(held) || store.IsHeldSignIn("s1") {
		t.Fatalf("IsHeldSignIn(%q) / (s1)", held)
	}
	put(held, "https://c", "u9", "sidH", h.Now.Add(10*time.Minute))
	if got, err := h.S.UpstreamSessions(h.Ctx, "https://c", "u9", ""); err != nil || !equalStrings(got, []string{held}) {
		t.Fatalf("UpstreamSessions of a held sign-in = %v, %v", got, err)
	}
	ssotest.NoErr(t, h.S.MoveUpstreamSession(h.Ctx, held, "s9", later), "MoveUpstreamSession")
	ssotest.IsErr(t, h.S.MoveUpstreamSession(h.Ctx, held, "s10", later), sso.ErrNotFound, "MoveUpstreamSession again")
	if got, err := h.S.UpstreamSessions(h.Ctx, "https://c", "u9", "sidH"); err != nil || !equalStrings(got, []string{"s9"}) {
		t.Fatalf("UpstreamSessions after the move = %v, %v", got, err)
	}
	if got, err := h.S.UpstreamSession(h.Ctx, "s9"); err != nil || !got.ExpiresAt.Equal(later) {
		t.Fatalf("UpstreamSession after the move = %+v, %v", got, err)
	}
	held2 := store.HeldSignIn("challenge-2")
	put(held2, "https://c", "u9", "sidI", h.Now.Add(10*time.Minute))
	ssotest.NoErr(t, h.S.DeleteUpstreamSession(h.Ctx, held2), "DeleteUpstreamSession")
	ssotest.IsErr(t, h.S.DeleteUpstreamSession(h.Ctx, held2), sso.ErrNotFound, "DeleteUpstreamSession again")
	ssotest.IsErr(t, h.S.MoveUpstreamSession(h.Ctx, held2, "s11", later), sso.ErrNotFound, "MoveUpstreamSession after the delete")
	put(store.HeldSignIn("challenge-3"), "https://c", "u9", "", h.Now.Add(-time.Second))
	ssotest.IsErr(t, h.S.MoveUpstreamSession(h.Ctx, store.HeldSignIn("challenge-3"), "s12", later), sso.ErrNotFound,
		"MoveUpstreamSession of an expired record")
	if _, err := h.S.UpstreamSessions(h.Ctx, "https://a", "", ""); err == nil {
		t.Error("UpstreamSessions without subject or sid: no error (it would end every session of the issuer)")
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testUpstreamPurge(t *testing.T, h *H) {
	old := h.newUpstreamLogin(h.Now.Add(-time.Minute))
	live := h.newUpstreamLogin(h.Now.Add(time.Hour))
	ssotest.NoErr(t, h.S.PutUpstreamSession(h.Ctx, &store.UpstreamSession{SessionID: "gone", Issuer: "https://a",
		UpstreamSubject: "u", ExpiresAt: h.Now.Add(-time.Minute)}), "PutUpstreamSession")
	ssotest.NoErr(t, h.S.PutUpstreamSession(h.Ctx, &store.UpstreamSession{SessionID: "live", Issuer: "https://a",
		UpstreamSubject: "u", ExpiresAt: h.Now.Add(time.Hour)}), "PutUpstreamSession")
	n, err := h.S.Purge(h.Ctx, h.Now)
	ssotest.NoErr(t, err, "Purge")
	if n < 2 {
		t.Fatalf("Purge deleted %d rows, want at least the expired login and session", n)
	}
	// The expired login is gone for good: it cannot be advanced even by a store whose clock
	// is behind.
	ssotest.IsErr(t, h.S.AdvanceUpstreamLogin(h.Ctx, old.ID, store.UpstreamStarted, &store.UpstreamLogin{State: store.UpstreamDone}),
		sso.ErrNotFound, "purged login")
	_, err = h.S.UpstreamLogin(h.Ctx, live.ID)
	ssotest.NoErr(t, err, "live login after purge")
	ids, err := h.S.UpstreamSessions(h.Ctx, "https://a", "u", "")
	ssotest.NoErr(t, err, "UpstreamSessions")
	if !equalStrings(ids, []string{"live"}) {
		t.Fatalf("sessions after purge: %v", ids)
	}
}
