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
	lms, other := newSAMLSP(t), newSAMLSP(t)
	// broken is a real SP's entity id, so that it can send AuthnRequests (SP-initiated); its
	// stored record's metadata does not parse.
	broken := other.entityID()
	var st *sqlite.Store // the bridge's store (env.store is nil with envDeps.store)
	withBroken := func(t testing.TB) store.Store {
		var err error
		st, err = sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"))
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

	// SP-initiated (review final18 R3-5): the broken SP's own AuthnRequest (signed, HTTP-Redirect)
	// reaches /saml/sso, where the library's lookup (Validate) finds the SP unusable: the same
	// page, nothing stored, nothing sent.
	other.start(t, e, crewjam.HTTPRedirectBinding, "other_token")
	refused := func() int {
		t.Helper()
		ev, err := st.AuditEvents(t.Context(), store.AuditFilter{Event: "saml.request_refused", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(ev)
	}
	before := refused()
	resp, page2 := fetch(t, func() (*http.Response, error) { return samlClient().Get(other.srv.URL + "/app") })
	if resp.Request.URL.Path != saml.PathSSO || resp.StatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(page2, "cannot be used right now") || strings.Contains(page2, "SAMLResponse") || strings.Contains(page2, `name="password"`) {
		t.Fatalf("an AuthnRequest from the broken SP: %d %s %.300s", resp.StatusCode, resp.Request.URL, page2)
	}
	if n := refused(); n != before+1 {
		t.Fatalf("saml.request_refused rows for the AuthnRequest: %d, want 1", n-before)
	}

	// A sign-in that was waiting when the SP's record stopped building (pending): the same page
	// at its continue link, and the request stays as it was.
	now := time.Now()
	r := &store.SAMLRequest{ID: "waiting-at-broken", SP: broken, RequestID: "_r1", ACSURL: other.srv.URL + "/saml/acs",
		ACSBinding: crewjam.HTTPPostBinding, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	if err := st.CreateSAMLRequest(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	waiter := samlClient()
	resp, page2 = fetch(t, func() (*http.Response, error) { return waiter.Get(e.issuer + saml.PathContinue + "?id=" + r.ID) })
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page2, "cannot be used right now") || strings.Contains(page2, `name="password"`) {
		t.Fatalf("the continue link of a sign-in waiting at the broken SP: %d %.300s", resp.StatusCode, page2)
	}
	if n := refused(); n != before+2 {
		t.Fatalf("saml.request_refused rows after the continue link: %d, want 2", n-before)
	}
	if got, err := st.SAMLRequest(t.Context(), r.ID); err != nil || got.Done || got.Browser != "" {
		t.Fatalf("the waiting sign-in after the refusal: %+v, %v (want pending, unbound)", got, err)
	}
}
