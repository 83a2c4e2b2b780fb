package upstream

import (
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	ok := ProviderConfig{Name: "corp", Issuer: "https://id.example.org", ClientID: "c", ClientSecret: "s"}
	for _, tc := range []struct {
		name  string
		mod   func(*ProviderConfig)
		field string // "" : valid
	}{
		{"generic", func(*ProviderConfig) {}, ""},
		{"google", func(c *ProviderConfig) { c.Preset, c.Issuer = PresetGoogle, "" }, ""},
		{"entra tenant", func(c *ProviderConfig) { c.Preset, c.Issuer, c.Tenant = PresetEntra, "", "contoso.onmicrosoft.com" }, ""},
		{"entra common, allowed tenants", func(c *ProviderConfig) {
			c.Preset, c.Issuer, c.Tenant, c.AllowedTenants = PresetEntra, "", "organizations", []string{"9188040d-6c67-4c5b-b112-36a304b66dad"}
		}, ""},
		{"loopback http", func(c *ProviderConfig) { c.Issuer = "http://127.0.0.1:5556" }, ""},
		{"bad name", func(c *ProviderConfig) { c.Name = "Corp ID" }, "upstream_providers[0].name"},
		{"no issuer", func(c *ProviderConfig) { c.Issuer = "" }, "upstream_providers[0].issuer"},
		{"http issuer", func(c *ProviderConfig) { c.Issuer = "http://id.example.org" }, "upstream_providers[0].issuer"},
		{"issuer with query", func(c *ProviderConfig) { c.Issuer = "https://id.example.org?x=1" }, "upstream_providers[0].issuer"},
		{"google with issuer", func(c *ProviderConfig) { c.Preset = PresetGoogle }, "upstream_providers[0].issuer"},
		{"entra without tenant", func(c *ProviderConfig) { c.Preset, c.Issuer = PresetEntra, "" }, "upstream_providers[0].tenant"},
		{"entra bad tenant", func(c *ProviderConfig) { c.Preset, c.Issuer, c.Tenant = PresetEntra, "", "a/b" }, "upstream_providers[0].tenant"},
		{"allowed tenants, single tenant", func(c *ProviderConfig) {
			c.Preset, c.Issuer, c.Tenant, c.AllowedTenants = PresetEntra, "", "contoso.onmicrosoft.com", []string{"x"}
		}, "upstream_providers[0].allowed_tenants"},
		{"unknown preset", func(c *ProviderConfig) { c.Preset = "okta" }, "upstream_providers[0].preset"},
		{"no client id", func(c *ProviderConfig) { c.ClientID = "" }, "upstream_providers[0].client_id"},
		{"no secret", func(c *ProviderConfig) { c.ClientSecret = "" }, "upstream_providers[0].client_secret"},
		{"no openid scope", func(c *ProviderConfig) { c.Scopes = []string{"email"} }, "upstream_providers[0].scopes"},
		{"trusted amr", func(c *ProviderConfig) { c.TrustedAMR = []string{"mfa", "hwk"} }, ""},
		{"trusted amr fed", func(c *ProviderConfig) { c.TrustedAMR = []string{"mfa", "fed"} }, "upstream_providers[0].trusted_amr[1]"},
		{"trusted amr pwd", func(c *ProviderConfig) { c.TrustedAMR = []string{"pwd"} }, "upstream_providers[0].trusted_amr[0]"},
		{"trusted amr not a value", func(c *ProviderConfig) { c.TrustedAMR = []string{"MFA please"} }, "upstream_providers[0].trusted_amr[0]"},
		{"email link without email scope", func(c *ProviderConfig) { c.Scopes, c.LinkByEmail = []string{"openid"}, true },
			"upstream_providers[0].link_by_email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			errs := Validate([]ProviderConfig{c})
			if tc.field == "" {
				if len(errs) != 0 {
					t.Fatalf("valid config refused: %v", errors.Join(errs...))
				}
				return
			}
			if len(errs) == 0 || !strings.HasPrefix(errs[0].Error(), tc.field+":") {
				t.Fatalf("errors %v, want one naming %s", errs, tc.field)
			}
		})
	}
	if errs := Validate([]ProviderConfig{ok, ok}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "upstream_providers[1].name") {
		t.Fatalf("duplicate names: %v", errs)
	}
}

func TestResolvedPresets(t *testing.T) {
	g := ProviderConfig{Name: "g", Preset: PresetGoogle}.Resolved()
	if g.Issuer != GoogleIssuer || g.DisplayName != "Google" || strings.Join(g.Scopes, " ") != "openid email profile" {
		t.Fatalf("google: %+v", g)
	}
	e := ProviderConfig{Name: "m", Preset: PresetEntra, Tenant: "organizations"}.Resolved()
	if e.Issuer != "https://login.microsoftonline.com/organizations/v2.0" || e.DisplayName != "Microsoft" {
		t.Fatalf("entra: %+v", e)
	}
}
