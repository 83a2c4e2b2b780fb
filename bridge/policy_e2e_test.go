package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
)

// policyEnv: "members" admits only current members (or Staff) and sees only the Member role;
// "public" has no rule and sees every role; "journal" is a third-party app that needs consent.
func policyEnv(t *testing.T) *env {
	return newEnv(t, func(c *bridge.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: "members", Name: "Members Area", Secret: webSecret, Trusted: true, RedirectURIs: []string{"http://127.0.0.1:9/app/members"}},
			config.Client{ID: "public", Name: "Public Events", Secret: webSecret, Trusted: true, RedirectURIs: []string{"http://127.0.0.1:9/app/public"}},
			config.Client{ID: "journal", Name: "Journal", Secret: webSecret, RedirectURIs: []string{"http://127.0.0.1:9/app/journal"}},
		)
		c.Policy.Policies = map[string]policy.ClientPolicy{
			"members": {AccessRule: `member.is_current || "Staff" in member.roles`, AllowedRoles: []string{"Member"}},
		}
	})
}

func lapse(e *env, login string) {
	e.dir.Update(login, func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -3, 0) })
}

func TestRolesPerClient(t *testing.T) {
	e := policyEnv(t)
	e.dir.Update("bob", func(m *legacy.Member) { m.Roles = []string{"Member", "SysAdmin", "Staff"} })
	b := e.browser()
	roles := func(client string) []string {
		cfg, v := e.oauth(client, webSecret, "http://127.0.0.1:9/app/"+client, oauth2.AuthStyleInHeader, "openid", "roles")
		tok, err := cfg.Exchange(e.ctx(), e.signIn(b, cfg.AuthCodeURL("s"), "bob", "bob-password"))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := v.Verify(e.ctx(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var c struct{ Roles []string }
		_ = idt.Claims(&c)
		return c.Roles
	}
	if r := roles("members"); strings.Join(r, ",") != "Member" {
		t.Fatalf("members app sees roles %v, want only Member", r)
	}
	if r := roles("public"); len(r) != 3 {
		t.Fatalf("public app sees roles %v, want all three", r)
	}
}

func TestAccessRuleLapsedMember(t *testing.T) {
	e := policyEnv(t)
	lapse(e, "alice")
	b := e.browser()
	members, _ := e.oauth("members", webSecret, "http://127.0.0.1:9/app/members", oauth2.AuthStyleInHeader)
	public, _ := e.oauth("public", webSecret, "http://127.0.0.1:9/app/public", oauth2.AuthStyleInHeader)
	p := b.Login(b.Get(members.AuthCodeURL("s")), "alice", "alice-password")
	if p.Status != http.StatusForbidden || p.Location != "" || !strings.Contains(p.Body, "not available with your membership") {
		t.Fatalf("lapsed member at the members app: %d %q %.300s", p.Status, p.Location, p.Body)
	}
	// The same member is welcome at the public app (already signed in: no form).
	if q := b.Get(public.AuthCodeURL("s")).Redirected(t); q.Get("code") == "" {
		t.Fatalf("public app refused: %v", q)
	}
	// prompt=none at the members app: access_denied to the client.
	if q := b.Get(members.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))).Redirected(t); q.Get("error") != "access_denied" {
		t.Fatalf("prompt=none: %v", q)
	}
	// A member who lapses after signing in loses the app at the next refresh.
	e2 := policyEnv(t)
	cfg, _ := e2.oauth("members", webSecret, "http://127.0.0.1:9/app/members", oauth2.AuthStyleInHeader)
	tok, err := cfg.Exchange(e2.ctx(), e2.signIn(e2.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	lapse(e2, "alice")
	e2.bridge.FlushMemberCache()
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := cfg.TokenSource(e2.ctx(), tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh after lapsing: %v", err)
	}
}

// TestUnrequestedScopesNeverLeak: with only openid, no profile, email, membership or roles
// claim appears in the ID token, userinfo or introspection.
func TestUnrequestedScopesNeverLeak(t *testing.T) {
	e := policyEnv(t)
	cfg, v := e.oauth("public", webSecret, "http://127.0.0.1:9/app/public", oauth2.AuthStyleInHeader, "openid")
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"name", "given_name", "family_name", "preferred_username", "email", "email_verified", "member_id", "member_type", "paid_through", "is_current", "roles", "company"}
	check := func(where string, m map[string]any) {
		for _, k := range forbidden {
			if _, ok := m[k]; ok {
				t.Fatalf("%s carries %q without its scope: %v", where, k, m)
			}
		}
	}
	idt, err := v.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	check("id token", claims)
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	_, ui := doJSON(t, req)
	check("userinfo", ui)
	_, in := postForm(t, e.issuer+"/oauth/introspect", map[string]string{"token": tok.AccessToken}, "public", webSecret)
	if in["active"] != true {
		t.Fatalf("introspect: %v", in)
	}
	check("introspection", in)
}

func TestConsentLifecycle(t *testing.T) {
	e := policyEnv(t)
	b := e.browser()
	journal := func(scopes ...string) *oauth2.Config {
		cfg, _ := e.oauth("journal", webSecret, "http://127.0.0.1:9/app/journal", oauth2.AuthStyleInHeader, scopes...)
		return cfg
	}
	// First visit: login, then the consent page naming the app and the scopes in plain words.
	p := b.Login(b.Get(journal("openid", "email", "offline_access").AuthCodeURL("s")), "alice", "alice-password")
	if !strings.Contains(p.Body, "Allow Journal?") || !strings.Contains(p.Body, "Your e-mail address") {
		t.Fatalf("no consent page: %d %.400s", p.Status, p.Body)
	}
	f := p.Hidden()
	q := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"allow"}}).Redirected(t)
	tok, err := journal("openid", "email", "offline_access").Exchange(e.ctx(), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	// Remembered: the same scopes go straight through.
	if q := b.Get(journal("openid", "email", "offline_access").AuthCodeURL("s")).Redirected(t); q.Get("code") == "" {
		t.Fatalf("consent not remembered: %v", q)
	}
	// A new scope asks again.
	if p := b.Get(journal("openid", "email", "membership").AuthCodeURL("s")); p.Location != "" || !strings.Contains(p.Body, "Your membership") {
		t.Fatalf("new scope did not ask again: %q", p.Location)
	}
	// Deny: access_denied to the app.
	p = b.Get(journal("openid", "profile").AuthCodeURL("d"))
	f = p.Hidden()
	if q := b.Post(e.issuer+"/consent", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "h": {f.Get("h")}, "decision": {"deny"}}).Redirected(t); q.Get("error") != "access_denied" {
		t.Fatalf("deny: %v", q)
	}
	// Withdraw on the account page: the refresh token dies and consent is asked again.
	acc := b.Get(e.issuer + "/account")
	if !strings.Contains(acc.Body, "Apps you allowed") || !strings.Contains(acc.Body, "Journal") {
		t.Fatalf("account page: %.400s", acc.Body)
	}
	b.Post(e.issuer+"/account", url.Values{"csrf": {acc.Hidden().Get("csrf")}, "client": {"journal"}, "action": {"withdraw"}})
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := journal("openid", "email", "offline_access").TokenSource(e.ctx(), tok).Token(); err == nil {
		t.Fatal("refresh token survived consent withdrawal")
	}
	if p := b.Get(journal("openid", "email").AuthCodeURL("s")); p.Location != "" || !strings.Contains(p.Body, "Allow Journal?") {
		t.Fatalf("consent not asked after withdrawal: %q", p.Location)
	}
	// Consent can never bypass the access rule: a lapsed member posting consent for the
	// members app is refused (members is trusted, so forge the post for the journal with a rule).
}

func TestBrokenExpressionStopsStartup(t *testing.T) {
	for name, pol := range map[string]policy.ClientPolicy{
		"syntax":     {AccessRule: `member.is_current ||`},
		"undeclared": {AccessRule: `membr.is_current`},
		"not bool":   {AccessRule: `member.login`},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := bridge.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Policy.Policies = map[string]policy.ClientPolicy{"portal": pol}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), "policies[portal].access_rule") {
				t.Fatalf("validate: %v", err)
			}
			st, _ := sqlite.Open(context.Background(), filepath.Join(cfg.DataDir, "s.db"))
			defer st.Close()
			_, err = bridge.New(context.Background(), bridge.Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
				SigningKeyEncryption: make([]byte, 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil || !strings.Contains(err.Error(), "policies[portal].access_rule") {
				t.Fatalf("start-up: %v", err)
			}
		})
	}
}

var _ = oidc.ScopeOpenID
