package upstream

import (
	"strings"
	"testing"
)

// TestIssuerMatches: the issuer named by an authorization response, an ID token or a logout
// token must be the configured one; for a multi-tenant Entra endpoint, the template with the
// token's own tenant id, within the allowed tenants.
func TestIssuerMatches(t *testing.T) {
	const tid = "9188040d-6c67-4c5b-b112-36a304b66dad"
	const other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraDoc := &discovered{issuer: "https://login.microsoftonline.com/{tenantid}/v2.0"}
	for _, tc := range []struct {
		name    string
		cfg     ProviderConfig
		d       *discovered
		iss     string
		tid     string
		matches bool
	}{
		{"generic", ProviderConfig{Issuer: "https://id.example.org"}, &discovered{}, "https://id.example.org", "", true},
		{"generic, other", ProviderConfig{Issuer: "https://id.example.org"}, &discovered{}, "https://evil.example", "", false},
		{"generic, trailing slash", ProviderConfig{Issuer: "https://id.example.org"}, &discovered{}, "https://id.example.org/", "", false},
		{"google without scheme", ProviderConfig{Issuer: GoogleIssuer}, &discovered{}, "accounts.google.com", "", true},
		{"entra tenant", ProviderConfig{Preset: PresetEntra, Tenant: tid, Issuer: "https://login.microsoftonline.com/" + tid + "/v2.0"},
			&discovered{}, "https://login.microsoftonline.com/" + tid + "/v2.0", tid, true},
		{"entra tenant, another tenant's token", ProviderConfig{Preset: PresetEntra, Tenant: tid, Issuer: "https://login.microsoftonline.com/" + tid + "/v2.0"},
			&discovered{}, "https://login.microsoftonline.com/" + other + "/v2.0", other, false},
		{"entra common, its tid", ProviderConfig{Preset: PresetEntra, Tenant: "common"}, entraDoc,
			"https://login.microsoftonline.com/" + tid + "/v2.0", tid, true},
		{"entra common, tid differs from issuer", ProviderConfig{Preset: PresetEntra, Tenant: "common"}, entraDoc,
			"https://login.microsoftonline.com/" + tid + "/v2.0", other, false},
		{"entra common, not a tenant id", ProviderConfig{Preset: PresetEntra, Tenant: "common"}, entraDoc,
			"https://login.microsoftonline.com/common/v2.0", "", false},
		{"entra common, template itself", ProviderConfig{Preset: PresetEntra, Tenant: "common"}, entraDoc,
			"https://login.microsoftonline.com/{tenantid}/v2.0", "", false},
		{"entra common, another host", ProviderConfig{Preset: PresetEntra, Tenant: "common"}, entraDoc,
			"https://evil.example/" + tid + "/v2.0", tid, false},
		{"entra organizations, allowed", ProviderConfig{Preset: PresetEntra, Tenant: "organizations", AllowedTenants: []string{tid}}, entraDoc,
			"https://login.microsoftonline.com/" + tid + "/v2.0", tid, true},
		{"entra organizations, not allowed", ProviderConfig{Preset: PresetEntra, Tenant: "organizations", AllowedTenants: []string{tid}}, entraDoc,
			"https://login.microsoftonline.com/" + other + "/v2.0", other, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Provider{cfg: tc.cfg}
			if got := p.issuerMatches(tc.d, tc.iss, tc.tid); got != tc.matches {
				t.Fatalf("issuerMatches(%q, tid %q) = %v, want %v", tc.iss, tc.tid, got, tc.matches)
			}
		})
	}
}

func TestDerivedSecretsDiffer(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	n1, v1 := Nonce(key, "state-1"), Verifier(key, "state-1")
	if n1 == v1 || n1 != Nonce(key, "state-1") || n1 == Nonce(key, "state-2") || n1 == Nonce([]byte("other key"), "state-1") {
		t.Fatal("nonce and verifier must be distinct, stable per state and key, and differ across states and keys")
	}
	if len(v1) < 43 {
		t.Fatalf("PKCE verifier %q is shorter than 43 characters (RFC 7636 4.1)", v1)
	}
}

// TestAMR: the session's amr is fed, plus only the upstream values the provider trusts.
func TestAMR(t *testing.T) {
	p := &Provider{cfg: ProviderConfig{TrustedAMR: []string{"mfa", "hwk"}}}
	for _, tc := range []struct {
		upstream []string
		want     string
	}{
		{nil, "fed"},
		{[]string{"pwd"}, "fed"},
		{[]string{"pwd", "mfa", "otp"}, "fed mfa"},
		{[]string{"hwk", "mfa", "mfa"}, "fed mfa hwk"},
	} {
		if got := strings.Join(p.AMR(tc.upstream), " "); got != tc.want {
			t.Errorf("AMR(%v) = %q, want %q", tc.upstream, got, tc.want)
		}
	}
	if got := strings.Join((&Provider{}).AMR([]string{"mfa"}), " "); got != "fed" {
		t.Errorf("AMR without trusted_amr = %q, want fed", got)
	}
}
