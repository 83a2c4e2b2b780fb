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

// A console session belongs to the bridge session it was signed in with
// (store.ConsoleSession.BridgeSession): it is created only while that session is live, and
// every way the store ends a bridge session ends it in the same transition.
var consoleBridgeTests = []test{
	{"BridgeSessionCreate", testConsoleBridgeCreate},
	{"BridgeSessionEnds", testConsoleBridgeEnds},
	{"BridgeSessionEndRacesCreate", testConsoleBridgeRace},
	{"BridgeSessionEndAudited", testConsoleBridgeAudited},
	{"BridgeSessionEndOneTransaction", testConsoleBridgeOneTransaction},
}

func (h *H) consoleSessionOf(bridge *sso.Session) (*store.ConsoleSession, error) {
	c := &store.ConsoleSession{IDHash: sso.HashToken(ssotest.RandomID()), Subject: bridge.Subject, Login: "bob",
		CSRF: ssotest.RandomID(), AuthTime: h.Now, AMR: []string{"pwd"}, CreatedAt: h.Now, SeenAt: h.Now,
		CheckedAt: h.Now, ExpiresAt: h.Now.Add(12 * time.Hour), BridgeSession: bridge.ID}
	return c, h.S.CreateConsoleSession(h.Ctx, c)
}

func testConsoleBridgeCreate(t *testing.T, h *H) {
	live := h.createSession(ssotest.RandomID(), "portal")
	c, err := h.consoleSessionOf(live)
	ssotest.NoErr(t, err, "CreateConsoleSession on a live bridge session")
	ssotest.Equal(t, h.consoleSessionNow(c.IDHash), c, "ConsoleSession")

	ended := h.createSession(ssotest.RandomID(), "portal")
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, ended.ID), "EndSession")
	expired := h.createSession(ssotest.RandomID(), "portal")
	unknown := &sso.Session{ID: sso.HashToken(ssotest.RandomID()), Subject: "nobody"}
	for _, tc := range []struct {
		name string
		s    *sso.Session
		at   time.Time
	}{{"ended", ended, h.Now}, {"unknown", unknown, h.Now}, {"expired", expired, expired.ExpiresAt}} {
		c := &store.ConsoleSession{IDHash: sso.HashToken(ssotest.RandomID()), Subject: tc.s.Subject, CSRF: "c",
			CreatedAt: tc.at, ExpiresAt: tc.at.Add(time.Hour), BridgeSession: tc.s.ID}
		ssotest.IsErr(t, h.S.CreateConsoleSession(h.Ctx, c), sso.ErrNotFound, "console session on an %s bridge session", tc.name)
		_, err := h.S.ConsoleSession(h.Ctx, c.IDHash)
		ssotest.IsErr(t, err, sso.ErrNotFound, "a refused console session was stored (%s)", tc.name)
	}
}

// bridgeSessionEnd is one way the store ends a bridge session.
type bridgeSessionEnd struct {
	name string
	end  func(s *sso.Session) error
}

// bridgeSessionEnds are every way the store ends a bridge session (each must end its console
// sessions in the same transaction).
func (h *H) bridgeSessionEnds() []bridgeSessionEnd {
	return []bridgeSessionEnd{
		{"EndSession", func(s *sso.Session) error { return h.S.EndSession(h.Ctx, s.ID) }},
		{"EndSessionWithEvents", func(s *sso.Session) error {
			_, err := h.S.EndSessionWithEvents(h.Ctx, s.ID, events(event("bcl-"+s.ID)))
			return err
		}},
		{"EndSubjectSessions", func(s *sso.Session) error { _, err := h.S.EndSubjectSessions(h.Ctx, s.Subject); return err }},
		{"Deactivate", func(s *sso.Session) error {
			_, err := h.S.Deactivate(h.Ctx, &store.Deactivation{Subject: s.Subject, EndSessions: true})
			return err
		}},
		{"ResetFactorsAndDeactivate", func(s *sso.Session) error {
			_, _, err := h.S.ResetFactorsAndDeactivate(h.Ctx, &store.Deactivation{Subject: s.Subject, EndSessions: true})
			return err
		}},
	}
}

func testConsoleBridgeEnds(t *testing.T, h *H) {
	for _, tc := range h.bridgeSessionEnds() {
		t.Run(tc.name, func(t *testing.T) {
			sub := ssotest.RandomID()
			bridge := h.createSession(sub, "portal")
			c, err := h.consoleSessionOf(bridge)
			ssotest.NoErr(t, err, "CreateConsoleSession")
			// Another member's console session, and one signed out before: untouched.
			other, err := h.consoleSessionOf(h.createSession(ssotest.RandomID(), "portal"))
			ssotest.NoErr(t, err, "CreateConsoleSession (another member)")
			before, err := h.consoleSessionOf(h.createSession(sub, "portal"))
			ssotest.NoErr(t, err, "CreateConsoleSession (signed out before)")
			signedOut := h.Now.Add(time.Minute)
			ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, before.IDHash, signedOut, "signed out"), "EndConsoleSession")

			ssotest.NoErr(t, tc.end(bridge), "%s", tc.name)
			got := h.consoleSessionNow(c.IDHash)
			if got.Live(h.Now) || got.EndReason != store.EndBridgeSessionEnded {
				t.Fatalf("console session after %s: ended %v reason %q, want ended, %q", tc.name, got.EndedAt, got.EndReason, store.EndBridgeSessionEnded)
			}
			ssotest.IsErr(t, h.S.TouchConsoleSession(h.Ctx, c.IDHash, h.Now, h.Now), sso.ErrNotFound, "touch after the bridge session ended")
			if got := h.consoleSessionNow(other.IDHash); !got.Live(h.Now) {
				t.Fatalf("another member's console session ended: %q", got.EndReason)
			}
			if got := h.consoleSessionNow(before.IDHash); got.EndReason != "signed out" || !got.EndedAt.Equal(signedOut) {
				t.Fatalf("an ended console session was ended again: %v %q", got.EndedAt, got.EndReason)
			}
			// Ending the bridge session again (idempotent) changes nothing.
			ssotest.NoErr(t, h.S.EndSession(h.Ctx, bridge.ID), "EndSession again")
			if again := h.consoleSessionNow(c.IDHash); !again.EndedAt.Equal(got.EndedAt) {
				t.Fatalf("a second end moved ended_at: %v -> %v", got.EndedAt, again.EndedAt)
			}
		})
	}
}

// consoleEndedAudit is the console.session_ended rows of subject.
func (h *H) consoleEndedAudit(subject string) []*store.AuditEvent {
	h.T.Helper()
	evs, err := h.S.AuditEvents(h.Ctx, store.AuditFilter{Event: store.EventConsoleSessionEnded, Subject: subject})
	ssotest.NoErr(h.T, err, "AuditEvents")
	return evs
}

// testConsoleBridgeAudited: every way the store ends a bridge session writes one
// console.session_ended audit row for each console session it ends (the console's client id,
// the administrator's subject and login, the reason), none for one ended before, and none again
// when the bridge session is ended again.
func testConsoleBridgeAudited(t *testing.T, h *H) {
	for _, tc := range h.bridgeSessionEnds() {
		t.Run(tc.name, func(t *testing.T) {
			sub := ssotest.RandomID()
			bridge := h.createSession(sub, "portal")
			// Two console sessions of the bridge session (two browsers), one signed out before.
			c1, err := h.consoleSessionOf(bridge)
			ssotest.NoErr(t, err, "CreateConsoleSession")
			c2, err := h.consoleSessionOf(bridge)
			ssotest.NoErr(t, err, "CreateConsoleSession (second)")
			before, err := h.consoleSessionOf(bridge)
			ssotest.NoErr(t, err, "CreateConsoleSession (signed out before)")
			ssotest.NoErr(t, h.S.EndConsoleSession(h.Ctx, before.IDHash, h.Now, "signed out"), "EndConsoleSession")

			start := time.Now()
			ssotest.NoErr(t, tc.end(bridge), "%s", tc.name)
			end := time.Now()
			evs := h.consoleEndedAudit(sub)
			if len(evs) != 2 {
				t.Fatalf("%d console.session_ended rows, want 2 (one per console session ended): %+v", len(evs), evs)
			}
			for _, e := range evs {
				if e.ClientID != store.ConsoleClientID || e.Login != "bob" || e.Detail != store.EndBridgeSessionEnded || e.IP != "" {
					t.Fatalf("audit row %+v", e)
				}
				if e.Time.Before(start.Add(-time.Millisecond)) || e.Time.After(end.Add(time.Millisecond)) {
					t.Fatalf("audit row at %v, not during the end (%v .. %v)", e.Time, start, end)
				}
			}
			for _, c := range []*store.ConsoleSession{c1, c2} {
				if got := h.consoleSessionNow(c.IDHash); !got.EndedAt.Equal(evs[0].Time) {
					t.Fatalf("console session ended at %v, audited at %v: not the same clock reading", got.EndedAt, evs[0].Time)
				}
			}
			// Ended again: no second row.
			ssotest.NoErr(t, h.S.EndSession(h.Ctx, bridge.ID), "EndSession again")
			_, err = h.S.EndSubjectSessions(h.Ctx, sub)
			ssotest.NoErr(t, err, "EndSubjectSessions again")
			if again := h.consoleEndedAudit(sub); len(again) != 2 {
				t.Fatalf("%d rows after ending again, want 2", len(again))
			}
		})
	}
	// A console session past its expiry is not ended (nor audited) when its bridge session ends.
	sub := ssotest.RandomID()
	bridge := h.createSession(sub, "portal")
	expired := &store.ConsoleSession{IDHash: sso.HashToken(ssotest.RandomID()), Subject: sub, Login: "bob", CSRF: "c",
		AuthTime: h.Now.Add(-2 * time.Hour), CreatedAt: h.Now.Add(-2 * time.Hour), SeenAt: h.Now.Add(-2 * time.Hour),
		CheckedAt: h.Now.Add(-2 * time.Hour), ExpiresAt: h.Now.Add(-time.Hour), BridgeSession: bridge.ID}
	// Every store keeps such a row (it is only read as expired); one that refused it would leave
	// the property untested, so that fails too.
	if err := h.S.CreateConsoleSession(h.Ctx, expired); err != nil {
		t.Fatalf("CreateConsoleSession (expired): %v", err)
	} else {
		ssotest.NoErr(t, h.S.EndSession(h.Ctx, bridge.ID), "EndSession")
		if got := h.consoleSessionNow(expired.IDHash); !got.EndedAt.IsZero() || got.EndReason != "" {
			t.Fatalf("an expired console session was ended: %v %q", got.EndedAt, got.EndReason)
		}
		if evs := h.consoleEndedAudit(sub); len(evs) != 0 {
			t.Fatalf("an expired console session was audited as ended: %+v", evs)
		}
	}
}

// testConsoleBridgeOneTransaction: the console sessions end in the transaction that ends the
// bridge session: when that transaction fails (an event EndSessionWithEvents cannot write),
// the bridge session, its console session and the audit log are as before.
func testConsoleBridgeOneTransaction(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	bridge := h.createSession(sub, "portal")
	c, err := h.consoleSessionOf(bridge)
	ssotest.NoErr(t, err, "CreateConsoleSession")
	if _, err := h.S.EndSessionWithEvents(h.Ctx, bridge.ID, events(&store.OutboxEvent{})); err == nil {
		t.Fatal("EndSessionWithEvents with an event without id, key, type and channel succeeded")
	}
	if got := h.consoleSessionNow(c.IDHash); !got.Live(h.Now) {
		t.Fatalf("console session ended by a failed transaction: %v %q", got.EndedAt, got.EndReason)
	}
	if evs := h.consoleEndedAudit(sub); len(evs) != 0 {
		t.Fatalf("audit rows of a failed transaction: %+v", evs)
	}
	live, err := h.S.Sessions(h.Ctx, sub)
	ssotest.NoErr(t, err, "Sessions")
	if len(live) != 1 {
		t.Fatalf("bridge session after the failed end: %d live", len(live))
	}
}

// testConsoleBridgeRace: a console session created while its bridge session is being ended is
// either refused or ended; never live on an ended bridge session.
func testConsoleBridgeRace(t *testing.T, h *H) {
	for i := 0; i < 20; i++ {
		bridge := h.createSession(ssotest.RandomID(), "portal")
		var (
			wg     sync.WaitGroup
			c      *store.ConsoleSession
			cerr   error
			endErr error
		)
		wg.Add(2)
		go func() { defer wg.Done(); c, cerr = h.consoleSessionOf(bridge) }()
		go func() { defer wg.Done(); endErr = h.S.EndSession(h.Ctx, bridge.ID) }()
		wg.Wait()
		ssotest.NoErr(t, endErr, "EndSession")
		switch {
		case errors.Is(cerr, sso.ErrNotFound):
		case cerr != nil:
			t.Fatalf("CreateConsoleSession: %v", cerr)
		default:
			if got := h.consoleSessionNow(c.IDHash); got.Live(h.Now) {
				t.Fatalf("round %d: a console session is live on an ended bridge session", i)
			}
		}
	}
}

// RunConsoleClock runs the tests of console sessions ended with their bridge session that need
// the store's clock apart from the database's: newStore opens an empty store whose clock is
// clock (sqlite.WithClock, postgres.WithClock).
func RunConsoleClock(t *testing.T, newStore func(t *testing.T, clock func() time.Time) store.Store) {
	// The store's clock ten minutes ahead of the host's (and the database's), and fixed.
	at := ssotest.Now().Add(10 * time.Minute)
	h := &H{T: t, S: newStore(t, func() time.Time { return at }), Ctx: t.Context(), Now: ssotest.Now()}
	sub := ssotest.RandomID()
	bridge := h.createSession(sub, "portal")
	c, err := h.consoleSessionOf(bridge)
	ssotest.NoErr(t, err, "CreateConsoleSession")
	// Expired by the store's clock, not by the database's.
	soon := &store.ConsoleSession{IDHash: sso.HashToken(ssotest.RandomID()), Subject: sub, Login: "bob", CSRF: "c",
		AuthTime: h.Now, CreatedAt: h.Now, SeenAt: h.Now, CheckedAt: h.Now, ExpiresAt: h.Now.Add(5 * time.Minute), BridgeSession: bridge.ID}
	ssotest.NoErr(t, h.S.CreateConsoleSession(h.Ctx, soon), "CreateConsoleSession (expiring)")

	ssotest.NoErr(t, h.S.EndSession(h.Ctx, bridge.ID), "EndSession")
	if got := h.consoleSessionNow(c.IDHash); !got.EndedAt.Equal(at) || got.EndReason != store.EndBridgeSessionEnded {
		t.Fatalf("console session ended at %v (%q), want the store's clock %v", got.EndedAt, got.EndReason, at)
	}
	if got := h.consoleSessionNow(soon.IDHash); !got.EndedAt.IsZero() {
		t.Fatalf("a console session expired by the store's clock was ended at %v", got.EndedAt)
	}
	evs := h.consoleEndedAudit(sub)
	if len(evs) != 1 || !evs[0].Time.Equal(at) {
		t.Fatalf("audit %+v, want one row at the store's clock %v", evs, at)
	}
}
