package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// deactivations are the entry points of a store.Deactivation: Deactivate, and
// ResetFactorsAndDeactivate (an administrator's factor reset), which apply it alike.
func (h *H) deactivations() []struct {
	name string
	run  func(d *store.Deactivation) ([]*sso.Session, error)
} {
	return []struct {
		name string
		run  func(d *store.Deactivation) ([]*sso.Session, error)
	}{
		{"Deactivate", func(d *store.Deactivation) ([]*sso.Session, error) { return h.S.Deactivate(h.Ctx, d) }},
		{"ResetFactorsAndDeactivate", func(d *store.Deactivation) ([]*sso.Session, error) {
			_, ended, err := h.S.ResetFactorsAndDeactivate(h.Ctx, d)
			return ended, err
		}},
	}
}

// endedApps are the clients and SAML SPs of session id among ended ("" when it is not there).
func endedApps(ended []*store.EndedSession, id string) (clients, sps []string, found bool) {
	for _, e := range ended {
		if e.Session.ID == id {
			return e.Session.Clients, participantSPs(e.SAMLParticipants), true
		}
	}
	return nil, nil, false
}

// testShadowDeactivateLogoutFails (review s21 X3-3): a Logout that fails rolls the whole
// deactivation back (sessions live, grants, shadow users and events as they were) and its error
// is returned, from each entry point: what backchannel.Logouts.Deactivate retries on when the
// sessions signed into an app it had not read. The deactivation applied again then ends them.
func testShadowDeactivateLogoutFails(t *testing.T, h *H) {
	for _, run := range h.deactivations() {
		sub := ssotest.RandomID()
		sess := h.createSession(sub, "portal")
		rt := h.grant(sub, "portal")
		_, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true))
		ssotest.NoErr(t, err, "PutShadowUser")
		refused := errors.New("an app not prepared")
		up, ev, bcl := event("k-"+sub), event("k2-"+sub), event("bcl-"+sub)
		built := 0
		d := &store.Deactivation{Subject: sub, EndSessions: true,
			Users:  []store.ShadowUpdate{{User: shadow("portal", sub, "d1", false), Events: []*store.OutboxEvent{up}}},
			Events: []*store.OutboxEvent{ev},
			Logout: func(ended []*store.EndedSession) ([]*store.OutboxEvent, error) {
				built++
				return []*store.OutboxEvent{bcl}, refused
			}}
		ended, err := run.run(d)
		if !errors.Is(err, refused) || len(ended) != 0 || built == 0 {
			t.Fatalf("%s with a failing Logout = %d ended, %v (built %d times); want nothing and its error", run.name, len(ended), err, built)
		}
		_, err = h.S.Session(h.Ctx, sess.ID)
		ssotest.NoErr(t, err, "%s: session after a failing Logout", run.name)
		if h.sso().Revoked(rt.FamilyID) {
			t.Fatalf("%s: family revoked by a deactivation rolled back", run.name)
		}
		if u, _ := h.S.ShadowUser(h.Ctx, "portal", sub); u == nil || !u.Active {
			t.Fatalf("%s: shadow user written by a deactivation rolled back: %+v", run.name, u)
		}
		for _, e := range []*store.OutboxEvent{up, ev, bcl} {
			_, err = h.S.OutboxEvent(h.Ctx, e.ID)
			ssotest.IsErr(t, err, sso.ErrNotFound, "%s: event %s of a deactivation rolled back", run.name, e.Key)
		}
		d.Logout = func(ended []*store.EndedSession) ([]*store.OutboxEvent, error) { return []*store.OutboxEvent{bcl}, nil }
		ended, err = run.run(d)
		ssotest.NoErr(t, err, "%s again", run.name)
		if len(ended) != 1 || ended[0].ID != sess.ID {
			t.Fatalf("%s again ended %d sessions, want %s", run.name, len(ended), sess.ID)
		}
		for _, e := range []*store.OutboxEvent{up, ev, bcl} {
			_, err = h.S.OutboxEvent(h.Ctx, e.ID)
			ssotest.NoErr(t, err, "%s again: event %s", run.name, e.Key)
		}
	}
}

// testShadowDeactivateAppsAddedBefore (review s21 X3-3): the apps a member's sessions signed
// into up to the deactivation (another tab's sign-in: a client, a SAML SP) are among those its
// Logout is given, read by its transaction; one signing in after it is refused, so that no app
// holds a sign-in of an ended session without a logout event. Logout is called (with nothing)
// when no session was live.
func testShadowDeactivateAppsAddedBefore(t *testing.T, h *H) {
	for _, run := range h.deactivations() {
		sub := ssotest.RandomID()
		s1 := h.createSession(sub, "portal")
		s2 := h.createSession(sub)
		ssotest.NoErr(t, h.S.AddSessionClient(h.Ctx, s1.ID, "other", h.Now), "AddSessionClient")
		sp1, sp2 := "https://sp1.example/"+s1.ID, "https://sp2.example/"+s2.ID
		ssotest.NoErr(t, h.participant(s1.ID, sp1), "AddSAMLParticipant")
		ssotest.NoErr(t, h.participant(s2.ID, sp2), "AddSAMLParticipant")
		var seen []*store.EndedSession
		calls := 0
		d := &store.Deactivation{Subject: sub, EndSessions: true, Logout: func(ended []*store.EndedSession) ([]*store.OutboxEvent, error) {
			seen, calls = ended, calls+1
			return nil, nil
		}}
		ended, err := run.run(d)
		ssotest.NoErr(t, err, "%s", run.name)
		if len(ended) != 2 || len(seen) != 2 {
			t.Fatalf("%s ended %d sessions, Logout saw %d; want 2", run.name, len(ended), len(seen))
		}
		for _, c := range []struct {
			id           string
			clients, sps []string
		}{{s1.ID, []string{"portal", "other"}, []string{sp1}}, {s2.ID, nil, []string{sp2}}} {
			clients, sps, found := endedApps(seen, c.id)
			if !found || !slices.Equal(clients, c.clients) || !slices.Equal(sps, c.sps) {
				t.Fatalf("%s: Logout saw session %s (found %v) with clients %v, SAML SPs %v; want %v, %v",
					run.name, c.id, found, clients, sps, c.clients, c.sps)
			}
		}
		ssotest.IsErr(t, h.S.AddSessionClient(h.Ctx, s1.ID, "late", h.Now), sso.ErrNotFound, "%s: AddSessionClient after it", run.name)
		ssotest.IsErr(t, h.participant(s2.ID, "https://late.example/"+s2.ID), sso.ErrNotFound, "%s: AddSAMLParticipant after it", run.name)

		// Nothing live: Logout is called (at least once: a transaction may run again) with nothing.
		calls = 0
		ended, err = run.run(d)
		ssotest.NoErr(t, err, "%s (nothing live)", run.name)
		if len(ended) != 0 || calls == 0 || len(seen) != 0 {
			t.Fatalf("%s with nothing live: ended %d, Logout called %d times with %d sessions", run.name, len(ended), calls, len(seen))
		}
	}
}

// testShadowDeactivateAppsRace (review s21 X3-3): an AddSessionClient and an
// AddSAMLParticipant racing a deactivation of the member (on SQLite, often in its write batch)
// each either land before it, and are among the apps its Logout is given, or are refused;
// never added and left out, from each entry point.
func testShadowDeactivateAppsRace(t *testing.T, h *H) {
	for _, run := range h.deactivations() {
		for i := range 20 {
			sub := ssotest.RandomID()
			s := h.createSession(sub, "portal")
			sp := "https://sp.example/" + s.ID
			var (
				wg                    sync.WaitGroup
				addErr, spErr, endErr error
				ended                 []*sso.Session
				clients, sps          []string
				found                 bool
				mu                    sync.Mutex
			)
			wg.Add(3)
			go func() { defer wg.Done(); addErr = h.S.AddSessionClient(h.Ctx, s.ID, "other", h.Now) }()
			go func() { defer wg.Done(); spErr = h.participant(s.ID, sp) }()
			go func() {
				defer wg.Done()
				ended, endErr = run.run(&store.Deactivation{Subject: sub, EndSessions: true,
					Logout: func(es []*store.EndedSession) ([]*store.OutboxEvent, error) {
						mu.Lock()
						defer mu.Unlock()
						clients, sps, found = endedApps(es, s.ID)
						clients = slices.Clone(clients)
						return nil, nil
					}})
			}()
			wg.Wait()
			ssotest.NoErr(t, endErr, "%s", run.name)
			if len(ended) != 1 || !found {
				t.Fatalf("%s round %d: ended %d sessions, Logout saw the member's: %v", run.name, i, len(ended), found)
			}
			for _, c := range []struct {
				what  string
				err   error
				built []string
				app   string
			}{{"AddSessionClient", addErr, clients, "other"}, {"AddSAMLParticipant", spErr, sps, sp}} {
				switch {
				case c.err == nil && !slices.Contains(c.built, c.app):
					t.Fatalf("%s round %d: %s succeeded but Logout was given %v", run.name, i, c.what, c.built)
				case errors.Is(c.err, sso.ErrNotFound) && slices.Contains(c.built, c.app):
					t.Fatalf("%s round %d: %s was refused but Logout was given %v", run.name, i, c.what, c.built)
				case c.err != nil && !errors.Is(c.err, sso.ErrNotFound):
					t.Fatalf("%s round %d: %s: %v", run.name, i, c.what, c.err)
				}
			}
		}
	}
}
