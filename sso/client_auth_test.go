package sso

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ssobridge/ssobridge/sso/ssotest"
)

func basicRequest(header string, form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if header != "" {
		r.Header.Set("Authorization", header)
	}
	_ = r.ParseForm()
	return r
}

// FuzzParseCredentials: whatever the id and secret, both clients' Basic encodings (RFC 6749
// 2.3.1) decode to them; an arbitrary Authorization header never panics and never yields an
// empty client id without an error.
func FuzzParseCredentials(f *testing.F) {
	f.Add("next_auth-app.v1~x", "s3cr3t-_.~!*'()+/=%&: x", "Basic !!!")
	f.Add("web", "", "Bearer x")
	f.Add("a:b", "c%zz", "Basic "+base64.StdEncoding.EncodeToString([]byte("%zz:x")))
	f.Fuzz(func(t *testing.T, id, secret, raw string) {
		if id != "" && utf8.ValidString(id) && utf8.ValidString(secret) {
			for _, enc := range []func(string) string{ssotest.OAuth4WebAPIEncode, url.QueryEscape} {
				h := "Basic " + base64.StdEncoding.EncodeToString([]byte(enc(id)+":"+enc(secret)))
				c, err := parseCredentials(basicRequest(h, nil))
				if err != nil || c.id != id || c.secret != secret || c.method != AuthMethodBasic {
					t.Fatalf("%q/%q via %q: %+v %v", id, secret, h, c, err)
				}
			}
		}
		c, err := parseCredentials(basicRequest(raw, nil))
		if err == nil && c.id == "" {
			t.Fatalf("header %q: no client id and no error", raw)
		}
	})
}

// FuzzLoopbackRedirect: a redirect accepted without being registered differs from a
// registered loopback redirect in its port only.
func FuzzLoopbackRedirect(f *testing.F) {
	for _, s := range []string{"http://127.0.0.1:5/cb", "https://127.0.0.1/cb", "http://localhost:1/cb", "http://[::1]:2/cb",
		"http://a@127.0.0.1:3/cb", "http://127.0.0.1:4/cb?x", "http://127.0.0.1:4/cb#f", "http:127.0.0.1/cb"} {
		f.Add(s)
	}
	cfg := &ClientConfig{RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]:8080/native", "org.example.app:/cb"}}
	f.Fuzz(func(t *testing.T, uri string) {
		if !loopbackRedirectAllowed(cfg, uri) {
			return
		}
		for _, r := range cfg.RedirectURIs {
			if r == uri {
				return
			}
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("accepted unparsable %q", uri)
		}
		for _, reg := range cfg.RedirectURIs {
			ru, _ := url.Parse(reg)
			if ru.Scheme == u.Scheme && ru.Hostname() == u.Hostname() && ru.Path == u.Path && ru.RawQuery == u.RawQuery &&
				u.User == nil && u.Fragment == "" {
				return
			}
		}
		t.Fatalf("accepted %q, which is not a registered redirect on another port", uri)
	})
}

// TestLoopbackRedirectPorts (review s11 Z5; RFC 8252 7.3, RFC 3986 3.2.3): a loopback redirect
// on another port is accepted only for a port a browser can connect to, written one way.
func TestLoopbackRedirectPorts(t *testing.T) {
	cfg := &ClientConfig{RedirectURIs: []string{"http://127.0.0.1/cb"}}
	for uri, want := range map[string]bool{
		"http://127.0.0.1/cb":        true,
		"http://127.0.0.1:1/cb":      true,
		"http://127.0.0.1:5555/cb":   true,
		"http://127.0.0.1:65535/cb":  true,
		"http://127.0.0.1:0/cb":      false,
		"http://127.0.0.1:05555/cb":  false,
		"http://127.0.0.1:65536/cb":  false,
		"http://127.0.0.1:99999/cb":  false,
		"http://127.0.0.1:123456/cb": false,
	} {
		if got := loopbackRedirectAllowed(cfg, uri); got != want {
			t.Errorf("%s: allowed %v, want %v", uri, got, want)
		}
	}
}

// FuzzBasicAuthMatchesNetHTTP: the Authorization header is read as Request.BasicAuth reads it,
// whatever it holds (the scheme's case, padding, line breaks, no colon, credentials longer than
// basicAuth's stack buffer).
func FuzzBasicAuthMatchesNetHTTP(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("web:secret")))
	f.Add("bAsIc " + base64.StdEncoding.EncodeToString([]byte("web:se:cret")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("no colon")))
	f.Add("Basic d2Vi\r\nOnNlY3JldA==")
	f.Add("Basic d2ViOnNlY3JldA")
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("web:"+strings.Repeat("s", 600))))
	f.Add("Basic ")
	f.Add("Basic")
	f.Fuzz(func(t *testing.T, authz string) {
		r := &http.Request{Header: http.Header{"Authorization": {authz}}}
		wid, wsecret, wok := r.BasicAuth()
		id, secret, ok := basicAuth(authz)
		if id != wid || secret != wsecret || ok != wok {
			t.Fatalf("%q: got %q %q %v, net/http %q %q %v", authz, id, secret, ok, wid, wsecret, wok)
		}
	})
}
