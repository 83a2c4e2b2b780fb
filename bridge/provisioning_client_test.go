package bridge_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// startUpWith starts a bridge (bridge.New) as the start-up refusals below do: on a fresh
// SQLite store holding one client added through the administration ("dyn"), with
// bridge.Defaults() and a static client "portal" (initiate_login_uri: loginURI), as mutate
// changes them. It returns what was logged and the start-up error.
func startUpWith(t *testing.T, loginURI string, mutate func(*bridge.Config)) (logs string, err error) {
	t.Helper()
	ctx := context.Background()
	cfg := bridge.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Clients = append(cfg.Clients, config.Client{ID: "portal", Name: "Portal", Secret: webSecret,
		RedirectURIs: []string{"https://portal.example.org/cb"}, InitiateLoginURI: loginURI})
	mutate(&cfg)
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sc, err := sso.EncodeClient(&sso.ClientConfig{ID: "dyn", Name: "Dynamic", SecretHash: sso.HashSecret("s"),
		RedirectURIs: []string{"https://dyn.example.org/cb"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateClient(ctx, sc); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, err = bridge.New(ctx, bridge.Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
		SigningKeyEncryption: make([]byte, 32), Logger: slog.New(slog.NewTextHandler(&lockedWriterTo{w: &out}, nil))})
	return out.String(), err
}

// TestProvisioningTargetNeedsAClient: a provisioning target whose client id names no client
// (none in clients:, none added to the store) stops start-up with an error naming the field;
// before, it started and the target never got an event (a typo left the app's lapsed members
// active there). A target for a client of the configuration or of the store starts.
func TestProvisioningTargetNeedsAClient(t *testing.T) {
	target := provisioning.Target{AllowInternal: true, Settings: &webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: testWebhookSecret}}
	for _, tc := range []struct {
		name    string
		targets []string
		want    string // in the start-up error; "" starts
	}{
		{"config client", []string{"portal"}, ""},
		{"store client", []string{"dyn"}, ""},
		{"no such client", []string{"portl", "portal"}, `provisioning.portl: no client has the id "portl"`},
		{"two", []string{"nope", "portl"}, "provisioning.nope: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := startUpWith(t, "", func(cfg *bridge.Config) {
				cfg.Provisioning = map[string]provisioning.Target{}
				for _, id := range tc.targets {
					cfg.Provisioning[id] = target
				}
				if err := cfg.Validate(); err != nil {
					t.Fatalf("validate: %v", err)
				}
			})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("start-up: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("started with targets %v, want %q", tc.targets, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start-up: %v, want %q", err, tc.want)
			}
			if tc.name == "two" && !strings.Contains(err.Error(), "provisioning.portl: ") {
				t.Fatalf("start-up names one of two: %v", err)
			}
		})
	}
}

// TestDefaultClientNeedsAClient: an ams.default_client that names no client stops start-up
// naming the field; before, a hand-off with no app waiting went to the account page without a
// word. One that names a client of the configuration or of the store starts.
func TestDefaultClientNeedsAClient(t *testing.T) {
	for id, want := range map[string]string{"portal": "", "dyn": "", "portl": `ams.default_client: no client has the id "portl"`} {
		t.Run(id, func(t *testing.T) {
			_, err := startUpWith(t, "", func(cfg *bridge.Config) { cfg.AMS.DefaultClient = id })
			if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Fatalf("start-up with ams.default_client %q: %v, want %q", id, err, want)
			}
		})
	}
}

// TestDefaultClientWithoutLoginURIWarned (end-of-session review s13 RV2-6): an ams.default_client
// whose client has no usable initiate_login_uri starts, with one warning naming the field: a
// hand-off with no app waiting goes to the account page, as with no default client. One with
// an https initiate_login_uri starts without it.
func TestDefaultClientWithoutLoginURIWarned(t *testing.T) {
	for uri, warned := range map[string]bool{"": true, "https://portal.example.org/oidc/login": false} {
		logs, err := startUpWith(t, uri, func(cfg *bridge.Config) { cfg.AMS.DefaultClient = "portal" })
		if err != nil {
			t.Fatalf("initiate_login_uri %q: %v", uri, err)
		}
		if got := strings.Contains(logs, "clients[portal].initiate_login_uri"); got != warned {
			t.Errorf("initiate_login_uri %q: warned %v, want %v:\n%s", uri, got, warned, logs)
		}
	}
}

type lockedWriterTo struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriterTo) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
