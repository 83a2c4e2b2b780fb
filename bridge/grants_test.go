package bridge_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

const (
	serviceSecret = "service-secret-0123456789abcdef012345"
	apiSecret     = "orders-api-secret-0123456789abcdef0123"
	legacySecret  = "legacy-secret-0123456789abcdef0123456"
)

// withGrantClients adds the clients of the grant tests: a service (client_credentials, JWT
// access tokens for the orders-api resource server), the resource server itself, devices
// (public, trusted and not), a legacy password-grant integration and an SPA.
func withGrantClients(cfg *bridge.Config) {
	cfg.Tokens.DeviceInterval = time.Second
	cfg.Clients = append(cfg.Clients,
		config.Client{ID: "service", Name: "Billing Service", Secret: serviceSecret,
			GrantTypes: []string{sso.GrantClientCredentials}, Scopes: []string{"orders.read", "orders.write"},
			Audiences: []string{"orders-api"}, AccessTokenFormat: "jwt"},
		config.Client{ID: "orders-api", Name: "Orders API", Secret: apiSecret,
			GrantTypes: []string{sso.GrantClientCredentials}, Scopes: []string{"introspect"}},
		config.Client{ID: "tv", Name: "Member TV", Public: true, Trusted: true,
			GrantTypes: []string{sso.GrantDeviceCode, sso.GrantRefreshToken}, AccessTokenFormat: "jwt"},
		config.Client{ID: "kiosk", Name: "Kiosk", Public: true,
			GrantTypes: []string{sso.GrantDeviceCode}},
		config.Client{ID: "legacy", Name: "Old Forum", Secret: legacySecret, Trusted: true,
			GrantTypes: []string{sso.GrantPassword, sso.GrantRefreshToken}},
		config.Client{ID: "spa", Name: "Events SPA", Public: true, Trusted: true,
			RedirectURIs: []string{"https://spa.example.org/cb"}, WebOrigins: []string{"https://spa.example.org"}},
	)
}

func grantEnv(t *testing.T, mutate ...func(*bridge.Config)) *env {
	return newEnv(t, append([]func(*bridge.Config){withGrantClients}, mutate...)...)
}

func (e *env) endpoint() oauth2.Endpoint {
	return oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/oauth/token",
		DeviceAuthURL: e.issuer + "/device_authorization", AuthStyle: oauth2.AuthStyleInHeader}
}

// verifyATJWT checks an RFC 9068 access token offline: header typ at+jwt, signature against
// the published JWKS (go-oidc's remote key set and go-jose), and returns its claims.
func verifyATJWT(t *testing.T, e *env, raw string) map[string]any {
	t.Helper()
	sig, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
	if err != nil {
		t.Fatalf("access token is not a JWS: %v", err)
	}
	if typ := sig.Signatures[0].Protected.ExtraHeaders["typ"]; typ != "at+jwt" {
		t.Fatalf("access token typ = %v, want at+jwt", typ)
	}
	payload, err := oidc.NewRemoteKeySet(e.ctx(), e.issuer+"/keys").VerifySignature(e.ctx(), raw)
	if err != nil {
		t.Fatalf("verify against JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "client_id"} {
		if claims[k] == nil {
			t.Fatalf("access token lacks %s: %v", k, claims)
		}
	}
	if claims["iss"] != e.issuer {
		t.Fatalf("iss = %v", claims["iss"])
	}
	exp, iat := claims["exp"].(float64), claims["iat"].(float64)
	if exp <= iat || time.Unix(int64(exp), 0).Before(time.Now()) {
		t.Fatalf("exp %v iat %v", exp, iat)
	}
	return claims
}

func audience(c map[string]any) []string {
	switch a := c["aud"].(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

func introspect(t *testing.T, e *env, token, id, secret string) (*http.Response, map[string]any) {
	t.Helper()
	return postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": token}, id, secret)
}

// TestClientCredentials: a service gets an at+jwt through x/oauth2/clientcredentials, a
// resource server verifies it offline against JWKS and by introspection, revocation ends it.
func TestClientCredentialsGrant(t *testing.T) {
	e := grantEnv(t)
	cc := &clientcredentials.Config{ClientID: "service", ClientSecret: serviceSecret, TokenURL: e.issuer + "/oauth/token",
		Scopes: []string{"orders.read"}}
	tok, err := cc.Token(e.ctx())
	if err != nil {
		t.Fatalf("client_credentials: %v", err)
	}
	if tok.RefreshToken != "" || tok.Extra("id_token") != nil {
		t.Fatalf("client_credentials must issue an access token only: %+v", tok)
	}
	claims := verifyATJWT(t, e, tok.AccessToken)
	if claims["sub"] != "service" || claims["client_id"] != "service" || claims["scope"] != "orders.read" {
		t.Fatalf("claims: %v", claims)
	}
	if aud := audience(claims); !slices.Equal(aud, []string{"orders-api"}) {
		t.Fatalf("aud = %v, want [orders-api]", aud)
	}

	// No scope asked: every configured scope.
	all, err := (&clientcredentials.Config{ClientID: "service", ClientSecret: serviceSecret, TokenURL: cc.TokenURL}).Token(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if c := verifyATJWT(t, e, all.AccessToken); c["scope"] != "orders.read orders.write" {
		t.Fatalf("default scopes: %v", c["scope"])
	}

	// The resource server (the token's audience) introspects it.
	resp, in := introspect(t, e, tok.AccessToken, "orders-api", apiSecret)
	if resp.StatusCode != 200 || in["active"] != true || in["sub"] != "service" || in["client_id"] != "service" {
		t.Fatalf("introspection by the audience: %d %v", resp.StatusCode, in)
	}
	// Another confidential client learns nothing.
	if _, in := introspect(t, e, tok.AccessToken, "web", webSecret); in["active"] != false {
		t.Fatalf("introspection by a stranger: %v", in)
	}
	// Public clients and wrong secrets may not introspect.
	resp, body := postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": tok.AccessToken, "client_id": "mobile"})
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
	resp, body = introspect(t, e, tok.AccessToken, "orders-api", "wrong")
	wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")

	// Userinfo is for member tokens.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, _ := doJSON(t, req); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("userinfo with a client_credentials token: %d", resp.StatusCode)
	}

	// Revocation (RFC 7009) by the client: introspection then says inactive.
	resp, _ = postForm(t, e.issuer+"/revoke", map[string]string{"token": tok.AccessToken}, "service", serviceSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if _, in := introspect(t, e, tok.AccessToken, "orders-api", apiSecret); in["active"] != false {
		t.Fatalf("revoked token still active: %v", in)
	}

	// Scopes outside the client's list.
	_, err = (&clientcredentials.Config{ClientID: "service", ClientSecret: serviceSecret, TokenURL: cc.TokenURL,
		Scopes: []string{"orders.delete"}}).Token(e.ctx())
	if err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("unregistered scope: %v", err)
	}
	// A wrong secret.
	_, err = (&clientcredentials.Config{ClientID: "service", ClientSecret: "nope", TokenURL: cc.TokenURL}).Token(e.ctx())
	if err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Fatalf("wrong secret: %v", err)
	}
}

// TestClientCredentialsRefusesPublicAndUnregistered: a public client, and a confidential one
// without the grant, are refused.
func TestClientCredentialsRefusesPublicClient(t *testing.T) {
	e := grantEnv(t)
	for _, tc := range []struct {
		id, secret string
		style      oauth2.AuthStyle
	}{{"mobile", "", oauth2.AuthStyleInParams}, {"mobile", "", oauth2.AuthStyleInHeader}, {"spa", "", oauth2.AuthStyleInParams}} {
		_, err := (&clientcredentials.Config{ClientID: tc.id, ClientSecret: tc.secret, TokenURL: e.issuer + "/oauth/token",
			AuthStyle: tc.style}).Token(e.ctx())
		var re *oauth2.RetrieveError
		if err == nil || !asRetrieve(err, &re) || (re.ErrorCode != "unauthorized_client" && re.ErrorCode != "invalid_client") {
			t.Fatalf("public client %s (style %d) got client_credentials: %v", tc.id, tc.style, err)
		}
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "client_credentials", "client_id": "mobile"})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "unauthorized_client")
	resp, body = postForm(t, tokenURL(e), map[string]string{"grant_type": "client_credentials"}, "web", webSecret)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "unauthorized_client")
}

func asRetrieve(err error, re **oauth2.RetrieveError) bool {
	r, ok := err.(*oauth2.RetrieveError)
	if ok {
		*re = r
	}
	return ok
}

// TestDiscoveryAdvertisesWhatWorks: the device endpoint and grants are advertised (the store
// keeps device codes), the legacy and unsupported ones are not.
func TestDiscoveryAdvertisesWhatWorks(t *testing.T) {
	e := grantEnv(t)
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/.well-known/openid-configuration", nil)
	_, d := doJSON(t, req)
	if d["device_authorization_endpoint"] != e.issuer+"/device_authorization" {
		t.Fatalf("device_authorization_endpoint = %v", d["device_authorization_endpoint"])
	}
	var grants []string
	for _, g := range d["grant_types_supported"].([]any) {
		grants = append(grants, g.(string))
	}
	for _, g := range []string{"authorization_code", "refresh_token", "client_credentials", sso.GrantDeviceCode} {
		if !slices.Contains(grants, g) {
			t.Fatalf("grant %s not advertised: %v", g, grants)
		}
	}
	for _, g := range []string{"implicit", "password", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
		if slices.Contains(grants, g) {
			t.Fatalf("grant %s advertised but not served: %v", g, grants)
		}
	}
	if rt, _ := d["response_types_supported"].([]any); len(rt) != 1 || rt[0] != "code" {
		t.Fatalf("response_types_supported = %v", d["response_types_supported"])
	}
}

// deviceApprove runs the member's side in a browser: /device with the code, sign-in, then the
// "return to your device" page.
func deviceApprove(t *testing.T, e *env, userCode, login, password string) *bridgeDevicePage {
	t.Helper()
	b := e.browser()
	p := b.Get(e.issuer + "/device?user_code=" + url.QueryEscape(userCode))
	if p.Status != 200 || !strings.Contains(p.Body, userCode) {
		t.Fatalf("device page: %d %.400s", p.Status, p.Body)
	}
	f := p.Hidden()
	p = b.Post(e.issuer+"/device", url.Values{"csrf": {f.Get("csrf")}, "user_code": {strings.ToLower(userCode)}})
	if p.URL.Path != "/login" {
		t.Fatalf("after the code: %s %d %.400s", p.URL, p.Status, p.Body)
	}
	p = b.Login(p, login, password)
	// A device approval always confirms, naming the app (RFC 8628 5.4), even for trusted apps.
	if p.URL.Path == "/consent" {
		if !strings.Contains(p.Body, "on a device?") {
			t.Fatalf("device confirmation page: %.400s", p.Body)
		}
		f := p.Hidden()
		p = b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}})
	}
	return &bridgeDevicePage{status: p.Status, path: p.URL.Path, body: p.Body}
}

type bridgeDevicePage struct {
	status int
	path   string
	body   string
}

// TestDeviceFlow runs RFC 8628 through x/oauth2's DeviceAuth and DeviceAccessToken while a
// member approves in a browser; the device gets at+jwt, ID and refresh tokens once.
func TestDeviceFlow(t *testing.T) {
	e := grantEnv(t)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "profile", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	if da.VerificationURI != e.issuer+"/device" || len(da.UserCode) != 9 || da.UserCode[4] != '-' || da.Interval != 1 {
		t.Fatalf("device authorization response: %+v", da)
	}
	if !strings.HasPrefix(da.VerificationURIComplete, e.issuer+"/device?user_code=") {
		t.Fatalf("verification_uri_complete = %q", da.VerificationURIComplete)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := cfg.DeviceAccessToken(e.ctx(), da)
		done <- result{tok, err}
	}()
	time.Sleep(1500 * time.Millisecond) // the device is polling: authorization_pending
	p := deviceApprove(t, e, da.UserCode, "alice", "alice-password")
	if p.status != 200 || p.path != "/device/done" || !strings.Contains(p.body, "return to your device") {
		t.Fatalf("after sign-in: %d %s %.600s", p.status, p.path, p.body)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("device never got its tokens")
	}
	if r.err != nil {
		t.Fatalf("device access token: %v", r.err)
	}
	claims := verifyATJWT(t, e, r.tok.AccessToken)
	if claims["client_id"] != "tv" || claims["sub"] == "tv" || claims["sub"] == "" || claims["sid"] == nil {
		t.Fatalf("device access token claims: %v", claims)
	}
	if r.tok.RefreshToken == "" || r.tok.Extra("id_token") == nil {
		t.Fatalf("device tokens: %+v", r.tok)
	}
	v := oidcVerifier(t, e, "tv")
	if _, err := v.Verify(e.ctx(), r.tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("device ID token: %v", err)
	}
	// The device code is spent.
	time.Sleep(1100 * time.Millisecond)
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	// The user code too.
	b := e.browser()
	pg := b.Get(e.issuer + "/device")
	pg = b.Post(e.issuer+"/device", url.Values{"csrf": {pg.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
	if pg.Status != http.StatusBadRequest {
		t.Fatalf("reused user code: %d", pg.Status)
	}
	// Audit: the approval.
	ev, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "device.approved"})
	if err != nil || len(ev) != 1 || ev[0].ClientID != "tv" {
		t.Fatalf("device.approved audit: %v %v", ev, err)
	}
}

func oidcVerifier(t *testing.T, e *env, clientID string) *oidc.IDTokenVerifier {
	p, err := oidc.NewProvider(e.ctx(), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	return p.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"RS256", "ES256"}})
}

// TestDeviceFlowFailures: polling too fast (slow_down), an expired device code, a denial by
// the member, wrong user codes (throttled), an unregistered client.
func TestDeviceFlowFailures(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) { c.Throttle.PerLogin = 3 })
	poll := func(code, client string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": code, "client_id": client})
	}
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	t.Run("SlowDown", func(t *testing.T) {
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		resp, body := poll(da.DeviceCode, "tv")
		wantOAuthError(t, resp, body, http.StatusBadRequest, "authorization_pending")
		resp, body = poll(da.DeviceCode, "tv")
		wantOAuthError(t, resp, body, http.StatusBadRequest, "slow_down")
		// The interval grew by 5 s: one second later is still too fast.
		time.Sleep(1100 * time.Millisecond)
		resp, body = poll(da.DeviceCode, "tv")
		wantOAuthError(t, resp, body, http.StatusBadRequest, "slow_down")
		// Another client cannot use the code.
		resp, body = poll(da.DeviceCode, "kiosk")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("other client: %d %v", resp.StatusCode, body)
		}
	})

	t.Run("Expired", func(t *testing.T) {
		code := sso.RandomToken()
		now := time.Now()
		err := e.store.CreateDeviceAuthorization(e.ctx(), &sso.DeviceAuthorization{DeviceCodeHash: sso.HashToken(code),
			UserCode: "BBBBCCCC", ClientID: "tv", Scopes: []string{"openid"}, CreatedAt: now.Add(-11 * time.Minute),
			ExpiresAt: now.Add(-time.Minute), Interval: time.Second, State: sso.DevicePending})
		if err != nil {
			t.Fatal(err)
		}
		_, err = cfg.DeviceAccessToken(e.ctx(), &oauth2.DeviceAuthResponse{DeviceCode: code, Interval: 1})
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != "expired_token" {
			t.Fatalf("expired device code: %v", err)
		}
		// Expired is final: polled again at once, still expired_token, never slow_down.
		resp, body := poll(code, "tv")
		wantOAuthError(t, resp, body, http.StatusBadRequest, "expired_token")
		// Its user code is refused at /device.
		b := e.browser()
		p := b.Get(e.issuer + "/device")
		p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {"BBBB-CCCC"}})
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "not valid or has expired") {
			t.Fatalf("expired user code at /device: %d", p.Status)
		}
	})

	t.Run("Denied", func(t *testing.T) {
		kiosk := &oauth2.Config{ClientID: "kiosk", Endpoint: e.endpoint(), Scopes: []string{"openid", "profile"}}
		kiosk.Endpoint.AuthStyle = oauth2.AuthStyleInParams
		da, err := kiosk.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		b := e.browser()
		p := b.Get(da.VerificationURIComplete)
		p = b.Post(e.issuer+"/device", url.Values{"csrf": {p.Hidden().Get("csrf")}, "user_code": {da.UserCode}})
		p = b.Login(p, "alice", "alice-password")
		if p.URL.Path != "/consent" {
			t.Fatalf("an untrusted device client needs consent: %s %d", p.URL, p.Status)
		}
		f := p.Hidden()
		p = b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"deny"}})
		if p.URL.Path != "/device/done" || !strings.Contains(p.Body, "not connected") {
			t.Fatalf("after denying: %s %d %.400s", p.URL, p.Status, p.Body)
		}
		_, err = kiosk.DeviceAccessToken(e.ctx(), da)
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != "access_denied" {
			t.Fatalf("denied device: %v", err)
		}
	})

	t.Run("WrongUserCodesThrottled", func(t *testing.T) {
		b := e.browser()
		csrf := b.Get(e.issuer + "/device").Hidden().Get("csrf")
		var last int
		for i := 0; i < 4; i++ {
			last = b.Post(e.issuer+"/device", url.Values{"csrf": {csrf}, "user_code": {"ZZZZ-ZZZZ"}}).Status
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("4th wrong user code: %d, want 429", last)
		}
		// Without the CSRF token nothing is looked up.
		if p := b.Post(e.issuer+"/device", url.Values{"user_code": {"ZZZZ-ZZZZ"}}); p.Status != http.StatusForbidden {
			t.Fatalf("no csrf: %d", p.Status)
		}
	})

	t.Run("NotRegistered", func(t *testing.T) {
		resp, body := postForm(t, e.issuer+"/device_authorization", map[string]string{"client_id": "mobile", "scope": "openid"})
		wantOAuthError(t, resp, body, http.StatusBadRequest, "unauthorized_client")
		resp, body = postForm(t, e.issuer+"/device_authorization", map[string]string{"scope": "openid"}, "web", "wrong")
		wantOAuthError(t, resp, body, http.StatusUnauthorized, "invalid_client")
		resp, body = poll("nonsense", "tv")
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	})
}

// TestPasswordGrant: the legacy grant through x/oauth2's PasswordCredentialsToken, only for the
// client that registered it, with the login page's status rules, throttling and audit.
func TestPasswordGrant(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) { c.Throttle.PerLogin = 3 })
	legacy := &oauth2.Config{ClientID: "legacy", ClientSecret: legacySecret, Endpoint: e.endpoint(),
		Scopes: []string{"openid", "profile", "offline_access"}}
	tok, err := legacy.PasswordCredentialsToken(e.ctx(), "alice", "alice-password")
	if err != nil {
		t.Fatalf("password grant: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("id_token") == nil {
		t.Fatalf("password grant tokens: %+v", tok)
	}
	idt, err := oidcVerifier(t, e, "legacy").Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var c idClaims
	_ = idt.Claims(&c)
	if !slices.Equal(c.AMR, []string{"pwd"}) || c.Name != "Alice Archer" {
		t.Fatalf("ID token: %+v", c)
	}
	if _, err := legacy.TokenSource(e.ctx(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh after the password grant: %v", err)
	}

	wantErr := func(err error, code string) {
		t.Helper()
		var re *oauth2.RetrieveError
		if !asRetrieve(err, &re) || re.ErrorCode != code {
			t.Fatalf("want %s, got %v", code, err)
		}
	}
	// Disabled: a client without the grant (the default).
	web := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	_, err = web.PasswordCredentialsToken(e.ctx(), "alice", "alice-password")
	wantErr(err, "unauthorized_client")
	// A wrong client secret.
	_, err = (&oauth2.Config{ClientID: "legacy", ClientSecret: "wrong", Endpoint: e.endpoint()}).PasswordCredentialsToken(e.ctx(), "alice", "alice-password")
	wantErr(err, "invalid_client")
	// Locked out in the AMS: refused, even with the right password, and audited.
	_, err = legacy.PasswordCredentialsToken(e.ctx(), "locked", "locked-password")
	wantErr(err, "invalid_grant")
	if !strings.Contains(err.Error(), "locked") {
		t.Fatalf("locked-out message: %v", err)
	}
	ev, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.failure"})
	if len(ev) == 0 || !strings.HasPrefix(ev[0].Login, "hmac:") || ev[0].Subject == "" || ev[0].ClientID != "legacy" || !strings.Contains(ev[0].Detail, "grant=password") {
		t.Fatalf("audit of the locked-out attempt: %+v", ev)
	}
	// Throttled like the login page: after per_login failures, refused with Retry-After.
	for i := 0; i < 3; i++ {
		_, err = legacy.PasswordCredentialsToken(e.ctx(), "bob", "wrong")
		wantErr(err, "invalid_grant")
	}
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": "password", "username": "bob", "password": "bob-password", "scope": "openid"}, "legacy", legacySecret)
	wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("throttled password grant without Retry-After")
	}
	if ev, _ := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "login.throttled"}); len(ev) == 0 {
		t.Fatal("throttled password grant not audited")
	}
}

// TestDeviceCodeFinalAtOnce: a redeemed device_code answers invalid_grant on the very next poll,
// however soon (it answered slow_down), and a denied one access_denied.
func TestDeviceCodeFinalAtOnce(t *testing.T) {
	e := grantEnv(t, func(c *bridge.Config) { c.Tokens.DeviceInterval = 5 * time.Second })
	poll := func(code string) (*http.Response, map[string]any) {
		return postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": code, "client_id": "tv"})
	}
	start := func() map[string]any {
		resp, da := postForm(t, e.issuer+"/device_authorization", map[string]string{"client_id": "tv", "scope": "openid"})
		if resp.StatusCode != 200 {
			t.Fatalf("device authorization: %d %v", resp.StatusCode, da)
		}
		return da
	}
	da := start()
	if p := deviceApprove(t, e, da["user_code"].(string), "alice", "alice-password"); p.path != "/device/done" {
		t.Fatalf("approval: %+v", p)
	}
	resp, tok := poll(da["device_code"].(string))
	if resp.StatusCode != 200 || tok["access_token"] == nil {
		t.Fatalf("first poll after approval: %d %v", resp.StatusCode, tok)
	}
	for i := 0; i < 2; i++ {
		resp, body := poll(da["device_code"].(string))
		wantOAuthError(t, resp, body, http.StatusBadRequest, "invalid_grant")
	}
	// Denied: access_denied on every poll, never slow_down.
	da = start()
	resp, body := poll(da["device_code"].(string))
	wantOAuthError(t, resp, body, http.StatusBadRequest, "authorization_pending")
	if err := e.store.DecideDeviceAuthorization(e.ctx(), strings.ReplaceAll(da["user_code"].(string), "-", ""), false, sso.Completion{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		resp, body := poll(da["device_code"].(string))
		wantOAuthError(t, resp, body, http.StatusBadRequest, "access_denied")
	}
}
