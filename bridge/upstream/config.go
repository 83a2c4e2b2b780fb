package upstream

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/ssobridge/ssobridge/internal/asciiname"
)

// Presets of ProviderConfig.Preset.
const (
	PresetGoogle = "google"
	PresetEntra  = "entra"
)

// Google's issuer, and Entra ID's issuer template ({tenant}: the tenant id or name; the
// multi-tenant endpoints' documents name the issuer with {tenantid}).
const (
	GoogleIssuer        = "https://accounts.google.com"
	entraIssuerTemplate = "https://login.microsoftonline.com/%s/v2.0"
	entraTenantIDToken  = "{tenantid}"
)

// ProviderConfig is one upstream OpenID provider (config: upstream_providers).
type ProviderConfig struct {
	// Name identifies the provider in URLs and links: lower-case letters, digits and dashes.
	Name string `yaml:"name"`
	// DisplayName is the login page's button text ("Continue with ..."); default from the
	// preset or Name.
	DisplayName string `yaml:"display_name"`
	// Preset is google, entra or empty (any OpenID provider by Issuer).
	Preset string `yaml:"preset"`
	// Issuer is the provider's issuer (discovery at Issuer/.well-known/openid-configuration);
	// google: fixed; entra: from Tenant.
	Issuer string `yaml:"issuer"`
	// Tenant is Entra ID's tenant: a tenant id or domain (tenant-specific), or common or
	// organizations (multi-tenant: the ID token's issuer is checked against its tid).
	Tenant string `yaml:"tenant"`
	// AllowedTenants limits a multi-tenant Entra provider to these tenant ids (empty: any).
	AllowedTenants []string `yaml:"allowed_tenants"`
	ClientID       string   `yaml:"client_id"`
	// ClientSecret is the bridge's secret at the provider (usually ${ENV}).
	ClientSecret string `yaml:"client_secret"`
	// Scopes asked for; default openid email profile.
	Scopes []string `yaml:"scopes"`
	// LinkByEmail links an unlinked identity automatically when the provider says its e-mail
	// address is verified and exactly one active AMS member has it (case-insensitive).
	// Otherwise the member proves their AMS password once. It needs the top-level
	// email_verified: true (the AMS's addresses are verified), else the start-up refuses it.
	LinkByEmail bool `yaml:"link_by_email"`
	// TrustedAMR are the upstream's amr values (RFC 8176: mfa, hwk, otp ...) that the bridge
	// session's amr repeats after "fed" when the upstream's ID token carries them; the rest of
	// the upstream's claims never reach the bridge's tokens. Empty: amr is "fed" only.
	TrustedAMR []string `yaml:"trusted_amr"`
	// EndSession also ends the upstream session when a member who signed in through it signs
	// out at the bridge (RP-initiated logout at the provider's end_session_endpoint).
	EndSession bool `yaml:"end_session"`
}

// isName reports whether s is a provider's name: 1 to 32 lower-case letters, digits and dashes,
// starting with a letter or a digit.
func isName(s string) bool {
	return asciiname.Valid(s, 32, asciiname.Lower+asciiname.Digits, asciiname.Lower+asciiname.Digits+"-")
}

// isAMRValue reports whether s has an amr value's form: 1 to 32 lower-case letters, digits, _
// and -, starting with a letter.
func isAMRValue(s string) bool {
	return asciiname.Valid(s, 32, asciiname.Lower, asciiname.Lower+asciiname.Digits+"_-")
}

// multiTenant reports whether an Entra tenant is one of the multi-tenant endpoints.
func multiTenant(tenant string) bool {
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers":
		return true
	}
	return false
}

// Resolved fills the preset's issuer and defaults.
func (c ProviderConfig) Resolved() ProviderConfig {
	switch c.Preset {
	case PresetGoogle:
		c.Issuer = GoogleIssuer
		if c.DisplayName == "" {
			c.DisplayName = "Google"
		}
	case PresetEntra:
		if c.Tenant != "" {
			c.Issuer = fmt.Sprintf(entraIssuerTemplate, c.Tenant)
		}
		if c.DisplayName == "" {
			c.DisplayName = "Microsoft"
		}
	}
	if c.DisplayName == "" {
		c.DisplayName = c.Name
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"openid", "email", "profile"}
	}
	return c
}

// Validate checks the providers and returns every problem, each naming its field
// (upstream_providers[i].field).
func Validate(list []ProviderConfig) []error {
	var errs []error
	add := func(i int, field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("upstream_providers[%d].%s: %s", i, field, fmt.Sprintf(format, args...)))
	}
	seen := map[string]bool{}
	for i, raw := range list {
		c := raw.Resolved()
		if !isName(c.Name) {
			add(i, "name", "%q must be lower-case letters, digits and dashes (at most 32)", c.Name)
		} else if seen[c.Name] {
			add(i, "name", "%q is used twice", c.Name)
		}
		seen[c.Name] = true
		switch c.Preset {
		case "", PresetGoogle:
		case PresetEntra:
			if c.Tenant == "" {
				add(i, "tenant", "is required with preset entra (a tenant id, or common or organizations)")
			} else if strings.ContainsAny(c.Tenant, "/?#{} ") {
				add(i, "tenant", "%q is not a tenant id or name", c.Tenant)
			}
		default:
			add(i, "preset", "%q must be google, entra or empty", c.Preset)
		}
		if c.Preset != PresetEntra && len(c.AllowedTenants) > 0 {
			add(i, "allowed_tenants", "is only for preset entra")
		}
		if c.Preset == PresetEntra && len(c.AllowedTenants) > 0 && !multiTenant(c.Tenant) {
			add(i, "allowed_tenants", "is only for a multi-tenant tenant (common or organizations)")
		}
		if c.Preset == "" || c.Issuer != raw.Issuer {
			if err := checkIssuer(c.Issuer); err != nil {
				add(i, "issuer", "%v", err)
			}
		}
		if c.Preset != "" && raw.Issuer != "" && raw.Issuer != c.Issuer {
			add(i, "issuer", "is set by preset %s: leave it out", c.Preset)
		}
		if c.ClientID == "" {
			add(i, "client_id", "is required")
		}
		if c.ClientSecret == "" {
			add(i, "client_secret", "is required (the bridge is a confidential client)")
		}
		if !contains(c.Scopes, "openid") {
			add(i, "scopes", "must include openid")
		}
		for j, v := range c.TrustedAMR {
			// fed, pwd and ams are the bridge's own first factors (ams: the AMS hand-off).
			if !isAMRValue(v) || v == "fed" || v == "pwd" || v == "ams" {
				add(i, fmt.Sprintf("trusted_amr[%d]", j), "%q must be an amr value such as mfa, hwk or otp (not fed, pwd or ams)", v)
			}
		}
		if c.LinkByEmail && !contains(c.Scopes, "email") {
			add(i, "link_by_email", "needs the email scope")
		}
	}
	return errs
}

func contains(l []string, s string) bool {
	for _, v := range l {
		if v == s {
			return true
		}
	}
	return false
}

// checkIssuer: an absolute https URL (http only on a loopback host), no query or fragment.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("is required")
	}
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must be an absolute URL without query or fragment", issuer)
	}
	if u.Scheme != "https" {
		ip := net.ParseIP(u.Hostname())
		if u.Scheme != "http" || !(u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback())) {
			return fmt.Errorf("%q must use https (http is allowed only for localhost)", issuer)
		}
	}
	return nil
}
