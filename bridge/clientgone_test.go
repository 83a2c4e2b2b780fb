package bridge_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/metrics"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// heldStore is the SQLite store whose method named by armed (the code exchange's read or
// its write), once armed, waits until its caller gives up and then runs with the caller's
// (cancelled) context, as a store that hangs would.
type heldStore struct {
	*sqlite.Store
	armed   atomic.Value // string
	entered chan struct{}
}

func (s *heldStore) hold(ctx context.Context, method string) {
	if m, _ := s.armed.Load().(string); m == method {
		s.entered <- struct{}{}
		<-ctx.Done()
	}
}

func (s *heldStore) CodeRequest(ctx context.Context, id string) (*sso.AuthRequest, bool, error) {
	s.hold(ctx, "CodeRequest")
	return s.Store.CodeRequest(ctx, id)
}

func (s *heldStore) IssueTokens(ctx context.Context, in sso.Issue) error {
	s.hold(ctx, "IssueTokens")
	return s.Store.IssueTokens(ctx, in)
}

// heldDirectory is the test directory whose password check, once armed, waits until its
// caller gives up and then fails with the caller's context error, as the AMS driver does.
type heldDirectory struct {
	*bridgetest.Directory
	armed   atomic.Bool
	entered chan struct{}
}

func (d *heldDirectory) Authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	if d.armed.Load() {
		d.entered <- struct{}{}
		<-ctx.Done()
		return nil, legacy.Unavailable("authenticate", ctx.Err())
	}
	return d.Directory.Authenticate(ctx, login, password)
}

// TestClientGoneIsNotAServerError: a client that disconnects while the bridge waits for the
// store (the token endpoint) or the AMS (the sign-in form) is not a failure of the bridge. Its
// request is one line at INFO with status 499 (nginx's "client closed request"), no ERROR or
// WARN line, and the metrics count a 499, not a 500. A real 500 is still an error
// (TestAccessLineLevel).
func TestClientGoneIsNotAServerError(t *testing.T) {
	for _, tc := range []struct {
		name string
		path string
		// wantAudit is the audit event the request writes, client gone or not.
		wantAudit string
		// arm starts the request's hang; send makes the request with ctx.
		run func(t *testing.T, e *env, st *heldStore, dir *heldDirectory) (entered chan struct{}, send func(ctx context.Context) error)
	}{
		{name: "token endpoint, code read", path: "/oauth/token", run: func(t *testing.T, e *env, st *heldStore, _ *heldDirectory) (chan struct{}, func(context.Context) error) {
			cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			// A code's first exchange here reads nothing (sso's codeCache keeps the request of
			// the login form's code and of op's callback's): its second presentation reads it.
			code := e.signIn(e.browser(), cfg.AuthCodeURL("st4te"), "alice", "alice-password")
			if _, err := cfg.Exchange(e.ctx(), code); err != nil {
				t.Fatalf("first exchange: %v", err)
			}
			st.armed.Store("CodeRequest")
			return st.entered, func(ctx context.Context) error {
				_, err := cfg.Exchange(oidcClientContext(ctx, e), code)
				return err
			}
		}},
		{name: "token endpoint, issuing", path: "/oauth/token", run: func(t *testing.T, e *env, st *heldStore, _ *heldDirectory) (chan struct{}, func(context.Context) error) {
			cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			code := e.signIn(e.browser(), cfg.AuthCodeURL("st4te"), "alice", "alice-password")
			st.armed.Store("IssueTokens")
			return st.entered, func(ctx context.Context) error {
				_, err := cfg.Exchange(oidcClientContext(ctx, e), code)
				return err
			}
		}},
		{name: "sign-in form", path: "/login", wantAudit: "login.failure", run: func(t *testing.T, e *env, _ *heldStore, dir *heldDirectory) (chan struct{}, func(context.Context) error) {
			cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			b := e.browser()
			page := b.Get(cfg.AuthCodeURL("st4te"))
			f := page.Hidden()
			form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {"alice"}, "password": {"alice-password"}}
			dir.armed.Store(true)
			return dir.entered, func(ctx context.Context) error {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+"/login", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := b.Client.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				return err
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out lockedBuffer
			log := logging.New(&out, logging.FormatJSON, slog.LevelInfo)
			st := &heldStore{entered: make(chan struct{}, 1)}
			dir := &heldDirectory{Directory: bridgetest.NewDirectory(), entered: make(chan struct{}, 1)}
			m := metrics.New(metrics.BuildInfo{})
			e := newEnvDeps(t, false, dir, envDeps{logger: log, metrics: m, store: func(t testing.TB) store.Store {
				s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "ssobridge.db"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				st.Store = s
				return st
			}})
			entered, send := tc.run(t, e, st, dir)
			mark := len(out.String()) // the lines before are the set-up's

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- send(ctx) }()
			<-entered
			cancel()
			err := <-done
			_ = err
			if err == nil {
				t.Fatal("the request succeeded although its client gave up")
			}

			// The access line and the metrics are written when the handler returns, after the
			// client left: closing the server waits for that (httptest.Server.Close blocks until
			// every outstanding request has completed), so nothing below depends on how long the
			// handler takes to notice under load.
			e.srv.Close()
			type line struct {
				Level, Msg, Path string
				Status           int
			}
			var access *line
			var lines []line
			for _, raw := range strings.Split(strings.TrimSpace(out.String()[mark:]), "\n") {
				var l line
				if err := json.Unmarshal([]byte(raw), &l); err != nil {
					t.Fatalf("not a JSON line: %q", raw)
				}
				lines = append(lines, l)
			}
			for i, l := range lines {
				if l.Msg == "http" && l.Path == tc.path && l.Status != http.StatusOK && l.Status != http.StatusFound &&
					l.Status != http.StatusSeeOther {
					access = &lines[i]
				}
			}
			if access == nil {
				t.Fatalf("no access line for %s:\n%s", tc.path, out.String())
			}
			if access.Status != 499 || access.Level != "INFO" {
				t.Errorf("access line of a client gone: status %d at %s, want 499 at INFO\n%s", access.Status, access.Level, out.String())
			}
			for _, l := range lines {
				if l.Level == "ERROR" || l.Level == "WARN" {
					t.Errorf("%s line for a client that went away: %+v", l.Level, l)
				}
			}
			// The failed sign-in's audit row is written although its client left (an attacker
			// does not escape the audit log by hanging up).
			if tc.wantAudit != "" {
				evs, err := st.Store.AuditEvents(context.Background(), store.AuditFilter{Event: tc.wantAudit})
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) != 1 {
					t.Errorf("%d %s audit rows, want 1", len(evs), tc.wantAudit)
				}
			}
			ms := httptest.NewServer(m.Handler())
			defer ms.Close()
			got, body := scrapeMetrics(t, ms.URL)
			for k, v := range got {
				if strings.HasPrefix(k, "ssobridge_http_requests_total{") && strings.Contains(k, `code="5`) && v > 0 {
					t.Errorf("a client gone counted as a server error: %s %v", k, v)
				}
			}
			if !strings.Contains(body, `code="499"`) {
				t.Errorf("no request counted with code 499:\n%s", body)
			}
		})
	}
}

func oidcClientContext(ctx context.Context, e *env) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, e.srv.Client())
}
