package bridge_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestPlaygroundOnlyOnLoopbackByDefault: with playground: unset, a production (https, not
// loopback) issuer serves no /playground and registers no built-in playground client (it is
// trusted: it signs members in without a consent page); the embedded defaults' loopback
// issuer serves it, and says so in one start-up line; playground: true turns it on anywhere,
// with the same line. Before session 14 it was on everywhere, silently.
func TestPlaygroundOnlyOnLoopbackByDefault(t *testing.T) {
	on := true
	for _, c := range []struct {
		issuer string
		set    *bool
		want   bool
	}{
		{"http://localhost:8080", nil, true},
		{"https://sso.example.org", nil, false},
		{"https://sso.example.org", &on, true},
	} {
		ctx := context.Background()
		cfg := bridge.Defaults()
		cfg.Issuer, cfg.Playground = c.issuer, c.set
		cfg.DataDir = t.TempDir()
		st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		b, err := bridge.New(ctx, bridge.Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
			SigningKeyEncryption: make([]byte, 32), Logger: slog.New(slog.NewTextHandler(&lockedWriterTo{w: &logs}, nil))})
		if err != nil {
			st.Close()
			t.Fatalf("issuer %s: %v", c.issuer, err)
		}
		rec := httptest.NewRecorder()
		b.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.issuer+"/playground", nil))
		_, cerr := b.Registry().ClientConfig(ctx, bridge.PlaygroundClientID)
		registered := cerr == nil
		said := strings.Contains(logs.String(), "the playground is on")
		st.Close()
		if served := rec.Code == http.StatusOK; served != c.want || registered != c.want || said != c.want {
			t.Errorf("issuer %s, playground set %v: served %v (status %d), client registered %v, start-up line %v; want %v",
				c.issuer, c.set != nil, served, rec.Code, registered, said, c.want)
		}
	}
}
