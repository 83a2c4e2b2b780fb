package sso_test

import (
	"net/url"
	"testing"
)

// TestTokenTargetRefused: a token request naming a resource (RFC 8707) or an audience (RFC 8693
// section 2.1) that the client's tokens are not issued for is answered invalid_target (RFC 8707
// section 2, RFC 8693 section 2.2.2) on every grant, instead of a token for another audience;
// one naming the client's own audiences goes through.
func TestTokenTargetRefused(t *testing.T) {
	h := newHarness(t)
	cc := func(client string, extra url.Values) url.Values {
		f := url.Values{"grant_type": {"client_credentials"}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	password := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-pw"}, "scope": {"openid"}}
	for _, tc := range []struct {
		name   string
		form   url.Values
		basic  string
		status int
		code   string
	}{
		{"no target", cc("svc", nil), "svc:" + svcSecret, 200, ""},
		{"own id as audience", cc("svc", url.Values{"audience": {"svc"}}), "svc:" + svcSecret, 200, ""},
		{"other audience", cc("svc", url.Values{"audience": {"other-api"}}), "svc:" + svcSecret, 400, "invalid_target"},
		{"other resource", cc("svc", url.Values{"resource": {"https://evil.example/"}}), "svc:" + svcSecret, 400, "invalid_target"},
		{"configured resource", cc("aud", url.Values{"resource": {"https://orders.example/api"}}), "aud:" + svcSecret, 200, ""},
		{"configured audience", cc("aud", url.Values{"audience": {"billing"}}), "aud:" + svcSecret, 200, ""},
		{"one of two not configured", cc("aud", url.Values{"audience": {"billing", "payroll"}}), "aud:" + svcSecret, 400, "invalid_target"},
		{"resource not absolute", cc("aud", url.Values{"resource": {"billing"}}), "aud:" + svcSecret, 400, "invalid_target"},
		{"resource with fragment", cc("aud", url.Values{"resource": {"https://orders.example/api#x"}}), "aud:" + svcSecret, 400, "invalid_target"},
		{"member grant, other resource", withParam(password, "resource", "https://evil.example/"), "web:" + webSecret, 400, "invalid_target"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := h.token(tc.form, tc.basic)
			if status != tc.status || (tc.code != "" && body["error"] != tc.code) {
				t.Fatalf("%d %v, want %d %s", status, body, tc.status, tc.code)
			}
		})
	}
}

func withParam(f url.Values, k, v string) url.Values {
	g := url.Values{}
	for key, vals := range f {
		g[key] = vals
	}
	g.Set(k, v)
	return g
}
