package bridge_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// raceSAMLRequests is a store whose CompleteSAMLRequests race through a raceGate once armed:
// two submissions of one SAML login form that both read the waiting sign-in while it was
// pending. Not armed, it passes every call on (TestStoreFakesConformance).
type raceSAMLRequests struct {
	store.Store
	raceGate
}

func (r *raceSAMLRequests) CompleteSAMLRequest(ctx context.Context, id, browser string) error {
	defer r.enter()()
	return r.Store.CompleteSAMLRequest(ctx, id, browser)
}

// TestSAMLDoubleSubmittedLoginLeavesOneSession (review s17 X17-4): the SAML login form
// (/saml/login) submitted twice at once (a double-click) must sign the browser in once, as the
// OIDC login form does (TestDoubleSubmittedLoginLeavesOneSession; README "Security
// properties": a sign-in writes no session before it has won its request). Before, each
// submission wrote its session (and ended the browser's previous one) in StartSession before
// finish's CompleteSAMLRequest: the loser's session stays live with no browser holding it and
// no SP participant, and the browser, whose cookie names the last written one, may show the
// "already used" page instead of the SP's response.
func TestSAMLDoubleSubmittedLoginLeavesOneSession(t *testing.T) {
	var rs *raceSAMLRequests
	lms := newSAMLSP(t)
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		rs = &raceSAMLRequests{Store: st}
		return rs
	}}, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	ctx := t.Context()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	_, body := fetch(t, func() (*http.Response, error) { return c.Get(lms.srv.URL + "/app") })
	f := formFields(body)
	if f.Get("csrf") == "" || f.Get("id") == "" {
		t.Fatalf("no SAML login form: %.400s", body)
	}
	f.Set("login", "alice")
	f.Set("password", "alice-password")
	rs.arm()
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.issuer+saml.PathLogin, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	live, err := rs.Sessions(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(live) != 1 {
		t.Fatalf("%d live sessions after a double-submitted SAML login, want 1", len(live))
	}
}
