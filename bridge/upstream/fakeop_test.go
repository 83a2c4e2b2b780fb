package upstream

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// fakeOP is an upstream provider whose ID and logout tokens the test writes claim by claim:
// discovery, keys and a token endpoint that answers any code with the next ID token.
type fakeOP struct {
	t      *testing.T
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer
	// idToken is what the token endpoint returns next.
	idToken string
	// issParam: authorization_response_iss_parameter_supported.
	issParam bool
}

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeOP{t: t, key: key, signer: signer, issParam: true}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{
				"issuer": f.srv.URL, "authorization_endpoint": f.srv.URL + "/authorize", "token_endpoint": f.srv.URL + "/token",
				"jwks_uri": f.srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"},
				"authorization_response_iss_parameter_supported": f.issParam, "end_session_endpoint": f.srv.URL + "/logout",
			})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		case "/token":
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": f.idToken})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOP) sign(claims map[string]any) string {
	f.t.Helper()
	b, _ := json.Marshal(claims)
	jws, err := f.signer.Sign(b)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fakeOP) provider(mod func(*ProviderConfig)) *Provider {
	c := ProviderConfig{Name: "fake", Issuer: f.srv.URL, ClientID: "bridge", ClientSecret: "s", EndSession: true}
	if mod != nil {
		mod(&c)
	}
	return New([]ProviderConfig{c}, Options{CallbackURL: func(n string) string { return "http://127.0.0.1/upstream/" + n + "/callback" },
		HTTPClient: f.srv.Client()}).List()[0]
}

// idClaims are a valid ID token's claims for nonce n.
func (f *fakeOP) idClaims(n string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": f.srv.URL, "sub": "u-1", "aud": "bridge", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": n, "email": "Jane@Example.org", "email_verified": true, "sid": "sid-1"}
}

func TestExchangeValidatesTheIDToken(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(nil)
	ctx := context.Background()
	good := Callback{Code: "c", Iss: f.srv.URL, IssPresent: true}
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		cb   *Callback
		want error
	}{
		{"valid", func(map[string]any) {}, nil, nil},
		{"email_verified as a string", func(c map[string]any) { c["email_verified"] = "true" }, nil, nil},
		{"wrong nonce", func(c map[string]any) { c["nonce"] = "other" }, nil, ErrInvalid},
		{"no nonce", func(c map[string]any) { delete(c, "nonce") }, nil, ErrInvalid},
		{"other audience", func(c map[string]any) { c["aud"] = "someone-else" }, nil, ErrInvalid},
		{"several audiences without azp", func(c map[string]any) { c["aud"] = []string{"bridge", "other"} }, nil, ErrInvalid},
		{"azp of another client", func(c map[string]any) { c["azp"] = "other" }, nil, ErrInvalid},
		{"several audiences, azp bridge", func(c map[string]any) { c["aud"], c["azp"] = []string{"bridge", "other"}, "bridge" }, nil, nil},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, nil, ErrInvalid},
		{"other issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, nil, ErrWrongIssuer},
		{"no subject", func(c map[string]any) { delete(c, "sub") }, nil, ErrInvalid},
		{"iss parameter missing", func(map[string]any) {}, &Callback{Code: "c"}, ErrWrongIssuer},
		{"iss parameter of another issuer", func(map[string]any) {}, &Callback{Code: "c", Iss: "https://evil.example", IssPresent: true}, ErrWrongIssuer},
		{"no code", func(map[string]any) {}, &Callback{Iss: f.srv.URL, IssPresent: true}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := f.idClaims("n-1")
			tc.mod(c)
			f.idToken = f.sign(c)
			cb := good
			if tc.cb != nil {
				cb = *tc.cb
			}
			id, err := p.Exchange(ctx, cb, "n-1", strings.Repeat("v", 43))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				if id.Subject != "u-1" || id.Email != "Jane@Example.org" || !id.EmailVerified || id.SID != "sid-1" || id.Issuer != f.srv.URL {
					t.Fatalf("identity %+v", id)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Exchange: %v, want %v", err, tc.want)
			}
		})
	}
}

// TestIssParameterOptionalWhenNotAdvertised: RFC 9207: a provider that does not advertise the
// iss parameter may leave it out; when it is present it is still compared.
func TestIssParameterOptionalWhenNotAdvertised(t *testing.T) {
	f := newFakeOP(t)
	f.issParam = false
	p := f.provider(nil)
	f.idToken = f.sign(f.idClaims("n"))
	if _, err := p.Exchange(context.Background(), Callback{Code: "c"}, "n", strings.Repeat("v", 43)); err != nil {
		t.Fatalf("no iss parameter from a provider that does not advertise it: %v", err)
	}
	if _, err := p.Exchange(context.Background(), Callback{Code: "c", Iss: "https://evil.example", IssPresent: true}, "n",
		strings.Repeat("v", 43)); !errors.Is(err, ErrWrongIssuer) {
		t.Fatalf("a wrong iss parameter: %v", err)
	}
}

func TestVerifyLogoutToken(t *testing.T) {
	f := newFakeOP(t)
	p := f.provider(nil)
	event := map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	valid := func() map[string]any {
		now := time.Now()
		return map[string]any{"iss": f.srv.URL, "aud": "bridge", "iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"jti": "j-1", "sub": "u-1", "sid": "sid-1", "events": event}
	}
	for _, tc := range []struct {
		name string
		mod  func(map[string]any)
		want error
	}{
		{"valid", func(map[string]any) {}, nil},
		{"sid only", func(c map[string]any) { delete(c, "sub") }, nil},
		{"sub only", func(c map[string]any) { delete(c, "sid") }, nil},
		{"neither sub nor sid", func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }, ErrInvalid},
		{"a nonce", func(c map[string]any) { c["nonce"] = "n" }, ErrInvalid},
		{"no events", func(c map[string]any) { delete(c, "events") }, ErrInvalid},
		{"another event", func(c map[string]any) { c["events"] = map[string]any{"urn:other": map[string]any{}} }, ErrInvalid},
		{"event not an object", func(c map[string]any) {
			c["events"] = map[string]any{"http://schemas.openid.net/event/backchannel-logout": "yes"}
		}, ErrInvalid},
		{"no jti", func(c map[string]any) { delete(c, "jti") }, ErrInvalid},
		{"no iat", func(c map[string]any) { delete(c, "iat") }, ErrInvalid},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() }, ErrInvalid},
		{"other audience", func(c map[string]any) { c["aud"] = "other" }, ErrInvalid},
		{"other issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.mod(c)
			lt, err := p.VerifyLogoutToken(context.Background(), f.sign(c))
			if tc.want == nil {
				if err != nil || lt.Issuer != f.srv.URL || lt.JTI != "j-1" {
					t.Fatalf("VerifyLogoutToken: %+v %v", lt, err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyLogoutToken: %v, want %v", err, tc.want)
			}
		})
	}
	// A token signed by another key.
	other := newFakeOP(t)
	if _, err := p.VerifyLogoutToken(context.Background(), other.sign(valid())); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a token signed by another key: %v", err)
	}
}

func TestEndSessionURL(t *testing.T) {
	f := newFakeOP(t)
	u, ok := f.provider(nil).EndSessionURL(context.Background(), "https://bridge.example/logout/return", "st")
	if !ok || !strings.HasPrefix(u, f.srv.URL+"/logout?") || !strings.Contains(u, "client_id=bridge") ||
		!strings.Contains(u, "post_logout_redirect_uri=https%3A%2F%2Fbridge.example%2Flogout%2Freturn") || !strings.Contains(u, "state=st") {
		t.Fatalf("EndSessionURL: %q %v", u, ok)
	}
	if _, ok := f.provider(func(c *ProviderConfig) { c.EndSession = false }).EndSessionURL(context.Background(), "x", "y"); ok {
		t.Fatal("EndSessionURL without end_session")
	}
}
