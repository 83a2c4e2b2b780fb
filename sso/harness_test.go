package sso_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// The protocol harness: a provider on the in-memory store, a small Hooks fake and an httptest
// server on 127.0.0.1 (an ephemeral port), with the clients below. Tests speak HTTP to it, with
// golang.org/x/oauth2 where a real client library does the same thing.

const (
	// odd is a secret with characters RFC 6749 2.3.1's form-encoding changes.
	odd       = "a+b/c:d%e f&g=h-0123456789-0123456789"
	webSecret = "web-secret-0123456789-0123456789-abcdef"
	svcSecret = "svc-secret-0123456789-0123456789-abcdef"
	// webRedirect is never contacted: the harness reads the redirect, it does not follow it.
	webRedirect = "https://rp.example/callback"
)

func testClients() []sso.ClientConfig {
	return []sso.ClientConfig{
		{ID: "web", Name: "Web", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
			PostLogoutRedirectURIs: []string{"https://rp.example/bye"},
			GrantTypes:             []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken, sso.GrantPassword, sso.GrantTokenExchange},
			Scopes:                 []string{"openid", "profile", "email", "offline_access"}, Trusted: true},
		{ID: "spa", Name: "SPA", Public: true, RedirectURIs: []string{"https://spa.example/cb"},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken},
			Scopes:     []string{"openid", "profile", "offline_access"}, WebOrigins: []string{"https://spa.example"}},
		{ID: "svc", Name: "Service", SecretHash: sso.HashSecret(svcSecret), GrantTypes: []string{sso.GrantClientCredentials},
			Scopes: []string{"api.read", "api.write"}},
		{ID: "odd", SecretHash: sso.HashSecret(odd), GrantTypes: []string{sso.GrantClientCredentials}, Scopes: []string{"api.read"}},
		{ID: "aud", SecretHash: sso.HashSecret(svcSecret), GrantTypes: []string{sso.GrantClientCredentials}, Scopes: []string{"api.read"},
			Audiences: []string{"https://orders.example/api", "billing"}},
		{ID: "tv", Name: "TV", SecretHash: sso.HashSecret(webSecret), GrantTypes: []string{sso.GrantDeviceCode, sso.GrantRefreshToken},
			Scopes: []string{"openid", "profile", "offline_access"}, Trusted: true},
		{ID: "quiet", Name: "No ID token on refresh", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken},
			Scopes:     []string{"openid", "profile", "offline_access"}, Trusted: true, OmitIDTokenOnRefresh: true},
		{ID: "third", Name: "Third party", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantPassword, sso.GrantDeviceCode},
			Scopes:     []string{"openid", "profile"}},
	}
}

// fakeHooks is the bridge's part, reduced to what the protocol needs: claims, a deny list,
// passwords, external tokens, consent records and a record of audit events.
type fakeHooks struct {
	mu      sync.Mutex
	denied  map[string]bool // subjects CheckGrant refuses
	events  []string
	audit   []string        // every event with its subject, client and detail, as the audit writes it
	consent map[string]bool // subject|client that consented
}

func newFakeHooks() *fakeHooks {
	return &fakeHooks{denied: map[string]bool{}, consent: map[string]bool{}}
}

func (h *fakeHooks) Claims(_ context.Context, subject, _ string, scopes []string, _ sso.ClaimTarget) (map[string]any, error) {
	c := map[string]any{}
	if slices.Contains(scopes, "email") {
		c["email"] = subject + "@example.org"
	}
	if slices.Contains(scopes, "profile") {
		c["name"] = "Member " + subject
	}
	return c, nil
}

func (h *fakeHooks) CheckGrant(_ context.Context, subject, _ string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.denied[subject] {
		return sso.ErrAccessDenied
	}
	return nil
}

func (h *fakeHooks) EndSession(_ context.Context, req *op.EndSessionRequest) (string, error) {
	return "/logged-out?to=" + url.QueryEscape(req.RedirectURI) + "&user=" + url.QueryEscape(req.UserID) +
		"&client=" + url.QueryEscape(req.ClientID), nil
}

func (h *fakeHooks) Event(_ context.Context, event, subject, clientID, detail string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, event)
	h.audit = append(h.audit, event+" sub="+subject+" client="+clientID+" detail="+detail)
}

func (h *fakeHooks) deny(subject string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.denied[subject] = true
}

func (h *fakeHooks) sawEvent(event string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.events, event)
}

// AuthenticatePassword: alice/pw is right, anything else a GrantError.
func (h *fakeHooks) AuthenticatePassword(_ *http.Request, _, username, password string) (string, []string, error) {
	if username == "alice" && password == "pw" {
		return "alice", []string{"pwd"}, nil
	}
	return "", nil, &sso.GrantError{Code: "invalid_grant", Description: "the username or password is not right"}
}

const amsTokenType = "urn:example:ams-token"

func (h *fakeHooks) ExternalTokenTypes() []string { return []string{amsTokenType} }

func (h *fakeHooks) ExchangeExternal(_ context.Context, _, token, _ string) (string, []string, error) {
	if sub, ok := strings.CutPrefix(token, "ams:"); ok {
		return sub, []string{"ext"}, nil
	}
	return "", nil, sso.ErrAccessDenied
}

func (h *fakeHooks) HasConsent(_ context.Context, subject string, client *sso.ClientConfig, _ []string) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.consent[subject+"|"+client.ID], nil
}

// harness is one provider behind one test server.
type harness struct {
	t      testing.TB
	p      *sso.Provider
	store  *memstore.Store
	hooks  *fakeHooks
	srv    *httptest.Server
	reg    *sso.Registry // the provider's clients (Refresh: see a client stored meanwhile)
	issuer string
	http   *http.Client // never follows redirects
}

type harnessOpt func(*sso.Config)

var quiet = slog.New(slog.DiscardHandler)

func newHarness(t testing.TB, opts ...harnessOpt) *harness {
	t.Helper()
	return newHarnessWith(t, nil, opts...)
}

// newHarnessWith is newHarness with the provider's store wrapped by wrap (when not nil).
func newHarnessWith(t testing.TB, wrap func(*memstore.Store) sso.Store, opts ...harnessOpt) *harness {
	t.Helper()
	return newHarnessOn(t, nil, wrap, opts...)
}

// replica is a second provider, with its own caches and its own server, on h's store: what
// another replica of the bridge is.
func (h *harness) replica() *harness {
	h.t.Helper()
	return newHarnessOn(h.t, h.store, nil)
}

// newHarnessOn is newHarnessWith on st (a new in-memory store when nil).
func newHarnessOn(t testing.TB, st0 *memstore.Store, wrap func(*memstore.Store) sso.Store, opts ...harnessOpt) *harness {
	t.Helper()
	if st0 == nil {
		st0 = memstore.New()
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Listener.Close()
	srv.Listener = ln
	issuer := "http://" + ln.Addr().String()

	st, keys, reg, hooks, cfg := harnessPartsOn(t, issuer, st0)
	for _, o := range opts {
		o(&cfg)
	}
	var store sso.Store = st
	if wrap != nil {
		store = wrap(st)
	}
	p, err := sso.New(cfg, store, keys, reg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = p
	srv.Start()
	t.Cleanup(srv.Close)
	return &harness{
		t: t, p: p, store: st, hooks: hooks, srv: srv, reg: reg, issuer: issuer,
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// harnessParts builds what sso.New takes, for a provider at issuer.
func harnessParts(t testing.TB, issuer string) (*memstore.Store, *sso.KeyManager, *sso.Registry, *fakeHooks, sso.Config) {
	t.Helper()
	return harnessPartsOn(t, issuer, memstore.New())
}

// harnessPartsOn is harnessParts on an existing store (a replica of another harness).
func harnessPartsOn(t testing.TB, issuer string, st *memstore.Store) (*memstore.Store, *sso.KeyManager, *sso.Registry, *fakeHooks, sso.Config) {
	t.Helper()
	ctx := t.Context()
	keys, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{Algorithms: []string{"RS256", "ES256"}, EncryptionKey: make([]byte, 32), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := sso.NewRegistry(ctx, st, testClients(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := sso.Config{
		Issuer:                issuer,
		CryptoKey:             [32]byte{1, 2, 3},
		RotateKey:             []byte(strings.Repeat("r", 32)),
		SIDKey:                []byte(strings.Repeat("s", 32)),
		LoginURL:              func(id string) string { return "/login?id=" + url.QueryEscape(id) },
		DefaultLogoutRedirect: issuer + "/logout/done",
		SupportedScopes:       []string{"openid", "profile", "email", "offline_access"},
		SupportedClaims:       []string{"sub", "email", "name"},
		AllOrigins:            reg.Origins,
		Logger:                quiet,
	}
	return st, keys, reg, newFakeHooks(), cfg
}

// newProviderErr is sso.New's error for the harness configuration changed by mod.
func newProviderErr(t *testing.T, mod func(*sso.Config)) error {
	st, keys, reg, hooks, cfg := harnessParts(t, "http://127.0.0.1:1")
	mod(&cfg)
	_, err := sso.New(cfg, st, keys, reg, hooks)
	return err
}

// oauthParam is an extra authorization request parameter.
func oauthParam(k, v string) oauth2.AuthCodeOption { return oauth2.SetAuthURLParam(k, v) }

// oauth2Config is x/oauth2's view of a client of the harness.
func (h *harness) oauth2Config(clientID, secret, redirect string, scopes ...string) *oauth2.Config {
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: h.issuer + sso.PathAuthorize, TokenURL: h.issuer + sso.PathToken,
			AuthStyle: oauth2.AuthStyleInHeader},
	}
}

// get performs a GET without following redirects; header holds name, value pairs.
func (h *harness) get(path string, header ...string) *http.Response {
	h.t.Helper()
	return h.do(http.MethodGet, path, nil, header...)
}

// post sends a form to path; basic is "id:secret" for client_secret_basic (form-encoded as RFC
// 6749 2.3.1 says), or empty.
func (h *harness) post(path string, form url.Values, basic string) *http.Response {
	h.t.Helper()
	header := []string{"Content-Type", "application/x-www-form-urlencoded"}
	if id, secret, ok := strings.Cut(basic, ":"); ok {
		header = append(header, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret))))
	}
	return h.do(http.MethodPost, path, strings.NewReader(form.Encode()), header...)
}

func (h *harness) do(method, path string, body io.Reader, header ...string) *http.Response {
	h.t.Helper()
	target := path
	if !strings.HasPrefix(path, "http") {
		target = h.issuer + path
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.http.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// token posts to the token endpoint and decodes the JSON answer.
func (h *harness) token(form url.Values, basic string) (int, map[string]any, http.Header) {
	h.t.Helper()
	resp := h.post(sso.PathToken, form, basic)
	return resp.StatusCode, decodeJSON(h.t, resp), resp.Header
}

func decodeJSON(t testing.TB, resp *http.Response) map[string]any {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON (%d): %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b)
	}
	return m
}

// signIn plays the member's part for an authorization request URL: the provider sends the
// browser to the login page; the test signs subject in (a live session) and follows op's
// callback; it returns the redirect to the client.
func (h *harness) signIn(authorizeURL, subject string) *url.URL {
	h.t.Helper()
	resp := h.get(authorizeURL)
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("authorize: %d %s", resp.StatusCode, b)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	id := loc.Query().Get("id")
	if loc.Path != "/login" || id == "" {
		h.t.Fatalf("authorize did not go to the login page: %s", loc)
	}
	ctx := h.t.Context()
	now := time.Now()
	sid := "sess-" + id // ids share their time prefix: the whole id keeps sessions apart
	if err := h.store.CreateSession(ctx, &sso.Session{ID: sid, Subject: subject, AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		h.t.Fatal(err)
	}
	cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: subject, AuthTime: now, AMR: []string{"pwd"}, SessionID: sid})
	if err != nil {
		h.t.Fatal(err)
	}
	resp = h.get(cb)
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("callback: %d %s", resp.StatusCode, b)
	}
	out, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// pkce returns a verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// code runs an authorization for the web client and returns the code and its PKCE verifier.
func (h *harness) code(subject string, scopes ...string) (code, verifier string) {
	h.t.Helper()
	verifier, challenge := pkce()
	cfg := h.oauth2Config("web", webSecret, webRedirect, scopes...)
	u := h.signIn(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")), subject)
	if e := u.Query().Get("error"); e != "" {
		h.t.Fatalf("authorization error %s: %s", e, u.Query().Get("error_description"))
	}
	return u.Query().Get("code"), verifier
}

// tokens runs a whole code flow for the web client through x/oauth2.
func (h *harness) tokens(subject string, scopes ...string) *oauth2.Token {
	h.t.Helper()
	code, verifier := h.code(subject, scopes...)
	tok, err := h.oauth2Config("web", webSecret, webRedirect, scopes...).Exchange(h.t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		h.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// oauthErr returns the RFC 6749 error code of an x/oauth2 failure.
func oauthErr(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}
