package config

import (
	"strings"
	"testing"
)

// TestIssuerHTTPOnLoopback (brief s21 Q2 item 5): an http issuer is accepted on a loopback host
// whatever the case of localhost (a DNS name's case is not significant: http://LocalHost was
// refused) and on the loopback addresses of RFC 8252 section 7.3 (127.0.0.1, [::1]); any other
// http issuer is refused, naming the field.
func TestIssuerHTTPOnLoopback(t *testing.T) {
	for _, c := range []struct {
		issuer string
		ok     bool
	}{
		{"http://localhost:8080", true},
		{"http://LocalHost:8080", true},
		{"http://LOCALHOST", true},
		{"HTTP://LocalHost:8080/sso", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.0.0.1", true},
		{"http://127.8.9.10:8080", true},
		{"http://[::1]:8080", true},
		{"http://[::1]", true},
		{"https://LocalHost:8443", true},
		{"http://localhost.example.org", false},
		{"http://LocalHost.example.org", false},
		{"http://mylocalhost", false},
		{"http://192.0.2.1", false},
		{"http://[::2]", false},
		{"http://sso.example.org", false},
	} {
		var p problems
		u := checkIssuer(&p, c.issuer)
		if got := u != nil && len(p.errs) == 0; got != c.ok {
			t.Errorf("issuer %s: accepted %v, want %v (%v)", c.issuer, got, c.ok, p.errs)
		}
		if !c.ok && (len(p.errs) == 0 || !strings.Contains(p.errs[0].Error(), "issuer")) {
			t.Errorf("issuer %s: refusal does not name the field: %v", c.issuer, p.errs)
		}
	}
	// Every loopback check reads the host alike: the playground is on by default on one.
	cfg := Defaults()
	cfg.Issuer = "http://LocalHost:8080"
	if !cfg.PlaygroundEnabled() {
		t.Error("playground off under http://LocalHost:8080")
	}
}
