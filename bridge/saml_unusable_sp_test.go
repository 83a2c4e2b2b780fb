package bridge_test

import (
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSAMLStoredSPThatDoesNotBuild (brief H2 item 3, s18): a stored SAML SP whose metadata no
// longer builds (possible after an upgrade; registration refuses such metadata) is found at
// start-up, which logs an error naming its entity id and the parse error, and starts: the other
// SPs are served (a sign-in at the configured "lms" reaches the app), and a sign-in at the
// broken one gets a page saying the app cannot be used (503), nothing sent to it. Before, the
// registry failed as a whole at its first lookup: nothing was logged at start-up and every SAML
// sign-in, at every SP, failed.
func TestSAMLStoredSPThatDoesNotBuild(t *testing.T) {
	var out lockedBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	lms := newSAMLSP(t)
	const broken = "https://broken.example.org/saml/metadata"
	withBroken := func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rec, err := saml.Record(config.SAMLServiceProvider{ID: "broken", Name: "Broken App"}, []byte("<EntityDescriptor"), broken, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateSAMLServiceProvider(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		return st
	}
	e := newEnvDeps(t, false, nil, envDeps{logger: log, store: withBroken}, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	var line string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, broken) {
			line = l
		}
	}
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "sp=broken") || !strings.Contains(line, "metadata") {
		t.Fatalf("start-up did not log the SP that does not build: %q\n%s", line, out.String())
	}

	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	c, acs, f := samlResponse(t, e, lms)
	resp, err := c.PostForm(acs, f)
	if err != nil {
		t.Fatal(err)
	}
	app, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(app), "<p id=who>") {
		t.Fatalf("the configured SP beside a broken one: %d %.300s", resp.StatusCode, app)
	}

	resp, err = e.srv.Client().Get(e.issuer + saml.PathStart + "broken")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(page), "cannot be used right now") || strings.Contains(string(page), "SAMLResponse") {
		t.Fatalf("a sign-in at the broken SP: %d %.300s", resp.StatusCode, page)
	}
}
