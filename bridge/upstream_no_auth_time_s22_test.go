package bridge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// silentOP is an upstream OpenID provider that signs the member in without asking anything (a
// live session of its own, of unknown age): its authorization endpoint answers at once, and
// its ID tokens say amr mfa, with or without auth_time (authTime zero: none).
type silentOP struct {
	srv      *httptest.Server
	signer   jose.Signer
	key      *rsa.PrivateKey
	email    string
	mu       sync.Mutex
	nonce    string
	authTime time.Time
}

func newSilentOP(t *testing.T, email string) *silentOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := &silentOP{signer: signer, key: key, email: email}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	op.srv = httptest.NewUnstartedServer(http.HandlerFunc(op.serve))
	op.srv.Listener.Close()
	op.srv.Listener = ln
	op.srv.Start()
	t.Cleanup(op.srv.Close)
	return op
}

// issuer is the provider's issuer (a loopback host name, as the bridge's tests use).
func (op *silentOP) issuer() string {
	return "http://localhost:" + strings.TrimPrefix(op.srv.URL, "http://127.0.0.1:")
}

func (op *silentOP) serve(w http.ResponseWriter, r *http.Request) {
	iss := op.issuer()
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "authorization_endpoint": iss + "/authorize",
			"token_endpoint": iss + "/token", "jwks_uri": iss + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"authorization_response_iss_parameter_supported": true})
	case "/keys":
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &op.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	case "/authorize": // signed in already: straight back with a code
		q := r.URL.Query()
		op.mu.Lock()
		op.nonce = q.Get("nonce")
		op.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := back.Query()
		v.Set("code", "silent-code")
		v.Set("state", q.Get("state"))
		v.Set("iss", iss)
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	case "/token":
		op.mu.Lock()
		now := time.Now()
		claims := map[string]any{"iss": iss, "sub": "silent-member", "aud": "bridge", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
			"nonce": op.nonce, "email": op.email, "email_verified": true, "amr": []string{"pwd", "mfa"}}
		if !op.authTime.IsZero() {
			claims["auth_time"] = op.authTime.Unix()
		}
		op.mu.Unlock()
		b, _ := json.Marshal(claims)
		jws, err := op.signer.Sign(b)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		raw, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": raw})
	default:
		http.NotFound(w, r)
	}
}

// TestUpstreamWithoutAuthTimeIsNoFreshStepUp (brief s22 H2 item 5, review s21 X3 Info): a
// provider trusted for mfa that signs the member in silently and sends no auth_time does not
// give the session a fresh second factor: the security page asks alice (who has an
// authenticator app) to confirm it's her before any change. The same provider sending an
// auth_time of now (the member authenticated during this sign-in) does. Before, a sign-in
// without auth_time counted as authenticated now: a stolen or silent upstream session could
// remove or add the member's factors at once.
func TestUpstreamWithoutAuthTimeIsNoFreshStepUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		authTime bool
		fresh    bool
	}{
		{"no auth_time", false, false},
		{"auth_time now", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			op := newSilentOP(t, "")
			e := newEnv(t, func(c *bridge.Config) {
				c.Policy.EmailVerified = true // link_by_email needs it
				c.UpstreamProviders = append(c.UpstreamProviders, upstream.ProviderConfig{Name: "silent", DisplayName: "Silent ID",
					Issuer: op.issuer(), ClientID: "bridge", ClientSecret: "silent-secret", LinkByEmail: true, TrustedAMR: []string{"mfa"}})
			})
			op.email = mustMember(t, e, "alice").Email
			web := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), RedirectURL: e.rp + "/callback",
				Scopes: []string{oidc.ScopeOpenID}}
			// alice has an authenticator app (set up in another browser).
			pw := e.browser()
			e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
			enrolTOTP(t, e, pw)

			if tc.authTime {
				op.mu.Lock()
				op.authTime = time.Now()
				op.mu.Unlock()
			}
			b := e.browser()
			login := b.Get(web.AuthCodeURL("s", oidc.Nonce("n"))).Hidden()
			start := b.Post(e.issuer+"/upstream/silent/start", url.Values{"csrf": {login.Get("csrf")}, "id": {login.Get("id")}})
			if !strings.HasPrefix(start.Location, op.issuer()+"/authorize") {
				t.Fatalf("upstream start: %d %q %.400s", start.Status, start.Location, start.Body)
			}
			done := b.Get(start.Location)
			if !strings.HasPrefix(done.Location, e.rp+"/callback") || !strings.Contains(done.Location, "code=") {
				t.Fatalf("the silent upstream sign-in (trusted mfa) did not reach the app: %d at %s %q %.600s", done.Status, done.URL, done.Location, done.Body)
			}
			sec := b.Get(e.issuer + "/account/security")
			asks := strings.Contains(sec.Body, `id="security-stepup"`)
			if sec.Status != http.StatusOK || asks == tc.fresh || strings.Contains(sec.Body, `id="totp-remove"`) != tc.fresh {
				t.Fatalf("security page after the upstream sign-in: %d, asks to confirm %t, want %t: %.800s", sec.Status, asks, !tc.fresh, sec.Body)
			}
			if !tc.fresh {
				// A removal posted anyway goes through the step-up first; the authenticator app stays.
				p := b.Post(e.issuer+"/account/security", url.Values{"csrf": {sec.Hidden().Get("csrf")}, "action": {"totp-remove"}})
				if p.URL.Path != "/login/mfa" {
					t.Fatalf("totp-remove after a sign-in without auth_time: %d at %s", p.Status, p.URL)
				}
			}
		})
	}
}
