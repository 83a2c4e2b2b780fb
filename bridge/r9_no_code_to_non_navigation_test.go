package bridge_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestR9NoCodeToANonNavigation: a silent request loaded by a script (no navigation) gets the
// same answer, login_required in JSON, whether the browser is signed in or not: a code for one
// and an error for the other would tell a page of the same site which it is (review s28 R9-1).
func TestR9NoCodeToANonNavigation(t *testing.T) {
	e := newEnvDeps(t, false, nil, envDeps{}, localhostIssuer)
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	silent := oauth2.SetAuthURLParam("prompt", "none")
	script := map[string]string{"Accept": "*/*", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script", "Sec-Fetch-Site": "same-site"}
	in := e.browser()
	e.signIn(in, web.AuthCodeURL("s0"), "alice", "alice-password")
	for name, b := range map[string]*bridgetest.Browser{"signed out": e.browser(), "signed in": in} {
		a := q28Do(t, b, http.MethodGet, web.AuthCodeURL("x", silent), nil, script)
		if a.status/100 == 3 || a.json() == nil {
			t.Errorf("%s: a script load of a silent request answered %d %q: an authorization response to a non-navigation", name, a.status, a.location)
			continue
		}
		if a.status != http.StatusBadRequest || a.json()["error"] != "login_required" {
			t.Errorf("%s: answered %d %v; want 400 login_required, the same whether signed in or not", name, a.status, a.json())
		}
	}
}
