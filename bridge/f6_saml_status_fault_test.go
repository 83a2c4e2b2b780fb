package bridge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync/atomic"
	"testing"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// f6SAMLCompleteFaultStore is the SQLite store whose CompleteSAMLRequest fails while fail is set
// (a busy database, a fail-over).
type f6SAMLCompleteFaultStore struct {
	*sqlite.Store
	fail *atomic.Bool
}

func (s f6SAMLCompleteFaultStore) CompleteSAMLRequest(ctx context.Context, id, browser string) error {
	if s.fail.Load() {
		return errors.New("sqlite: complete saml request: database is locked")
	}
	return s.Store.CompleteSAMLRequest(ctx, id, browser)
}

// Review s25 Y-5: a store write failing while an SP is sent a status (here NoPassive: a
// passive AuthnRequest without a session) was told to the member as "This sign-in link was
// already used" (409, their doing: start again) and audited as saml.request_used, the replay
// signal. It is a server fault: a 5xx, no saml.request_used row. A lost compare-and-set stays
// "already used" (TestSAMLPassiveAndForceAuthn and the replay tests keep that).
func TestF6SAMLStatusStoreFaultIsNotUsed(t *testing.T) {
	fail := new(atomic.Bool)
	ws := newWrappedSQLite(t, func(s *sqlite.Store) store.Store { return f6SAMLCompleteFaultStore{Store: s, fail: fail} })
	lms := newSAMLSP(t)
	e := newEnvDeps(t, false, nil, envDeps{store: ws.open}, withSAMLLMS(lms))
	st := ws.st
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	req, err := lms.mw.ServiceProvider.MakeAuthenticationRequest(e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
	if err != nil {
		t.Fatal(err)
	}
	passive := true
	req.IsPassive = &passive
	u, err := req.Redirect("", &lms.mw.ServiceProvider)
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	resp, err := c.Get(u.String())
	fail.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 500 || strings.Contains(string(b), "already used") {
		t.Errorf("status response while the store fails its write: %d %.200s, want a 5xx, not 'already used'", resp.StatusCode, b)
	}
	evs, err := st.AuditEvents(t.Context(), store.AuditFilter{Event: "saml.request_used"})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 0 {
		t.Errorf("a store fault audited as a replayed request: %+v", evs)
	}
}
