package bridge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// tokenOP is an upstream OpenID provider that only publishes discovery and keys: the test
// signs the tokens it "sends" claim by claim.
type tokenOP struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	signer jose.Signer
}

func newTokenOP(t *testing.T) *tokenOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	op := &tokenOP{key: key, signer: signer}
	op.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": op.srv.URL, "authorization_endpoint": op.srv.URL + "/authorize",
				"token_endpoint": op.srv.URL + "/token", "jwks_uri": op.srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(op.srv.Close)
	return op
}

func (op *tokenOP) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(claims)
	jws, err := op.signer.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testClock is a clock a test moves forward.
type testClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// TestUpstreamLogoutTokenReplayFollowsItsExpiry (review s4 F10): the jti replay guard of an
// upstream back-channel logout token lasted 24 hours whatever the token's exp, so a captured
// token valid for longer was accepted again a day later (and ended the sessions the upstream
// subject had opened since). The guard must last until the token expires.
func TestUpstreamLogoutTokenReplayFollowsItsExpiry(t *testing.T) {
	op := newTokenOP(t)
	clock := &testClock{}
	deps := envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "ssobridge.db"), sqlite.WithClock(clock.now))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}}
	e := newEnvDeps(t, false, nil, deps, func(c *bridge.Config) {
		c.UpstreamProviders = append(c.UpstreamProviders, upstream.ProviderConfig{Name: "corp", DisplayName: "Corp ID",
			Issuer: op.srv.URL, ClientID: "bridge", ClientSecret: "upstream-secret-0123456789abcdef"})
	})
	now := time.Now()
	token := op.sign(t, map[string]any{"iss": op.srv.URL, "aud": "bridge", "iat": now.Unix(), "exp": now.Add(72 * time.Hour).Unix(),
		"jti": "logout-1", "sub": "someone", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
	post := func() (int, map[string]any) {
		resp, body := postForm(t, e.issuer+"/upstream/corp/backchannel-logout", map[string]string{"logout_token": token})
		return resp.StatusCode, body
	}
	if status, body := post(); status != http.StatusOK {
		t.Fatalf("first delivery: %d %v", status, body)
	}
	if status, _ := post(); status != http.StatusBadRequest {
		t.Fatalf("replayed at once: %d, want 400", status)
	}
	clock.advance(25 * time.Hour) // the token is valid for another 47 hours
	if status, body := post(); status != http.StatusBadRequest {
		t.Fatalf("replayed after 25 hours, while the token is still valid: %d %v, want 400 (used already)", status, body)
	}
}
