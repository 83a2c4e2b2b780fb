package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/directories"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
	"github.com/ssobridge/ssobridge/sso"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"bad listen", func(c *Config) { c.Listen = "8080" }, "listen:"},
		{"http issuer not loopback", func(c *Config) { c.Issuer = "http://sso.example.org" }, "issuer:"},
		{"issuer with slash", func(c *Config) { c.Issuer = "https://sso.example.org/" }, "issuer:"},
		{"issuer with query", func(c *Config) { c.Issuer = "https://sso.example.org?x=1" }, "issuer:"},
		{"short encryption key", func(c *Config) { c.Keys.EncryptionKey = "c2hvcnQ=" }, "keys.encryption_key:"},
		{"unknown alg", func(c *Config) { c.Keys.Algorithms = []string{"HS256"} }, "keys.algorithms:"},
		{"unknown rsa signer", func(c *Config) { c.Keys.RSASigner = "boringssl" }, "keys.rsa_signer:"},
		{"zero access lifetime", func(c *Config) { c.Tokens.AccessToken = 0 }, "tokens.access_token_lifetime:"},
		{"long code lifetime", func(c *Config) { c.Tokens.Code = time.Hour }, "tokens.code_lifetime:"},
		{"refresh reuse grace over 60s", func(c *Config) { c.Tokens.RefreshReuseGrace = 61 * time.Second }, "tokens.refresh_reuse_grace:"},
		{"negative refresh reuse grace", func(c *Config) { c.Tokens.RefreshReuseGrace = -time.Second }, "tokens.refresh_reuse_grace:"},
		{"bad colour", func(c *Config) { c.Organisation.PrimaryColor = "blue" }, "organisation.primary_color:"},
		{"http logo", func(c *Config) { c.Organisation.LogoURL = "http://example.org/logo.png" }, "organisation.logo_url:"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level:"},
		{"binary pages", func(c *Config) { c.Memory.BinaryPages = "drop" }, "memory.binary_pages:"},
		{"gc percent zero", func(c *Config) { c.Memory.GCPercent = 0 }, "memory.gc_percent:"},
		{"gc percent too high", func(c *Config) { c.Memory.GCPercent = 5000 }, "memory.gc_percent:"},
		{"negative heap floor", func(c *Config) { c.Memory.HeapFloorMB = -1 }, "memory.heap_floor_mb:"},
		{"release too often", func(c *Config) { c.Memory.ReleaseEvery = 10 * time.Millisecond }, "memory.release_every:"},
		{"release too rarely", func(c *Config) { c.Memory.ReleaseEvery = 2 * time.Hour }, "memory.release_every:"},
		{"negative release interval", func(c *Config) { c.Memory.ReleaseEvery = -time.Second }, "memory.release_every:"},
		{"heap floor too high", func(c *Config) { c.Memory.HeapFloorMB = 4096 }, "memory.heap_floor_mb:"},
		{"audit retention", func(c *Config) { c.Audit.Retention = time.Hour }, "audit.retention:"},
		{"reconcile every second", func(c *Config) { c.Shadow.ReconcileInterval = time.Second }, "shadow.reconcile_interval:"},
		{"negative reconcile interval", func(c *Config) { c.Shadow.ReconcileInterval = -time.Minute }, "shadow.reconcile_interval:"},
		{"reconcile rate 0", func(c *Config) { c.Shadow.ReconcileRate = 0 }, "shadow.reconcile_rate:"},
		{"device per network 0", func(c *Config) { c.Throttle.DevicePerNetwork = 0 }, "throttle.device_per_network: must be at least 1"},
		{"reconcile batch too big", func(c *Config) { c.Shadow.ReconcileBatch = 100000 }, "shadow.reconcile_batch:"},
		{"client without secret", func(c *Config) {
			c.Clients = []Client{{ID: "app", RedirectURIs: []string{"https://app.example.org/cb"}}}
		}, "clients[app].secret:"},
		{"short client secret", func(c *Config) {
			c.Clients = []Client{{ID: "app", Secret: "only-31-characters-long-secret!", RedirectURIs: []string{"https://app.example.org/cb"}}}
		}, "clients[app].secret: must be at least 32 characters"},
		{"public client with secret", func(c *Config) {
			c.Clients = []Client{{ID: "spa", Public: true, Secret: "x", RedirectURIs: []string{"https://app.example.org/cb"}}}
		}, "clients[spa].secret:"},
		{"wildcard redirect", func(c *Config) {
			c.Clients = []Client{{ID: "app", Secret: "s", RedirectURIs: []string{"https://*.example.org/cb"}}}
		}, "clients[app].redirect_uris:"},
		{"http redirect", func(c *Config) {
			c.Clients = []Client{{ID: "app", Secret: "s", RedirectURIs: []string{"http://app.example.org/cb"}}}
		}, "clients[app].redirect_uris:"},
		{"unknown grant", func(c *Config) {
			c.Clients = []Client{{ID: "app", Secret: "s", GrantTypes: []string{"implicit"}, RedirectURIs: []string{"https://a.example/cb"}}}
		}, "clients[app].grant_types:"},
		{"public client credentials", func(c *Config) {
			c.Clients = []Client{{ID: "spa", Public: true, GrantTypes: []string{"client_credentials"}}}
		}, "clients[spa].grant_types:"},
		{"wildcard origin", func(c *Config) {
			c.Clients = []Client{{ID: "spa", Public: true, RedirectURIs: []string{"https://a.example/cb"}, WebOrigins: []string{"*"}}}
		}, "clients[spa].web_origins:"},
		{"duplicate client", func(c *Config) {
			c.Clients = []Client{{ID: "a", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}}, {ID: "a", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}}}
		}, "clients[a].id:"},
		{"bad legacy driver", func(c *Config) {
			c.Legacy = directories.LegacyConfig{Type: "imis", Config: &imis.Config{Config: sqldir.Config{DSN: "x", Driver: "oracle"}}}
		}, "legacy.driver:"},
		{"unknown first enrolment", func(c *Config) { c.MFA.FirstEnrolment = "code" }, "mfa.first_enrolment: must be \"open\" or \"invitation\""},
		{"bad ams website", func(c *Config) {
			c.AMS.BaseURL, c.AMS.ClientID, c.AMS.ClientSecret = "https://members.example.org", "c", "s"
		}, "ams.sso_url:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Defaults()
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("want an error naming %q, got %v", tc.field, err)
			}
		})
	}
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	for _, v := range []string{FirstEnrolmentOpen, FirstEnrolmentInvitation} {
		d.MFA.FirstEnrolment = v
		if err := d.Validate(); err != nil {
			t.Fatalf("mfa.first_enrolment: %s invalid: %v", v, err)
		}
	}
}

func TestLoadConfigEnvAndUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("SSOB_TEST_SECRET", "from-the-environment-0123456789abcdef")
	cfg, err := Load(write("issuer: https://sso.example.org\nclients:\n  - id: app\n    secret: ${SSOB_TEST_SECRET}\n    redirect_uris: [https://app.example.org/cb]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clients[0].Secret != "from-the-environment-0123456789abcdef" || cfg.Issuer != "https://sso.example.org" || cfg.Listen != "127.0.0.1:8080" {
		t.Fatalf("loaded %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(write("clients:\n  - id: app\n    secret: ${SSOB_TEST_UNSET_VARIABLE}\n")); err == nil || !strings.Contains(err.Error(), "SSOB_TEST_UNSET_VARIABLE") {
		t.Fatalf("unset variable: %v", err)
	}
	if _, err := Load(write("issuer: https://sso.example.org\nisuer: typo\n")); err == nil || !strings.Contains(err.Error(), "isuer") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := Load(write("")); err != nil {
		t.Fatalf("empty file: %v", err)
	}
}

// TestValidateReportsEveryProblem: one run lists every bad field, not just the first.
func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Listen = "8080"
	c.Tokens.Code = time.Hour
	c.Log.Level = "loud"
	c.Clients = []Client{{ID: "app", RedirectURIs: []string{"http://app.example.org/cb"}}}
	err := c.Validate()
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("want Problems, got %T %v", err, err)
	}
	for _, field := range []string{"listen:", "tokens.code_lifetime:", "log.level:", "clients[app]."} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("missing %q in %v", field, err)
		}
	}
	if len(p) < 4 {
		t.Fatalf("want at least 4 problems, got %d: %v", len(p), err)
	}
}

// TestCheckCompilesThePolicyOnce: Check hands the compiled policy to the runtime.
func TestCheckCompilesThePolicyOnce(t *testing.T) {
	c := Defaults()
	chk, err := c.Check(nil)
	if err != nil {
		t.Fatal(err)
	}
	if chk.Policy == nil || chk.IssuerURL == nil || chk.IssuerURL.Host != "localhost:8080" {
		t.Fatalf("checked: %+v", chk)
	}
}

// TestClientsReportEveryProblem: every bad field of every client is listed, each naming
// clients[<id>].<field> (a client used to stop at its first mistake).
func TestClientsReportEveryProblem(t *testing.T) {
	c := Defaults()
	c.Clients = []Client{
		{ID: "app", Secret: "short", RedirectURIs: []string{"http://app.example.org/cb"}, IDTokenSigningAlg: "HS256",
			FrontchannelLogoutURI: "/relative"},
		{ID: "spa", Public: true, Secret: "x", GrantTypes: []string{"client_credentials"}, WebOrigins: []string{"*"}},
	}
	err := c.Validate()
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("want Problems, got %T %v", err, err)
	}
	want := []string{
		"clients[app].redirect_uris:", "clients[app].id_token_signing_alg:", "clients[app].frontchannel_logout_uri:",
		"clients[spa].secret:", "clients[spa].grant_types:", "clients[spa].web_origins:", "clients[app].secret: must be at least 32",
		"clients[spa].secret: must be at least 32",
	}
	for _, field := range want {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("missing %q in\n%v", field, err)
		}
	}
	if len(p) != len(want) {
		t.Errorf("want %d problems, got %d:\n%v", len(want), len(p), err)
	}
}

// TestCheckedClients: Check builds the runtime clients once: the secret hashed, the defaults
// filled, the file's order kept.
func TestCheckedClients(t *testing.T) {
	c := Defaults()
	secret := "a-secret-of-at-least-32-characters-0123"
	c.Clients = []Client{
		{ID: "web", Secret: secret, RedirectURIs: []string{"https://web.example/cb"}},
		{ID: "spa", Public: true, RedirectURIs: []string{"https://spa.example/cb"}, AccessTokenFormat: "jwt"},
	}
	chk, err := c.Check(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(chk.Clients) != 2 || chk.Clients[0].ID != "web" || chk.Clients[1].ID != "spa" {
		t.Fatalf("clients %+v", chk.Clients)
	}
	web, spa := chk.Clients[0], chk.Clients[1]
	if web.SecretHash != sso.HashSecret(secret) || !web.VerifySecret(secret) || strings.Contains(web.SecretHash, secret) {
		t.Errorf("web secret hash %q", web.SecretHash)
	}
	if !slices.Equal(web.GrantTypes, []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken}) ||
		web.IDTokenSigningAlg != "RS256" || web.AccessTokenFormat != "opaque" {
		t.Errorf("web defaults %+v", web)
	}
	if spa.SecretHash != "" || spa.AccessTokenFormat != "jwt" {
		t.Errorf("spa %+v", spa)
	}
	if c.Clients[0].GrantTypes != nil || c.Clients[0].SecretHash != "" {
		t.Errorf("checking changed the schema: %+v", c.Clients[0])
	}
}
