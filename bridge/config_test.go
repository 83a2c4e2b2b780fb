package bridge

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
		{"zero access lifetime", func(c *Config) { c.Tokens.AccessToken = 0 }, "tokens.access_token_lifetime:"},
		{"long code lifetime", func(c *Config) { c.Tokens.Code = time.Hour }, "tokens.code_lifetime:"},
		{"refresh reuse grace over 60s", func(c *Config) { c.Tokens.RefreshReuseGrace = 61 * time.Second }, "tokens.refresh_reuse_grace:"},
		{"negative refresh reuse grace", func(c *Config) { c.Tokens.RefreshReuseGrace = -time.Second }, "tokens.refresh_reuse_grace:"},
		{"bad colour", func(c *Config) { c.Organisation.PrimaryColor = "blue" }, "organisation.primary_color:"},
		{"http logo", func(c *Config) { c.Organisation.LogoURL = "http://example.org/logo.png" }, "organisation.logo_url:"},
		{"log level", func(c *Config) { c.Log.Level = "loud" }, "log.level:"},
		{"audit retention", func(c *Config) { c.Audit.Retention = time.Hour }, "audit.retention:"},
		{"reconcile every second", func(c *Config) { c.Shadow.ReconcileInterval = time.Second }, "shadow.reconcile_interval:"},
		{"negative reconcile interval", func(c *Config) { c.Shadow.ReconcileInterval = -time.Minute }, "shadow.reconcile_interval:"},
		{"reconcile rate 0", func(c *Config) { c.Shadow.ReconcileRate = 0 }, "shadow.reconcile_rate:"},
		{"reconcile batch too big", func(c *Config) { c.Shadow.ReconcileBatch = 100000 }, "shadow.reconcile_batch:"},
		{"client without secret", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "app", RedirectURIs: []string{"https://app.example.org/cb"}}}
		}, "clients[app].secret:"},
		{"short client secret", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "app", Secret: "only-31-characters-long-secret!", RedirectURIs: []string{"https://app.example.org/cb"}}}
		}, "clients[app].secret: must be at least 32 characters"},
		{"public client with secret", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "spa", Public: true, Secret: "x", RedirectURIs: []string{"https://app.example.org/cb"}}}
		}, "clients[spa].secret:"},
		{"wildcard redirect", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "app", Secret: "s", RedirectURIs: []string{"https://*.example.org/cb"}}}
		}, "clients[app].redirect_uris:"},
		{"http redirect", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "app", Secret: "s", RedirectURIs: []string{"http://app.example.org/cb"}}}
		}, "clients[app].redirect_uris:"},
		{"unknown grant", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "app", Secret: "s", GrantTypes: []string{"implicit"}, RedirectURIs: []string{"https://a.example/cb"}}}
		}, "clients[app].grant_types:"},
		{"public client credentials", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "spa", Public: true, GrantTypes: []string{"client_credentials"}}}
		}, "clients[spa].grant_types:"},
		{"wildcard origin", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "spa", Public: true, RedirectURIs: []string{"https://a.example/cb"}, WebOrigins: []string{"*"}}}
		}, "clients[spa].web_origins:"},
		{"duplicate client", func(c *Config) {
			c.Clients = []sso.ClientConfig{{ID: "a", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}}, {ID: "a", Secret: "s", RedirectURIs: []string{"https://a.example/cb"}}}
		}, "clients[a].id:"},
		{"bad legacy driver", func(c *Config) { c.Legacy.DSN = "x"; c.Legacy.Driver = "oracle" }, "legacy.driver:"},
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
	cfg, err := LoadConfig(write("issuer: https://sso.example.org\nclients:\n  - id: app\n    secret: ${SSOB_TEST_SECRET}\n    redirect_uris: [https://app.example.org/cb]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Clients[0].Secret != "from-the-environment-0123456789abcdef" || cfg.Issuer != "https://sso.example.org" || cfg.Listen != "127.0.0.1:8080" {
		t.Fatalf("loaded %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(write("clients:\n  - id: app\n    secret: ${SSOB_TEST_UNSET_VARIABLE}\n")); err == nil || !strings.Contains(err.Error(), "SSOB_TEST_UNSET_VARIABLE") {
		t.Fatalf("unset variable: %v", err)
	}
	if _, err := LoadConfig(write("issuer: https://sso.example.org\nisuer: typo\n")); err == nil || !strings.Contains(err.Error(), "isuer") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := LoadConfig(write("")); err != nil {
		t.Fatalf("empty file: %v", err)
	}
}

func TestThrottle(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := NewThrottle(ThrottleConfig{PerLogin: 4, PerIP: 10, Window: time.Minute, Lockout: 5 * time.Minute})
	th.now = func() time.Time { return now }
	fail := func(login, ip string) time.Duration { _, r := th.Check(login, ip); return r }
	if d, r := th.Check("alice", "1.2.3.4"); d != 0 || r != 0 {
		t.Fatalf("fresh: %v %v", d, r)
	}
	fail("Alice ", "1.2.3.4") // the same login, spelled differently
	if d, r := th.Check("alice", "1.2.3.4"); d == 0 || r != 0 {
		t.Fatalf("after 2 of 4 attempts want slowing, got %v %v", d, r)
	}
	fail("alice", "5.6.7.8")
	if r := fail("alice", "8.8.8.8"); r <= 0 {
		t.Fatal("login not refused after 4 failed attempts from several IPs")
	}
	if _, r := th.Check("bob", "1.2.3.4"); r != 0 {
		t.Fatal("another login refused")
	}
	now = now.Add(6 * time.Minute)
	if _, r := th.Check("alice", "1.2.3.4"); r != 0 {
		t.Fatal("still refused after the lockout")
	}
	// A verified attempt is taken back; one the AMS could not verify too.
	for range 10 {
		th.Check("carol", "9.9.9.9")
		th.Succeed("carol", "9.9.9.9")
	}
	if _, r := th.Check("carol", "9.9.9.9"); r != 0 {
		t.Fatal("successes counted as failures")
	}
	for range 10 {
		th.Check("dan", "7.7.7.7")
		th.Release("dan", "7.7.7.7")
	}
	if _, r := th.Check("dan", "7.7.7.7"); r != 0 {
		t.Fatal("unverifiable attempts counted as failures")
	}
	// Per IP: many logins from one address.
	for i := range 10 {
		fail("user"+string(rune('a'+i)), "6.6.6.6")
	}
	if _, r := th.Check("someone-new", "6.6.6.6"); r <= 0 {
		t.Fatal("IP not refused after 10 failures")
	}
}

// TestThrottleParallelAttempts: attempts in flight count before they are verified, so parallel
// guesses cannot all pass the check.
func TestThrottleParallelAttempts(t *testing.T) {
	th := NewThrottle(ThrottleConfig{PerLogin: 5, PerIP: 1000, Window: time.Minute, Lockout: time.Minute})
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, r := th.Check("alice", fmt.Sprint("10.0.0.", i)); r == 0 {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 5 {
		t.Fatalf("%d of 40 parallel attempts passed, want 5", passed.Load())
	}
}
