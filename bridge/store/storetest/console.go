package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// consoleSessionTests: the admin console's server-side sessions (store.ConsoleSessionStore).
var consoleSessionTests = []test{
	{"CreateGet", testConsoleSessionCreateGet},
	{"Touch", testConsoleSessionTouch},
	{"EndOnce", testConsoleSessionEndOnce},
	{"EndConcurrent", testConsoleSessionEndConcurrent},
	{"EndOfSubject", testConsoleSessionsEndOfSubject},
	{"Expired", testConsoleSessionExpired},
	{"Purge", testConsoleSessionPurge},
}

func (h *H) consoleSession(subject string, expires time.Time) *store.ConsoleSession {
	h.T.Helper()
	c := &store.ConsoleSession{IDHash: sso.HashToken(ssotest.RandomID()), Subject: subject, Login: "bob",
		CSRF: ssotest.RandomID(), AuthTime: h.Now.Add(-time.Minute), AMR: []string{"pwd", "otp", "mfa"}, MFA: true,
		CreatedAt: h.Now, SeenAt: h.Now, CheckedAt: h.Now, ExpiresAt: expires}
	ssotest.NoErr(h.T, h.S.CreateConsoleSession(h.Ctx, c), "CreateConsoleSession")
	return c
}

func (h *H) consoleSessionNow(idHash string) *store.ConsoleSession {
	h.T.Helper()
	c, err := h.S.ConsoleSession(h.Ctx, idHash)
	ssotest.NoErr(h.T, err, "ConsoleSession")
	return c
}

func testConsoleSessionCreateGet(t *testing.T, h *H) {
	want := h.consoleSession(ssotest.RandomID(), h.Now.Add(12*time.Hour))
	ssotest.Equal(t, h.consoleSessionNow(want.IDHash), want, "ConsoleSession")
	if !want.Live(h.Now) || want.Live(want.ExpiresAt) {
		t.Fatal("Live: live before its expiry only")
	}
	dup := *want
	dup.Subject = ssotest.RandomID()
	ssotest.IsErr(t, h.S.CreateConsoleSession(h.Ctx, &dup), sso.ErrConflict, "a second session with the same id")
	ssotest.Equal(t, h.consoleSessionNow(want.IDHash), want, "ConsoleSession after a refused duplicate")
	_, err := h.S.ConsoleSession(h.Ctx, sso.HashToken(ssotest.RandomID()))
	ssotest.IsErr(t, err, sso.ErrNotFound, "an unknown console session")
	plain := &store.ConsoleSession{IDHash: sso.HashToken(ssotest.RandomID()), Subject: "s", CSRF: "c", ExpiresAt: h.Now.Add(time.Hour)}
	ssotest.NoErr(t, h.S.CreateConsoleSession(h.Ctx, plain), "CreateConsoleSession without times")
	if got := h.consoleSessionNow(plain.IDHash); got.CreatedAt.IsZero() || !got.SeenAt.Equal(got.CreatedAt) ||
		!got.CheckedAt.Equal(got.CreatedAt) || got.MFA || len(got.AMR) != 0 {
		t.Fatalf("defaults: %+v", got)
	}
}

func testConsoleSessionTouch(t *testing.T, h *H) {
	c := h.consoleSession(ssotest.RandomID(), h.Now.Add(12*time.Hour))
	seen, checked := h.Now.Add(2*time.Minute), h.Now.Add(time.Minute)
	ssotest.NoErr(t, h.S.TouchConsoleSession(h.Ctx, c.IDHash, seen, checked), "TouchConsoleSession")
	got := h.consoleSessionNow(c.IDHash)
	if !got.SeenAt.Equal(seen) || !got.CheckedAt.Equal(checked) {
		t.Fatalf("after a touch: seen %v checked %v, want %v %v", got.SeenAt, got.CheckedAt, seen, checked)
	}
	// Only forward: a late request that read the row before a newer touch does not undo it.
	ssotest.NoErr(t, h.S.TouchConsoleSession(h.Ctx, c.IDHash, h.Now.Add(time.Minute), h.Now), "an older touch")
	got = h.consoleSessionNow(c.IDHash)
	if !got.SeenAt.Equal(seen) || !got.CheckedAt.Equal(checked) {
		t.Fatalf("an older touch moved times back: seen %v checked %v", got.SeenAt, got.CheckedAt)
	}
	ssotest.IsErr(t, h.S.TouchConsoleSession(h.Ctx, sso.HashToken(ssotest.RandomID()), seen, seen), sso.ErrNotFound,
		"touch of an unknown session")
	ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, c.IDHash, h.Now.Add(3*time.Minute), "signed out"), "EndConsoleSession")
	ssotest.IsErr(t, h.S.TouchConsoleSession(h.Ctx, c.IDHash, h.Now.Add(4*time.Minute), h.Now.Add(4*time.Minute)),
		sso.ErrNotFound, "touch of an ended session")
	if got := h.consoleSessionNow(c.IDHash); !got.SeenAt.Equal(seen) {
		t.Fatalf("a refused touch changed the row: %+v", got)
	}
}

func testConsoleSessionEndOnce(t *testing.T, h *H) {
	c := h.consoleSession(ssotest.RandomID(), h.Now.Add(12*time.Hour))
	at := h.Now.Add(time.Minute)
	ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, c.IDHash, at, "signed out"), "EndConsoleSession")
	got := h.consoleSessionNow(c.IDHash)
	if !got.EndedAt.Equal(at) || got.EndReason != "signed out" || got.Live(at) {
		t.Fatalf("ended session: %+v", got)
	}
	// The first end wins: a replayed sign-out or a later end changes nothing.
	ssotest.IsErr(t, h.S.EndConsoleSession(h.Ctx, c.IDHash, h.Now.Add(2*time.Minute), "password changed"),
		sso.ErrNotFound, "a second end")
	if n, err := h.S.EndConsoleSessions(h.Ctx, c.Subject, h.Now.Add(2*time.Minute), "sessions ended"); err != nil || n != 0 {
		t.Fatalf("EndConsoleSessions of an ended session = %d, %v; want 0", n, err)
	}
	if got := h.consoleSessionNow(c.IDHash); !got.EndedAt.Equal(at) || got.EndReason != "signed out" {
		t.Fatalf("a second end changed the row: %+v", got)
	}
	ssotest.IsErr(t, h.S.EndConsoleSession(h.Ctx, sso.HashToken(ssotest.RandomID()), at, "signed out"), sso.ErrNotFound,
		"end of an unknown session")
	// A zero time is the store's now, never "not ended".
	z := h.consoleSession(ssotest.RandomID(), h.Now.Add(12*time.Hour))
	ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, z.IDHash, time.Time{}, "signed out"), "EndConsoleSession at zero time")
	if got := h.consoleSessionNow(z.IDHash); got.EndedAt.IsZero() {
		t.Fatalf("ended at the zero time is still live: %+v", got)
	}
}

func testConsoleSessionEndConcurrent(t *testing.T, h *H) {
	c := h.consoleSession(ssotest.RandomID(), h.Now.Add(12*time.Hour))
	errs := ssotest.Parallel(10, func(i int) error {
		if i%2 == 0 {
			return h.S.EndConsoleSession(h.Ctx, c.IDHash, h.Now.Add(time.Minute), "signed out")
		}
		return h.S.TouchConsoleSession(h.Ctx, c.IDHash, h.Now.Add(time.Minute), h.Now.Add(time.Minute))
	})
	ended := 0
	for i, err := range errs {
		switch {
		case err == nil && i%2 == 0:
			ended++
		case err != nil && !errors.Is(err, sso.ErrNotFound):
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if ended != 1 {
		t.Fatalf("%d concurrent ends of one console session succeeded, want 1", ended)
	}
	if got := h.consoleSessionNow(c.IDHash); got.EndedAt.IsZero() {
		t.Fatalf("not ended: %+v", got)
	}
}

func testConsoleSessionsEndOfSubject(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	a, b := h.consoleSession(sub, h.Now.Add(12*time.Hour)), h.consoleSession(sub, h.Now.Add(12*time.Hour))
	old := h.consoleSession(sub, h.Now.Add(time.Minute))
	ended := h.consoleSession(sub, h.Now.Add(12*time.Hour))
	ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, ended.IDHash, h.Now, "signed out"), "EndConsoleSession")
	kept := h.consoleSession(other, h.Now.Add(12*time.Hour))
	at := h.Now.Add(2 * time.Minute)
	n, err := h.S.EndConsoleSessions(h.Ctx, sub, at, "second factors reset")
	ssotest.NoErr(t, err, "EndConsoleSessions")
	if n != 2 {
		t.Fatalf("EndConsoleSessions = %d, want 2 (the live ones)", n)
	}
	for _, c := range []*store.ConsoleSession{a, b} {
		if got := h.consoleSessionNow(c.IDHash); !got.EndedAt.Equal(at) || got.EndReason != "second factors reset" {
			t.Fatalf("session of the subject: %+v", got)
		}
	}
	if got := h.consoleSessionNow(old.IDHash); !got.EndedAt.IsZero() {
		t.Fatalf("an expired session was ended: %+v", got)
	}
	if got := h.consoleSessionNow(ended.IDHash); got.EndReason != "signed out" {
		t.Fatalf("an ended session was ended again: %+v", got)
	}
	if got := h.consoleSessionNow(kept.IDHash); !got.Live(at) {
		t.Fatalf("another subject's session was ended: %+v", got)
	}
	if n, err := h.S.EndConsoleSessions(h.Ctx, sub, at, "x"); err != nil || n != 0 {
		t.Fatalf("EndConsoleSessions again = %d, %v; want 0", n, err)
	}
}

func testConsoleSessionExpired(t *testing.T, h *H) {
	c := h.consoleSession(ssotest.RandomID(), h.Now.Add(time.Hour))
	late := h.Now.Add(time.Hour)
	ssotest.IsErr(t, h.S.TouchConsoleSession(h.Ctx, c.IDHash, late, late), sso.ErrNotFound, "touch at expiry")
	ssotest.IsErr(t, h.S.EndConsoleSession(h.Ctx, c.IDHash, late, "signed out"), sso.ErrNotFound, "end at expiry")
	if got := h.consoleSessionNow(c.IDHash); got.Live(late) || !got.EndedAt.IsZero() || !got.SeenAt.Equal(h.Now) {
		t.Fatalf("expired session: %+v", got)
	}
}

func testConsoleSessionPurge(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	doomed := h.consoleSession(sub, h.Now.Add(time.Hour))
	endedKept := h.consoleSession(sub, h.Now.Add(3*time.Hour))
	ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, endedKept.IDHash, h.Now, "signed out"), "EndConsoleSession")
	kept := h.consoleSession(sub, h.Now.Add(3*time.Hour))
	n, err := h.S.Purge(h.Ctx, h.Now.Add(2*time.Hour))
	ssotest.NoErr(t, err, "Purge")
	if n < 1 {
		t.Fatalf("Purge deleted %d rows, want at least 1", n)
	}
	_, err = h.S.ConsoleSession(h.Ctx, doomed.IDHash)
	ssotest.IsErr(t, err, sso.ErrNotFound, "an expired console session after Purge")
	h.consoleSessionNow(kept.IDHash)
	// An ended one stays until its expiry (what ended it, for the administrator's page).
	h.consoleSessionNow(endedKept.IDHash)
}
