package backchannel_test

// Review s22 X: a sign-out's (and, on g3, a deactivation's) logout events are prepared by
// reading each app's registration before the ending transaction (Logouts.prepare). A read that
// fails for a passing reason (the store busy, a pool out of connections, a timeout) is taken as
// "this app has no back-channel logout URI" for good: the session ends, the app is never told
// and the member stays signed into it; only a warning is logged. Drop into
// bridge/outbox/backchannel.

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// failOnce fails the first read of each client with a passing error, as a busy store would.
type failOnce struct {
	clients
	failed map[string]bool
}

func (c *failOnce) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	if !c.failed[id] {
		c.failed[id] = true
		return nil, errors.New("store: connection pool exhausted (context deadline exceeded)")
	}
	return c.clients.Client(ctx, id)
}

func TestXSignOutTellsAppWhoseRegistrationReadFailedOnce(t *testing.T) { testXTransient(t, false) }

// The control: without the failing read, web is told.
func TestXSignOutTellsAppControl(t *testing.T) { testXTransient(t, true) }

func testXTransient(t *testing.T, control bool) {
	db, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := time.Now()
	sess := &sso.Session{ID: "s-1", Subject: "sub-1", AuthTime: now, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(time.Hour), Clients: []string{"web"}}
	if err := db.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	l := &backchannel.Logouts{Store: db, Clients: &failOnce{clients: clients{
		"web": {ID: "web", BackchannelLogoutURI: "https://web.example/logout"}}, failed: map[string]bool{"web": control}}}
	if err := l.EndSession(t.Context(), sess); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	if _, err := db.Session(t.Context(), "s-1"); err == nil {
		t.Fatal("the session is live after EndSession")
	}
	evs, err := db.OutboxEvents(t.Context(), store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e *store.OutboxEvent) bool { return e.ClientID == "web" }) {
		t.Fatal("the session ended and web, whose registration read failed once, was never told (no logout queued, no retry)")
	}
}

// The deactivation's twin (g3 4a949b9, on main): "Sign out of all devices" ends the session and
// the app whose registration read failed once is never told.
func TestXDeactivateTellsAppWhoseRegistrationReadFailedOnce(t *testing.T) {
	db, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	now := time.Now()
	if err := db.CreateSession(t.Context(), &sso.Session{ID: "s-1", Subject: "sub-1", AuthTime: now, CreatedAt: now, LastSeen: now,
		ExpiresAt: now.Add(time.Hour), Clients: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	l := &backchannel.Logouts{Store: db, Clients: &failOnce{clients: clients{
		"web": {ID: "web", BackchannelLogoutURI: "https://web.example/logout"}}, failed: map[string]bool{}}}
	ended, err := l.Deactivate(t.Context(), &store.Deactivation{Subject: "sub-1", EndSessions: true}, db.Deactivate)
	if err != nil || len(ended) != 1 {
		t.Fatalf("Deactivate: %d ended, %v", len(ended), err)
	}
	evs, err := db.OutboxEvents(t.Context(), store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e *store.OutboxEvent) bool { return e.ClientID == "web" }) {
		t.Fatal("the deactivation ended the session and web, whose registration read failed once, was never told")
	}
}
