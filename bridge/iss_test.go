package bridge_test

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// TestAuthorizationResponseIss (RFC 9207): every authorization response to the client carries
// iss, on success and on error (from op and from the bridge's pages), and discovery says so.
func TestAuthorizationResponseIss(t *testing.T) {
	e := newEnv(t)
	_, d := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	if d["authorization_response_iss_parameter_supported"] != true {
		t.Fatalf("authorization_response_iss_parameter_supported = %v", d["authorization_response_iss_parameter_supported"])
	}
	wantIss := func(name string, p string) url.Values {
		t.Helper()
		u, err := url.Parse(p)
		if err != nil || p == "" {
			t.Fatalf("%s: no redirect (%q)", name, p)
		}
		if got := u.Query()["iss"]; len(got) != 1 || got[0] != e.issuer {
			t.Fatalf("%s: iss = %v in %s", name, got, p)
		}
		return u.Query()
	}
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)

	// An error of the provider's own (unsupported_response_type: an unknown type is answered
	// in the query; token would be in the fragment).
	b := e.browser()
	p := b.Get(web.AuthCodeURL("s1", oauth2.SetAuthURLParam("response_type", "bogus")))
	if q := wantIss("op error", p.Location); q.Get("error") == "" || q.Get("state") != "s1" {
		t.Fatalf("op error redirect: %v", q)
	}
	// An error from the bridge: prompt=none without a session.
	p = b.Get(web.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "none")))
	if q := wantIss("login_required", p.Location); q.Get("error") != "login_required" || q.Get("state") != "s2" {
		t.Fatalf("prompt=none redirect: %v", q)
	}
	// Success: the code.
	p = b.Get(web.AuthCodeURL("s3"))
	p = b.Login(p, "alice", "alice-password")
	if q := wantIss("code", p.Location); q.Get("code") == "" || q.Get("state") != "s3" {
		t.Fatalf("code redirect: %v", q)
	}
	// Success with an existing session (no login form).
	p = b.Get(web.AuthCodeURL("s4"))
	if q := wantIss("code (session)", p.Location); q.Get("code") == "" {
		t.Fatalf("code redirect with a session: %v", q)
	}
}
