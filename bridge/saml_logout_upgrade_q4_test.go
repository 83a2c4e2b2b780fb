package bridge_test

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestSAMLLogoutRequestUsedBeforeUpgrade (session 22's leftover of dc23729): a LogoutRequest
// that a version before session 22 accepted was recorded under the library's key, its id
// alone ("LogoutRequest:" + id); since dc23729 the id is recorded and checked per SP, so the
// same request replayed within its few minutes after the upgrade was accepted again. The
// store here holds the id as the old version left it when the bridge starts over it; the
// SP's request with that id is refused as used, and one with a new id is answered.
func TestSAMLLogoutRequestUsedBeforeUpgrade(t *testing.T) {
	const usedBefore = "id-used-before-the-upgrade"
	lms := newSAMLSP(t)
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		// What the old version recorded: the library's key, until the request expires.
		if err := st.UseSAMLMessageID(t.Context(), "LogoutRequest:"+usedBefore, time.Now().Add(4*time.Minute)); err != nil {
			t.Fatal(err)
		}
		return st
	}}, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	send := func(id string) (int, string) {
		t.Helper()
		u, err := lms.mw.ServiceProvider.MakeRedirectLogoutRequest("someone", "r",
			func(r *crewjam.LogoutRequest) { r.ID = id })
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		resp, err := http.DefaultTransport.RoundTrip(req) // no session: answered as signed off
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := send(usedBefore); status != http.StatusBadRequest || !strings.Contains(body, "cannot be used") {
		t.Errorf("the LogoutRequest used before the upgrade, replayed: %d %.300s; want it refused as used", status, body)
	}
	if status, body := send("a-new-id"); status == http.StatusBadRequest {
		t.Errorf("a LogoutRequest with a new id: %d %.300s; want it answered", status, body)
	}
	if status, body := send("a-new-id"); status != http.StatusBadRequest || !strings.Contains(body, "cannot be used") {
		t.Errorf("the new id again: %d %.300s; want it refused as used", status, body)
	}
}
