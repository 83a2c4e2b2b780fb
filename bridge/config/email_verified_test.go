package config

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/upstream"
)

// TestEmailTrustNeedsEmailVerified (review s19 X19-10 and its inbound twin): an SP's
// name_id_format email and an upstream provider's link_by_email both trust the AMS's e-mail
// address, which iMIS lets members edit without verification. Each is refused, naming its
// field and email_verified, unless the configuration states the AMS verifies addresses.
func TestEmailTrustNeedsEmailVerified(t *testing.T) {
	sp := SAMLServiceProvider{ID: "jobs", EntityID: "https://jobs.example.org", ACSURLs: []string{"https://jobs.example.org/acs"}}
	idp := upstream.ProviderConfig{Name: "corp", Issuer: "https://id.example.org", ClientID: "c", ClientSecret: "s",
		Scopes: []string{"openid", "email"}}
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string // "": valid
	}{
		{"email NameID", func(c *Config) {
			s := sp
			s.NameIDFormat = SAMLNameIDEmail
			c.SAML.ServiceProviders = []SAMLServiceProvider{s}
		}, "saml.service_providers[0].name_id_format: email needs email_verified: true"},
		{"persistent NameID", func(c *Config) { c.SAML.ServiceProviders = []SAMLServiceProvider{sp} }, ""},
		{"link by email", func(c *Config) {
			p := idp
			p.LinkByEmail = true
			c.UpstreamProviders = []upstream.ProviderConfig{p}
		}, "upstream_providers[0].link_by_email: needs email_verified: true"},
		{"no link by email", func(c *Config) { c.UpstreamProviders = []upstream.ProviderConfig{idp} }, ""},
	} {
		for _, verified := range []bool{false, true} {
			c := Defaults()
			tc.mutate(&c)
			c.Policy.EmailVerified = verified
			err := c.Validate()
			switch {
			case tc.field == "" || verified:
				if err != nil {
					t.Errorf("%s, email_verified %v: %v", tc.name, verified, err)
				}
			case err == nil || !strings.Contains(err.Error(), tc.field):
				t.Errorf("%s, email_verified %v: want an error naming %q, got %v", tc.name, verified, tc.field, err)
			}
		}
	}
}
