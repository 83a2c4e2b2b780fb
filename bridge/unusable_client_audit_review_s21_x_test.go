package bridge_test

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestUnusableClientAuditLimited (review s21 X21-2): a stored client of a member's subject's
// shape is refused everywhere, each refusal audited client.unusable (c47103a). At end_session
// and at the API endpoints for a public such client nobody has to prove anything, and neither
// /end_session nor /revoke is among the anonymous-write limits, so anyone who knows its id
// appended one audit row per request for as long as they liked: the class of review s6 F4/F7.
// Past the address's anonymous-write budget one ratelimit.refused row stands for them.
func TestUnusableClientAuditLimited(t *testing.T) {
	const (
		limit = 5
		hexID = "0123456789abcdef0123456789abcdef01234567"
	)
	var st *sqlite.Store
	open := func(t testing.TB) store.Store {
		var err error
		if st, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c := &sso.ClientConfig{ID: hexID, Name: "Old", Public: true, RedirectURIs: []string{"https://old.example/cb"}}
		c.FillDefaults()
		sc, err := sso.EncodeClient(c, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateClient(t.Context(), sc); err != nil {
			t.Fatal(err)
		}
		return st
	}
	e := newEnvDeps(t, false, nil, envDeps{store: open}, func(c *bridge.Config) { c.Throttle.AnonymousWrites = limit })
	for range 20 {
		resp, err := http.Get(e.issuer + "/end_session?client_id=" + hexID)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("end_session for %s: %d, want a refusal", hexID, resp.StatusCode)
		}
		resp, _ = postForm(t, e.issuer+"/revoke", map[string]string{"token": "x", "client_id": hexID})
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("revoke by %s: %d, want 400 unauthorized_client", hexID, resp.StatusCode)
		}
	}
	rows, err := st.AuditEvents(t.Context(), store.AuditFilter{Event: "client.unusable", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) > limit {
		t.Fatalf("%d client.unusable rows from one address, want at most %d", len(rows), limit)
	}
}
