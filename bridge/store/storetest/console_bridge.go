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

func testConsoleBridgeEnds(t *testing.T, h *H) {
	for _, tc := range []struct {
		name string
		end  func(s *sso.Session) error
	}{
		{"EndSession", func(s *sso.Session) error { return h.S.EndSession(h.Ctx, s.ID) }},
		{"EndSessionWithEvents", func(s *sso.Session) error { return h.S.EndSessionWithEvents(h.Ctx, s.ID, event("bcl-"+s.ID)) }},
		{"EndSubjectSessions", func(s *sso.Session) error { _, err := h.S.EndSubjectSessions(h.Ctx, s.Subject); return err }},
		{"Deactivate", func(s *sso.Session) error {
			_, err := h.S.Deactivate(h.Ctx, &store.Deactivation{Subject: s.Subject, EndSessions: true})
			return err
		}},
		{"ResetFactorsAndDeactivate", func(s *sso.Session) error {
			_, _, err := h.S.ResetFactorsAndDeactivate(h.Ctx, &store.Deactivation{Subject: s.Subject, EndSessions: true})
			return err
		}},
	} {
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
