package bridge_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	legacydemo "github.com/ssobridge/ssobridge/legacy/demo"
	imissim "github.com/ssobridge/ssobridge/legacy/imis/sim"
	"github.com/ssobridge/ssobridge/sso"
)

// env is one running bridge on 127.0.0.1 with a confidential, a second confidential and a
// public client, over a temp-file SQLite store and an in-memory directory.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	bridge *bridge.Server
	store  *sqlite.Store
	dir    *bridgetest.Directory
	issuer string
	rp     string // the apps' redirect base (nothing listens: the browser stops there)
	dbPath string // the SQLite file
	// amsSim is the demo's simulated AMS website (newEnvWith demo true), mounted under /demo-ams.
	amsSim *imissim.Simulator
}

const (
	webSecret   = "web-secret-0123456789abcdef0123456789"
	otherSecret = "other-secret-0123456789abcdef012345678"
)

func newEnv(t testing.TB, mutate ...func(*bridge.Config)) *env {
	t.Helper()
	return newEnvWith(t, false, mutate...)
}

// newEnvWith can run the bridge as on embedded defaults (demo true): the AMS simulator is
// mounted under /demo-ams and wired to the hand-off (members still come from the test directory).
func newEnvWith(t testing.TB, demo bool, mutate ...func(*bridge.Config)) *env {
	t.Helper()
	return newEnvDir(t, demo, nil, mutate...)
}

// newEnvDir runs the bridge over dir (nil: the in-memory test directory).
func newEnvDir(t testing.TB, demo bool, dir legacy.Directory, mutate ...func(*bridge.Config)) *env {
	t.Helper()
	return newEnvDeps(t, demo, dir, envDeps{}, mutate...)
}

// envDeps are optional parts of the bridge's Deps for newEnvDeps.
type envDeps struct {
	metrics *metrics.Metrics // nil: the server's own
	logger  *slog.Logger     // nil: discarded
	// store opens the bridge's store (closing it when t ends); nil: SQLite in the data dir.
	// With another store, env.store is nil.
	store func(t testing.TB) store.Store
	// profileCache puts the profile cache (legacy/cache, TTL an hour) in front of the test
	// directory, as production runs every SQL directory; env.dir stays the directory behind it.
	profileCache bool
	// sharedThrottles keeps the throttle's counters in the store on SQLite too.
	sharedThrottles bool
}

// newEnvDeps runs the bridge over dir with the given metrics registry and logger.
func newEnvDeps(t testing.TB, demo bool, dir legacy.Directory, deps envDeps, mutate ...func(*bridge.Config)) *env {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return newEnvAt(t, ln, "http://"+ln.Addr().String(), demo, dir, deps, mutate...)
}

// newEnvAt runs the bridge on ln under issuer (a name of ln's address: two bridges a browser
// uses at once need two host names, as cookies do not tell ports apart).
func newEnvAt(t testing.TB, ln net.Listener, issuer string, demo bool, dir legacy.Directory, deps envDeps, mutate ...func(*bridge.Config)) *env {
	t.Helper()
	rp := "http://127.0.0.1:9/app"
	cfg := bridge.Defaults()
	cfg.Issuer = issuer
	cfg.Listen = ln.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.Keys.Algorithms = []string{"RS256", "ES256"}
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(make([]byte, 32)) // what Deps passes
	cfg.Clients = []config.Client{
		{ID: "web", Name: "Member Portal", Secret: webSecret, Trusted: true,
			RedirectURIs: []string{rp + "/callback"}, PostLogoutRedirectURIs: []string{rp + "/signed-out"}},
		{ID: "other", Name: "Events App", Secret: otherSecret, Trusted: true, IDTokenSigningAlg: "ES256",
			RedirectURIs: []string{rp + "/other"}},
		{ID: "third", Name: "Third Party Journal", Secret: otherSecret,
			RedirectURIs: []string{rp + "/third"}},
		{ID: "mobile", Name: "Mobile App", Public: true, Trusted: true,
			RedirectURIs: []string{"http://127.0.0.1/mobile/cb", "org.example.app:/cb"}},
		{ID: "exchanger", Name: "Server App", Secret: webSecret, Trusted: true, RedirectURIs: []string{rp + "/exchanger"},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantTokenExchange}},
	}
	for _, m := range mutate {
		m(&cfg)
	}
	ctx := context.Background()
	var (
		st  *sqlite.Store
		bst store.Store
		err error
	)
	if deps.store != nil {
		bst = deps.store(t)
	} else {
		st, err = sqlite.Open(ctx, filepath.Join(cfg.DataDir, "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bst = st
	}
	testDir := bridgetest.NewDirectory()
	if dir == nil {
		dir = testDir
		if deps.profileCache {
			dir = cache.Wrap(testDir, cache.Options{TTL: time.Hour})
		}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	log := quiet
	if deps.logger != nil {
		log = deps.logger
	}
	var conn legacy.Connector
	var amsSim *imissim.Simulator
	if demo {
		// The demo connector's simulated AMS website, over this directory.
		sim, err := legacydemo.Simulate(legacy.DirectoryConnector(dir), legacy.OpenOptions{Logger: quiet, Issuer: issuer,
			HandoffURL: issuer + bridge.PathHandoff, SiteName: cfg.Organisation.Name}, cfg.AMS.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		conn, amsSim = sim, sim.Simulator()
	}
	// The keys an earlier bridge of the same place in a test made, when its settings are these
	// (keys_shared_test.go): RSA key generation was most of the package's time.
	var issuerHost string
	if u, err := url.Parse(issuer); err == nil {
		issuerHost = u.Hostname()
	}
	keep := sharedBridgeKeys(t, st, cfg, issuerHost, deps.logger != nil)
	b, err := bridge.New(ctx, bridge.Deps{Config: cfg, Store: bst, Directory: dir, Connector: conn,
		SigningKeyEncryption: make([]byte, 32), Logger: log, Metrics: deps.metrics, SharedThrottles: deps.sharedThrottles})
	if err != nil {
		t.Fatal(err)
	}
	keep()
	srv := httptest.NewUnstartedServer(b.Handler())
	srv.Listener.Close()
	// Connections as serve has them (cmd/ssobridge): deadlines recorded by LazyDeadlines,
	// net/http's background read parked while a request runs (BackgroundReads), so every
	// client of these tests (the RPs, Chromium, the Go clients) goes through them.
	srv.Listener = web.LazyDeadlines(ln, web.DeadlineTick)
	srv.Config.ConnState = web.BackgroundReads(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, bridge: b, store: st, dir: testDir, issuer: issuer, rp: rp,
		dbPath: filepath.Join(cfg.DataDir, "ssobridge.db"), amsSim: amsSim}
}

func (e *env) ctx() context.Context {
	return oidc.ClientContext(context.Background(), e.srv.Client())
}

// oauth returns an x/oauth2 config and a go-oidc verifier for a client.
func (e *env) oauth(clientID, secret, redirect string, style oauth2.AuthStyle, scopes ...string) (*oauth2.Config, *oidc.IDTokenVerifier) {
	e.t.Helper()
	p, err := oidc.NewProvider(e.ctx(), e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	ep := p.Endpoint()
	ep.AuthStyle = style
	cfg := &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: ep, RedirectURL: redirect, Scopes: scopes}
	v := p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"RS256", "ES256", "EdDSA"}})
	return cfg, v
}

// signIn runs the browser through authorize and the login form and returns the code.
func (e *env) signIn(b *bridgetest.Browser, authURL, login, password string) string {
	e.t.Helper()
	p := b.Get(authURL)
	if p.Location == "" {
		p = b.Login(p, login, password)
	}
	q := p.Redirected(e.t)
	if q.Get("error") != "" {
		e.t.Fatalf("authorize error: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	return q.Get("code")
}

func (e *env) browser() *bridgetest.Browser { return bridgetest.NewBrowser(e.t, e.issuer) }

func postForm(t testing.TB, u string, form map[string]string, basic ...string) (*http.Response, map[string]any) {
	t.Helper()
	vals := make([]string, 0)
	for k, v := range form {
		vals = append(vals, k+"="+urlEscape(v))
	}
	req, _ := http.NewRequest(http.MethodPost, u, stringsReader(join(vals, "&")))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	return doJSON(t, req)
}

var _ = time.Second
