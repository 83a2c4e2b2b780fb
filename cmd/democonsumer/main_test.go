package main

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	bridgeconfig "github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
)

const (
	clientSecret = "demo-consumer-secret-0123456789abcdef"
	pollInterval = time.Second
)

const scimToken = "democonsumer-scim-token-0123456789"

var webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("democonsumer-webhook-secret-0123"))

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// liveness bounds waitFor: a limit for asynchronous delivery, generous so that a loaded
// machine does not fail the test; never a performance assertion (how long a change took is
// logged, not asserted).
const liveness = 30 * time.Second

// waitFor polls cond until it holds or the bound passes.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoConsumer runs a bridge and the demo consumer on 127.0.0.1: a member signs in to the
// app (shadow user pushed by webhook or SCIM, and upserted from the ID token), a role change in
// the AMS reaches the app's table within one poll interval, and signing out at the bridge ends
// the app's session by back-channel logout; the member disabled in the AMS is deactivated at
// the app (with SCIM groups: out of their roles' groups, so holding no role there) and, enabled
// again, active with their roles. The bridge's deliverers and the consumer's handlers read and
// write one format (package wire), by either kind of target.
func TestDemoConsumer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(app string) outbox.Settings
	}{
		{"webhook", func(app string) outbox.Settings { return &webhook.Config{URL: app + "/webhook", Secret: webhookSecret} }},
		{"scim put", func(app string) outbox.Settings { return &scim.Config{URL: app + "/scim/v2", Token: scimToken} }},
		{"scim patch", func(app string) outbox.Settings {
			return &scim.Config{URL: app + "/scim/v2", Token: scimToken, Update: "patch"}
		}},
		{"scim groups", func(app string) outbox.Settings {
			return &scim.Config{URL: app + "/scim/v2", Token: scimToken, Groups: true}
		}},
		{"scim patch groups", func(app string) outbox.Settings {
			return &scim.Config{URL: app + "/scim/v2", Token: scimToken, Update: "patch", Groups: true}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { testDemoConsumer(t, tc.target) })
	}
}

func testDemoConsumer(t *testing.T, target func(app string) outbox.Settings) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lnB, lnC := listen(t), listen(t)
	issuer, app := "http://"+lnB.Addr().String(), "http://"+lnC.Addr().String()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	cfg := bridge.Defaults()
	cfg.Issuer, cfg.Listen, cfg.DataDir = issuer, lnB.Addr().String(), t.TempDir()
	cfg.Keys.Algorithms = []string{"RS256"}
	cfg.Clients = []bridgeconfig.Client{{ID: "demo-consumer", Name: "Demo Consumer", Secret: clientSecret, Trusted: true,
		RedirectURIs: []string{app + "/callback"}, BackchannelLogoutURI: app + "/backchannel-logout",
		AllowInternalTargets: true}} // the demo consumer listens on 127.0.0.1
	cfg.Shadow.PollInterval = pollInterval
	cfg.Provisioning = map[string]provisioning.Target{"demo-consumer": {AllowInternal: true, Settings: target(app)}}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := bridgetest.NewDirectory()
	b, err := bridge.New(ctx, bridge.Deps{Config: cfg, Store: st, Directory: dir, SigningKeyEncryption: make([]byte, 32), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	bsrv := &http.Server{Handler: b.Handler()}
	go bsrv.Serve(lnB)
	defer bsrv.Close()
	runCtx, stopRun := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { b.Run(runCtx); close(runDone) }()
	stopBridge := func() { stopRun(); <-runDone }
	defer stopBridge() // before the store closes

	a, err := newApp(ctx, config{Issuer: issuer, ClientID: "demo-consumer", ClientSecret: clientSecret, Base: app,
		DB: filepath.Join(t.TempDir(), "democonsumer.db"), WebhookSecret: webhookSecret, SCIMToken: scimToken}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.db.Close()
	csrv := &http.Server{Handler: a.handler()}
	go csrv.Serve(lnC)
	defer csrv.Close()

	// Sign in to the app through the bridge.
	br := bridgetest.NewBrowser(t, issuer)
	p := br.Get(app + "/login")
	p = br.Login(p, "alice", "alice-password")
	if !strings.HasPrefix(p.Location, app+"/callback") {
		t.Fatalf("after login: status %d location %q", p.Status, p.Location)
	}
	br.Get(p.Location)
	home := br.Get(app + "/")
	if !strings.Contains(home.Body, `id="signed-in"`) {
		t.Fatalf("app home after sign-in:\n%s", home.Body)
	}
	users, _ := a.c.Users(ctx)
	if len(users) != 1 || users[0].Login != "alice" || !users[0].Active {
		t.Fatalf("shadow users after sign-in: %+v", users)
	}
	sub := users[0].Subject
	// The webhook push of the first sign-in arrives too (it carries the membership fields).
	defer func() {
		if t.Failed() {
			evs, _ := st.OutboxEvents(ctx, store.OutboxFilter{})
			for _, e := range evs {
				t.Logf("outbox: %s %s %s attempts=%d err=%s", e.Type, e.Channel, e.State, e.Attempts, e.LastError)
			}
		}
	}()
	waitFor(t, liveness, "provisioning push", func() bool {
		u, err := a.c.User(ctx, sub)
		return err == nil && len(u.Membership) > 0
	})

	// A role change in the AMS reaches the app's table (the next poll, then delivery).
	dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Member", "Board"} })
	changed := time.Now()
	waitFor(t, liveness, "role change", func() bool {
		u, err := a.c.User(ctx, sub)
		return err == nil && slices.Equal(u.Roles, []string{"Board", "Member"})
	})
	t.Logf("role change reached the app %s after the AMS change (poll interval %s)", time.Since(changed).Round(time.Millisecond), pollInterval)
	// An email removed in the AMS is removed at the app (a PATCH's replace leaves an attribute
	// it does not name as it was, RFC 7644 3.5.2.3: the bridge removes it with its path,
	// 3.5.2.2; the consumer refuses null in a replace, as servers that validate values do).
	if u, _ := a.c.User(ctx, sub); u.Email == "" {
		t.Fatal("alice has no email at the app to remove")
	}
	dir.Update("alice", func(m *legacy.Member) { m.Email = "" })
	waitFor(t, liveness, "email removed", func() bool {
		u, err := a.c.User(ctx, sub)
		return err == nil && u.Email == ""
	})

	// Sign out at the bridge: the app's session ends by back-channel logout.
	page := br.Get(issuer + "/logout")
	out := br.Post(issuer+"/logout", url.Values{"csrf": {page.Hidden().Get("csrf")}, "t": {""}})
	if out.Status >= 400 {
		t.Fatalf("bridge logout: %d", out.Status)
	}
	waitFor(t, liveness, "back-channel logout", func() bool {
		return strings.Contains(br.Get(app+"/").Body, `id="signed-out"`)
	})

	// Disabled in the AMS: deactivated at the app. With SCIM groups the member leaves the
	// groups of their roles in that delivery: the app's groups are its roles, so none is left.
	groups := false
	if sc, ok := target(app).(*scim.Config); ok {
		groups = sc.Groups
	}
	wantRoles := []string{"Board", "Member"}
	if groups {
		wantRoles = []string{}
	}
	dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	waitFor(t, liveness, "deactivation", func() bool {
		u, err := a.c.User(ctx, sub)
		return err == nil && !u.Active && slices.Equal(u.Roles, wantRoles)
	})
	// Enabled again: active, with the roles (and groups) back.
	dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = false })
	waitFor(t, liveness, "reactivation", func() bool {
		u, err := a.c.User(ctx, sub)
		return err == nil && u.Active && slices.Equal(u.Roles, []string{"Board", "Member"})
	})
	// The app acts on the logout before it answers, and the bridge records the delivery only
	// after the answer: reading the outbox now raced with that (seen: the event still pending).
	// Stopping the bridge finishes and records the deliveries in flight; then the outbox is
	// final.
	stopBridge()
	if c, _ := st.OutboxCounts(ctx); c["dead"] != 0 || c["pending"] != 0 {
		t.Fatalf("outbox after the run: %v", c)
	}
}
