package bridge_test

import (
	"context"
	"log/slog"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestOfflineAdminQueuesBackchannelLogout: the administration the CLI opens (OpenAdmin, no
// running server) ends sessions through the outbox, so the session's apps still get
// back-channel logout from the server's deliverer.
func TestOfflineAdminQueuesBackchannelLogout(t *testing.T) {
	var cfg bridge.Config
	e := newEnv(t, func(c *bridge.Config) {
		c.Clients = append(c.Clients, config.Client{ID: "bcl", Name: "BCL App", Secret: webSecret, Trusted: true,
			RedirectURIs: []string{"http://127.0.0.1:9/app/bcl"}, BackchannelLogoutURI: "http://127.0.0.1:9/app/bcl/logout",
			AllowInternalTargets: true})
		cfg = *c
	})
	app, _ := e.oauth("bcl", webSecret, "http://127.0.0.1:9/app/bcl", oauth2.AuthStyleInHeader)
	e.signIn(e.browser(), app.AuthCodeURL("s"), "alice", "alice-password")
	ctx := context.Background()
	chk, err := cfg.Check(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	a, closeAdmin, err := bridge.OpenAdmin(ctx, chk)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAdmin()
	sessions, _ := e.store.Sessions(ctx, "")
	if len(sessions) != 1 {
		t.Fatalf("sessions: %d", len(sessions))
	}
	if n, err := a.EndSessions(ctx, "test", admin.Filter{Subject: sessions[0].Subject}); err != nil || n != 1 {
		t.Fatalf("end sessions: %d %v", n, err)
	}
	evs, err := e.store.OutboxEvents(ctx, store.OutboxFilter{ClientID: "bcl"})
	if err != nil || len(evs) != 1 || evs[0].Channel != "backchannel" {
		t.Fatalf("outbox: %v %+v", err, evs)
	}
}
