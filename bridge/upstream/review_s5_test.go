package upstream

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// googleOP is fake Google: a fakeOP's keys and token endpoint behind Google's issuer, reached
// through a transport that sends every request for https://accounts.google.com to the test
// server on 127.0.0.1.
func googleOP(t *testing.T) (*fakeOP, *Provider) {
	t.Helper()
	f := newFakeOP(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{
				"issuer": GoogleIssuer, "authorization_endpoint": GoogleIssuer + "/o/oauth2/v2/auth",
				"token_endpoint": GoogleIssuer + "/token", "jwks_uri": GoogleIssuer + "/keys",
				"id_token_signing_alg_values_supported": []string{"RS256"},
			})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		case "/token":
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": f.idToken})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	target, _ := url.Parse(srv.URL)
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Host != "accounts.google.com" {
			t.Errorf("request to %s", r.URL)
		}
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = target.Scheme, target.Host, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
	p := New([]ProviderConfig{{Name: "google", Preset: PresetGoogle, ClientID: "bridge", ClientSecret: "s"}},
		Options{CallbackURL: func(n string) string { return "http://127.0.0.1/upstream/" + n + "/callback" }, HTTPClient: client}).List()[0]
	return f, p
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestGoogleIssuerOneSpelling (review s5, F2 of review s4): Google's ID tokens may name their
// issuer "accounts.google.com" or "https://accounts.google.com"; both are accepted, and both
// must give the same identity (links, upstream sessions and logout tokens are keyed by the
// issuer), else the same Google account is "not linked" under the other spelling.
func TestGoogleIssuerOneSpelling(t *testing.T) {
	f, p := googleOP(t)
	ctx := context.Background()
	for _, iss := range []string{GoogleIssuer, "accounts.google.com"} {
		c := f.idClaims("n-1")
		c["iss"] = iss
		f.idToken = f.sign(c)
		id, err := p.Exchange(ctx, Callback{Code: "c"}, "n-1", strings.Repeat("v", 43))
		if err != nil {
			t.Fatalf("ID token with iss %q: %v", iss, err)
		}
		if id.Issuer != GoogleIssuer {
			t.Errorf("ID token with iss %q: identity's issuer %q, want %q", iss, id.Issuer, GoogleIssuer)
		}
		now := time.Now()
		lt, err := p.VerifyLogoutToken(ctx, f.sign(map[string]any{"iss": iss, "aud": "bridge", "iat": now.Unix(),
			"exp": now.Add(2 * time.Minute).Unix(), "jti": "j-1", "sub": "u-1",
			"events": map[string]any{backchannelEvent: map[string]any{}}}))
		if err != nil {
			t.Fatalf("logout token with iss %q: %v", iss, err)
		}
		if lt.Issuer != GoogleIssuer {
			t.Errorf("logout token with iss %q: issuer %q, want %q", iss, lt.Issuer, GoogleIssuer)
		}
		if !p.IsIssuer(ctx, iss) {
			t.Errorf("IsIssuer(%q) = false", iss)
		}
	}
	if got := p.IssuerSpellings(GoogleIssuer); len(got) != 2 || got[1] != "accounts.google.com" {
		t.Errorf("IssuerSpellings = %q: links recorded under the old spelling are not found", got)
	}
}

// TestLogoutTokenExpiry: the validated logout token carries its exp, which the replay guard
// follows (review s4 F10).
func TestLogoutTokenExpiry(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(nil)
	exp := time.Now().Add(72 * time.Hour).Truncate(time.Second)
	lt, err := p.VerifyLogoutToken(context.Background(), f.sign(map[string]any{"iss": f.srv.URL, "aud": "bridge",
		"iat": time.Now().Unix(), "exp": exp.Unix(), "jti": "j-1", "sub": "u-1",
		"events": map[string]any{backchannelEvent: map[string]any{}}}))
	if err != nil {
		t.Fatal(err)
	}
	if !lt.Expiry.Equal(exp) {
		t.Fatalf("Expiry %v, want %v", lt.Expiry, exp)
	}
}
