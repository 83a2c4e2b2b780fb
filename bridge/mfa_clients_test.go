package bridge_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// enrolAtStep enrols an authenticator app on a sign-in's second-factor step page p (a client
// or role requires a second factor and the member has none) and returns the code the sign-in
// then gets.
func enrolAtStep(t *testing.T, e *env, b *bridgetest.Browser, p *bridgetest.Page) string {
	t.Helper()
	m := totpSecretRe.FindStringSubmatch(p.Body)
	if m == nil {
		t.Fatalf("no enrolment on the step page: %d %s %.600s", p.Status, p.URL, p.Body)
	}
	done := submitStep(b, e, p, "enrol", totpCode(t, m[1], 0))
	if !recoveryCodeRe.MatchString(done.Body) {
		t.Fatalf("no recovery codes after enrolment: %d %.500s", done.Status, done.Body)
	}
	next := regexp.MustCompile(`id="mfa-continue" href="([^"]+)"`).FindStringSubmatch(done.Body)
	if next == nil {
		t.Fatalf("no way on after enrolment: %.500s", done.Body)
	}
	return b.Get(e.issuer + strings.ReplaceAll(next[1], "&amp;", "&")).Redirected(t).Get("code")
}

// TestMFARequiredDynamicClients: mfa: required works for clients added through the admin API
// and through the CLI's administration (OpenAdmin, on the same store as the running server),
// not only for clients of the config file: a password alone gets no code, the member enrols
// first. A PUT replaces the whole registration: leaving mfa out makes the client optional again.
func TestMFARequiredDynamicClients(t *testing.T) {
	var cfg bridge.Config
	e := grantEnv(t, func(c *bridge.Config) { c.Admin.Token = adminToken; cfg = *c })
	srv := httptest.NewServer(e.bridge.AdminHandler())
	t.Cleanup(srv.Close)
	adm := adminClient{t: t, url: srv.URL}
	ctx := context.Background()

	// The admin API.
	apiReg := map[string]any{"id": "apiapp", "name": "API App", "trusted": true,
		"redirect_uris": []string{e.rp + "/apiapp"}, "mfa": "required"}
	created := adm.ok(http.MethodPost, "/admin/clients", apiReg)
	if created["mfa"] != "required" {
		t.Fatalf("created client: %v", created)
	}
	if status, _, m := adm.do(http.MethodPost, "/admin/clients", adminToken, map[string]any{"id": "bad", "redirect_uris": []string{e.rp + "/bad"},
		"mfa": "always"}); status != http.StatusBadRequest || !strings.Contains(fmtAny(m["error_description"]), "clients[bad].mfa") {
		t.Fatalf("unknown mfa value: %d %v", status, m)
	}
	api, apiVerifier := e.oauth("apiapp", created["client_secret"].(string), e.rp+"/apiapp", oauth2.AuthStyleInHeader)

	// The password alone gets no code: the step asks alice to enrol.
	b := e.browser()
	p := b.Login(b.Get(api.AuthCodeURL("s", oidc.Nonce("n"))), "alice", "alice-password")
	if p.Location != "" || !strings.HasPrefix(p.URL.Path, "/login/mfa") || !totpSecretRe.MatchString(p.Body) {
		t.Fatalf("API client with mfa required answered a password: %d %s location %q", p.Status, p.URL, p.Location)
	}

	// A PUT without mfa: the client is optional again, at once (no code needed a reload).
	delete(apiReg, "mfa")
	if got := adm.ok(http.MethodPut, "/admin/clients/apiapp", apiReg); got["mfa"] != nil {
		t.Fatalf("PUT without mfa kept it: %v", got)
	}
	if got := adm.ok(http.MethodGet, "/admin/clients/apiapp", nil); got["mfa"] != nil {
		t.Fatalf("GET after the PUT: %v", got)
	}
	c := idTokenAuth(t, e, api, apiVerifier, e.signIn(e.browser(), api.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if !slices.Equal(c.AMR, []string{"pwd"}) {
		t.Fatalf("optional client: amr %v", c.AMR)
	}
	// And required again.
	apiReg["mfa"] = "required"
	adm.ok(http.MethodPut, "/admin/clients/apiapp", apiReg)
	if status, _, _ := adm.do(http.MethodPut, "/admin/clients/web", adminToken, map[string]any{"redirect_uris": []string{e.rp + "/callback"},
		"mfa": "required"}); status != http.StatusConflict {
		t.Fatalf("PUT of a config-file client: %d", status)
	}
	if status, _, _ := adm.do(http.MethodPut, "/admin/clients/other", adminToken, apiReg); status != http.StatusBadRequest {
		t.Fatalf("PUT with another client's id in the body: %d", status)
	}
	b = e.browser()
	p = b.Login(b.Get(api.AuthCodeURL("s", oidc.Nonce("n"))), "alice", "alice-password")
	c = idTokenAuth(t, e, api, apiVerifier, enrolAtStep(t, e, b, p))
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) || c.ACR != sso.ACRMFA {
		t.Fatalf("API client after enrolment: amr %v acr %q", c.AMR, c.ACR)
	}

	// The CLI's administration, on the same store while the server runs.
	chk, err := cfg.Check(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	cli, closeCLI, err := bridge.OpenAdmin(ctx, chk)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCLI()
	_, secret, err := cli.CreateClient(ctx, "cli user test", admin.Client{ID: "cliapp", Name: "CLI App", Trusted: true,
		RedirectURIs: []string{e.rp + "/cliapp"}, MFA: sso.MFARequired})
	if err != nil {
		t.Fatal(err)
	}
	cliCfg, cliVerifier := e.oauth("cliapp", secret, e.rp+"/cliapp", oauth2.AuthStyleInHeader)
	// The server reads clients added by another process at its next check.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		resp, err := noFollow.Get(cliCfg.AuthCodeURL("s"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode < http.StatusBadRequest { // the login form, not the unknown-client page
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the server does not know the client the CLI added")
		}
	}
	b = e.browser()
	p = b.Login(b.Get(cliCfg.AuthCodeURL("s", oidc.Nonce("n"))), "bob", "bob-password")
	if p.Location != "" || !strings.HasPrefix(p.URL.Path, "/login/mfa") {
		t.Fatalf("CLI client with mfa required answered a password: %d %s location %q", p.Status, p.URL, p.Location)
	}
	c = idTokenAuth(t, e, cliCfg, cliVerifier, enrolAtStep(t, e, b, p))
	if !slices.Equal(c.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("CLI client after enrolment: amr %v", c.AMR)
	}
}
