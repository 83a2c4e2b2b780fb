package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/imis/imistest"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// withAdmin turns the admin listener on (its handler is served by the test).
func withAdmin(c *bridge.Config) { c.Admin.Token = adminToken }

// adminServer serves the bridge's admin listener.
func (e *env) adminServer() *httptest.Server {
	e.t.Helper()
	h := e.bridge.AdminHandler()
	if h == nil {
		e.t.Fatal("admin handler off")
	}
	srv := httptest.NewServer(h)
	e.t.Cleanup(srv.Close)
	return srv
}

// scrape is one read of /metrics: series text to value.
type scrape map[string]float64

func scrapeMetrics(t testing.TB, base string) (scrape, string) {
	t.Helper()
	resp, err := http.Get(base + bridge.PathMetrics)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %s", resp.StatusCode, body)
	}
	out := scrape{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out, string(body)
}

// TestMetricsCountSignInsAndTokens scrapes /metrics on the admin listener before and after a
// sign-in with its code exchange, a refresh, a reused refresh token and a failed sign-in, and
// checks each counter's change.
func TestMetricsCountSignInsAndTokens(t *testing.T) {
	e := newEnv(t, withAdmin)
	admin := e.adminServer()
	before, _ := scrapeMetrics(t, admin.URL)

	cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	code := e.signIn(b, cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce")), "alice", "alice-password")
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	old := *tok
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := cfg.TokenSource(e.ctx(), tok).Token(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	old.Expiry = time.Now().Add(-time.Hour)
	if _, err := cfg.TokenSource(e.ctx(), &old).Token(); err == nil {
		t.Fatal("a reused refresh token was accepted")
	}
	fresh := e.browser() // no SSO session: the form is shown
	fail := fresh.Login(fresh.Get(cfg.AuthCodeURL("x")), "bob", "wrong-password")
	if fail.Status != http.StatusUnauthorized {
		t.Fatalf("failed sign-in: %d", fail.Status)
	}

	after, body := scrapeMetrics(t, admin.URL)
	for _, c := range []struct {
		series string
		delta  float64
	}{
		{`ssobridge_signins_total{method="password",outcome="ok"}`, 1},
		{`ssobridge_signins_total{method="password",outcome="bad_credentials"}`, 1},
		{`ssobridge_tokens_issued_total{client="web",grant_type="authorization_code"}`, 1},
		{`ssobridge_tokens_issued_total{client="web",grant_type="refresh_token"}`, 1},
		{`ssobridge_refresh_token_reuse_total`, 1},
		{`ssobridge_audit_events_total{event="token.refresh_reuse"}`, 1},
		{`ssobridge_audit_events_total{event="login.failure"}`, 1},
		{`ssobridge_http_requests_total{code="200",method="POST",route="/oauth/token"}`, 2},
		{`ssobridge_http_requests_total{code="400",method="POST",route="/oauth/token"}`, 1},
		{`ssobridge_http_request_duration_seconds_count{method="POST",route="/oauth/token"}`, 3},
		{`ssobridge_http_requests_total{code="401",method="POST",route="/login"}`, 1},
	} {
		if got := after[c.series] - before[c.series]; got != c.delta {
			t.Errorf("%s: changed by %v, want %v", c.series, got, c.delta)
		}
	}
	for _, name := range []string{
		`ssobridge_signing_key_age_seconds{alg="RS256"}`, `ssobridge_signing_key_next_rotation_seconds{alg="ES256"}`,
		`ssobridge_build_info`, `go_goroutines`, `process_resident_memory_bytes`,
	} {
		found := false
		for k := range after {
			if strings.HasPrefix(k, name) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s series", name)
		}
	}
	if next := after[`ssobridge_signing_key_next_rotation_seconds{alg="RS256"}`]; next <= 0 {
		t.Errorf("next rotation in %v s", next)
	}
	// No member data in any label: no login, e-mail, or subject.
	for _, bad := range []string{"alice", "bob", "example.org", idt.Subject} {
		if strings.Contains(body, bad) {
			t.Errorf("/metrics mentions %q", bad)
		}
	}
}

// fetchJSON fetches u and decodes its JSON body.
func fetchJSON(t testing.TB, u string, v any) int {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", u, err)
	}
	return resp.StatusCode
}

type readyBody struct {
	Ready  bool `json:"ready"`
	Checks []struct {
		Name  string `json:"name"`
		OK    bool   `json:"ok"`
		Gates bool   `json:"gates_readiness"`
		Error string `json:"error"`
	} `json:"checks"`
}

// TestReadyzFollowsTheAMS runs the bridge over the iMIS directory through the real go-mssqldb
// driver against the fake TDS server: /readyz (public and admin listener) is ready, goes
// unready (503) when the AMS stops accepting connections, and is ready again when it returns;
// /healthz answers throughout. The AMS's ping query shows in the metrics.
func TestReadyzFollowsTheAMS(t *testing.T) {
	ams, err := imistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ams.Close() })
	m := bridge.NewMetrics()
	quiet := slog.New(slog.DiscardHandler)
	cfg := imis.SQLConfig(sqldir.Config{Driver: sqldir.DriverSQLServer, DSN: ams.DSN("dial timeout=1"), Preset: imis.PresetNameIMIS,
		MemberKey: imis.MemberKeyContact, QueryTimeout: time.Second})
	conn, err := sqldir.OpenConnector(context.Background(), cfg, legacy.OpenOptions{Logger: quiet, Queries: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e := newEnvDeps(t, false, conn.Directory(), envDeps{metrics: m}, withAdmin, func(c *bridge.Config) {
		c.Health.CacheFor = 0
		c.Health.Timeout = 3 * time.Second
	})
	admin := e.adminServer()

	ready := func(want bool) {
		t.Helper()
		for _, base := range []string{e.issuer, admin.URL} {
			var rb readyBody
			status := fetchJSON(t, base+bridge.PathReadyz, &rb)
			if rb.Ready != want || (status == http.StatusOK) != want {
				t.Fatalf("%s/readyz: status %d %+v, want ready %v", base, status, rb, want)
			}
			for _, c := range rb.Checks {
				if c.Name == config.ReadyAMS && c.OK != want {
					t.Fatalf("%s/readyz: ams check %+v", base, c)
				}
				if base == e.issuer && c.Error != "" {
					t.Fatalf("public /readyz shows an error: %q", c.Error)
				}
			}
			var hz map[string]string
			if status := fetchJSON(t, base+bridge.PathHealthz, &hz); status != http.StatusOK || hz["status"] != "ok" {
				t.Fatalf("%s/healthz: %d %v", base, status, hz)
			}
		}
	}
	ready(true)
	ams.Stop()
	ready(false)
	if err := ams.Resume(); err != nil {
		t.Fatal(err)
	}
	ready(true)

	s, _ := scrapeMetrics(t, admin.URL)
	if s[`ssobridge_ams_query_errors_total{query="ping"}`] < 1 || s[`ssobridge_ams_query_duration_seconds_count{query="ping"}`] < 3 {
		t.Errorf("ping query metrics: errors %v, count %v", s[`ssobridge_ams_query_errors_total{query="ping"}`],
			s[`ssobridge_ams_query_duration_seconds_count{query="ping"}`])
	}
}

// TestReadyzChecksAreConfigurable: with the ams check left out of health.ready_checks an AMS
// outage is reported but does not make the bridge unready.
func TestReadyzChecksAreConfigurable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		checks []string
		ready  bool
	}{
		{"ams gates", nil, false},
		{"ams tolerated", []string{config.ReadyStore, config.ReadyKeys}, true},
		{"nothing gates", []string{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *bridge.Config) {
				c.Health.CacheFor = 0
				if tc.checks != nil {
					c.Health.ReadyChecks = tc.checks
				}
			})
			e.dir.Down = true
			var rb readyBody
			status := fetchJSON(t, e.issuer+bridge.PathReadyz, &rb)
			if rb.Ready != tc.ready || (status == http.StatusOK) != tc.ready {
				t.Fatalf("status %d %+v", status, rb)
			}
			for _, c := range rb.Checks {
				if ok := c.Name != config.ReadyAMS; c.OK != ok {
					t.Errorf("check %+v", c)
				}
			}
		})
	}
}

// TestMetricsCountHandoffs: a hand-off from the AMS website counts as a sign-in by method
// ams_handoff (ok), its replay as replayed, and a token the AMS refuses as refused.
func TestMetricsCountHandoffs(t *testing.T) {
	e := newEnvWith(t, true, withAdmin)
	admin := e.adminServer()
	before, _ := scrapeMetrics(t, admin.URL)
	tok, err := e.amsSim.IssueRefreshToken("alice", "ssobridge")
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{tok, tok, "0123456789abcdef0123456789abcdef"} {
		e.browser().Post(e.issuer+"/handoff/imis", url.Values{"refresh_token": {token}})
	}
	after, _ := scrapeMetrics(t, admin.URL)
	for _, outcome := range []string{"ok", "replayed", "refused"} {
		s := `ssobridge_signins_total{method="ams_handoff",outcome="` + outcome + `"}`
		if d := after[s] - before[s]; d != 1 {
			t.Errorf("%s changed by %v, want 1", s, d)
		}
	}
}

// TestMetricsCountAdminRequests: the admin listener's requests are counted like the public
// ones, under "admin:" and the pattern that served them (never the raw path).
func TestMetricsCountAdminRequests(t *testing.T) {
	e := newEnv(t, withAdmin)
	admin := e.adminServer()
	before, _ := scrapeMetrics(t, admin.URL)
	for _, p := range []string{bridge.PathHealthz, "/admin/clients", "/admin/clients/web", "/admin/clients/web"} {
		req, _ := http.NewRequest(http.MethodGet, admin.URL+p, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	after, body := scrapeMetrics(t, admin.URL)
	healthz := `ssobridge_http_requests_total{code="200",method="GET",route="admin:GET /healthz"}`
	if d := after[healthz] - before[healthz]; d != 1 {
		t.Fatalf("%s went up by %v, want 1:\n%s", healthz, d, body)
	}
	var api float64
	for k, v := range after {
		if strings.HasPrefix(k, "ssobridge_http_requests_total{") && strings.Contains(k, `route="admin:`) && strings.Contains(k, "/admin/clients") {
			api += v - before[k]
		}
		if strings.Contains(k, "/admin/clients/web") {
			t.Fatalf("a raw path in a label: %s", k)
		}
	}
	if api != 3 {
		t.Fatalf("admin API requests counted %v times, want 3:\n%s", api, body)
	}
}

// TestMetricsOutboxBacklog: the outbox gauges count every waiting event of a target (counted by
// the store, not by reading events into the process: a scrape used to read up to 10,000 events
// per state).
func TestMetricsOutboxBacklog(t *testing.T) {
	e := newEnv(t, withAdmin)
	admin := e.adminServer()
	bg := context.Background()
	now := time.Now()
	for i := range 12 {
		ev := &store.OutboxEvent{ID: fmt.Sprintf("wait-%d", i), Key: fmt.Sprintf("webhook|web|%d", i), Type: "user.updated",
			Channel: "webhook", ClientID: "web", Subject: "sub-x", Payload: []byte(`{}`),
			CreatedAt: now.Add(-time.Duration(i) * time.Minute), NextAttempt: now.Add(time.Hour)}
		if err := e.store.Enqueue(bg, ev); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := scrapeMetrics(t, admin.URL)
	if got := s[`ssobridge_outbox_pending{channel="webhook",client="web"}`]; got != 12 {
		t.Errorf("outbox_pending = %v, want 12", got)
	}
	if got := s[`ssobridge_outbox_oldest_pending_age_seconds{channel="webhook",client="web"}`]; got < 11*60 || got > 13*60 {
		t.Errorf("oldest pending age = %v s, want about 660", got)
	}
	if got := s[`ssobridge_outbox_dead_letters{channel="webhook",client="web"}`]; got != 0 {
		t.Errorf("dead letters = %v, want 0", got)
	}
}
