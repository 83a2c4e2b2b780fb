package sso

import (
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestCodeResponseURLIsOps: the code flow's authorization response built in one pass is what
// op.AuthResponseURL and withIss (RFC 9207 iss) make of the same request, for redirect URIs with
// their own parameters (also code, state or iss), escapes, ports, custom schemes, relative ones
// and fragments, and states that need escaping or are empty; other response types and modes are
// left to op. Fails if the order, the escaping, the empty state or the iss rules differ.
func TestCodeResponseURLIsOps(t *testing.T) {
	const issuer = "https://sso.example.org/base"
	redirects := []string{
		"https://rp.example.com/callback",
		"https://rp.example.com/callback?",
		"https://rp.example.com/cb?a=1&z=2&b=%20x+y",
		"https://rp.example.com/cb?state=theirs&code=theirs",
		"https://rp.example.com/cb?iss=https%3A%2F%2Fother",
		"https://rp.example.com/c%2Fb/%C3%A9?x=%zz",
		"https://rp.example.com:8443/cb#frag",
		"http://127.0.0.1:9/cb",
		"http://[::1]:51000/cb",
		"com.example.app:/oauth2redirect",
		"com.example.app://callback/path?x=1",
		"urn:ietf:wg:oauth:2.0:oob",
		"/relative/cb?x=1",
		"https://user:pw@rp.example.com/cb",
		"https://rp.example.com/cb?a=1;b=2",
	}
	states := []string{"", "s", "a b&c=d/é?#", "%2F"}
	types := []struct{ typ, mode string }{
		{"code", ""}, {"code", "query"}, {"code", "fragment"}, {"code", "form_post"},
		{"id_token", ""}, {"id_token token", ""}, {"id_token", "query"},
	}
	for _, ru := range redirects {
		for _, st := range states {
			for _, tm := range types {
				ar := &AuthRequest{RedirectURI: ru, State: st, ResponseType: tm.typ, ResponseMode: tm.mode}
				want, err := op.AuthResponseURL(ar.RedirectURI, oidc.ResponseType(tm.typ), oidc.ResponseMode(tm.mode),
					&op.CodeResponseType{Code: "the-code_1", State: st}, oidc.NewEncoder())
				if err != nil {
					t.Fatal(err)
				}
				want = withIss(want, issuer)
				got, ok := codeResponseURL(ar, "the-code_1", issuer)
				fast := tm.mode == "query" || (tm.mode == "" && tm.typ == "code")
				if ok != fast {
					t.Fatalf("%s %+v: handled %v, want %v", ru, tm, ok, fast)
				}
				if ok && got != want {
					t.Fatalf("%s state %q %+v:\n got  %s\n want %s", ru, st, tm, got, want)
				}
			}
		}
	}
	if _, ok := codeResponseURL(&AuthRequest{RedirectURI: "https://rp\x7f/", ResponseType: "code"}, "c", issuer); ok {
		t.Fatal("a redirect_uri that does not parse was handled")
	}
}

// BenchmarkCodeResponseURL builds a code flow's authorization response as op.AuthResponseURL
// and withIss did (op) and in one pass (one).
func BenchmarkCodeResponseURL(b *testing.B) {
	ar := &AuthRequest{RedirectURI: "https://rp.example.com/callback", State: "state-0123456789", ResponseType: "code"}
	enc := oidc.NewEncoder()
	const code = "Zm9vYmFyYmF6cXV4MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5"
	b.Run("op", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			u, _ := op.AuthResponseURL(ar.RedirectURI, "code", "", &op.CodeResponseType{Code: code, State: ar.State}, enc)
			_ = withIss(u, "https://sso.example.org")
		}
	})
	b.Run("one", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = codeResponseURL(ar, code, "https://sso.example.org")
		}
	})
}
