package policy

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Scopes beyond the standard OpenID ones.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopePhone         = "phone"
	ScopeAddress       = "address"
	ScopeOfflineAccess = "offline_access"
	ScopeMembership    = "membership"
	ScopeRoles         = "roles"
)

// standardScope is a built-in scope with its consent wording.
type standardScope struct {
	name, title, detail string
}

// standardScopes in discovery order. phone and address have no claims until the
// configuration gives them some (the AMS record has no such fields).
var standardScopes = []standardScope{
	{ScopeOpenID, "Your identity", "A private identifier for your account, so the app recognises you."},
	{ScopeProfile, "Your name and username", "Your full name, given and family name and username."},
	{ScopeEmail, "Your e-mail address", "The e-mail address on your member record."},
	{ScopePhone, "Your phone number", "The phone number on your member record."},
	{ScopeAddress, "Your postal address", "The address on your member record."},
	{ScopeOfflineAccess, "Stay signed in", "The app can keep access while you are away, until you sign out or withdraw it."},
	{ScopeMembership, "Your membership", "Member number, membership type and status, join and paid-through dates, company."},
	{ScopeRoles, "Your roles", "The roles you hold in the association that this app may see."},
}

// fixedScopes carry no claims and cannot be given any.
func fixedScope(name string) bool { return name == ScopeOpenID || name == ScopeOfflineAccess }

// memberClaim is a claim read straight from the member record: a string (text, present when
// not empty) or any other value (value).
type memberClaim struct {
	name, scope string
	text        func(c *call) string
	value       func(c *call) (any, bool)
}

func str(v string) (any, bool) { return v, v != "" }

// date is a date claim's text: "" (absent) for the zero time.
func date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02")
}

// memberClaims is the built-in claim catalogue in output order (the behaviour of the former
// bridge.memberClaims).
var memberClaims = []memberClaim{
	{"name", ScopeProfile, func(c *call) string { return c.m.FullName }, nil},
	{"given_name", ScopeProfile, func(c *call) string { return c.m.GivenName }, nil},
	{"family_name", ScopeProfile, func(c *call) string { return c.m.FamilyName }, nil},
	{"preferred_username", ScopeProfile, func(c *call) string { return c.m.Login }, nil},
	{"picture", ScopeProfile, func(c *call) string { return c.m.PictureURL }, nil},
	{"updated_at", ScopeProfile, nil, func(c *call) (any, bool) {
		if c.m.UpdatedAt.IsZero() {
			return nil, false
		}
		return c.m.UpdatedAt.Unix(), true
	}},
	{"email", ScopeEmail, func(c *call) string { return c.m.Email }, nil},
	// Sent with every address: false unless the configuration says the AMS's addresses are
	// verified (iMIS has no such flag).
	{"email_verified", ScopeEmail, nil, func(c *call) (any, bool) { return c.emailVerified, c.m.Email != "" }},
	{"member_id", ScopeMembership, func(c *call) string { return c.m.MemberID }, nil},
	{"member_type", ScopeMembership, func(c *call) string { return c.m.MemberType }, nil},
	// Name.STATUS and Name.MEMBER_STATUS are different iMIS fields (record status; automatic
	// membership status N/R/D/S): released under names that do not collide.
	{"contact_status", ScopeMembership, func(c *call) string { return c.m.Status }, nil},
	{"membership_status", ScopeMembership, func(c *call) string { return c.m.MemberStatus }, nil},
	{"company", ScopeMembership, func(c *call) string { return c.m.Company }, nil},
	{"join_date", ScopeMembership, func(c *call) string { return date(c.m.JoinDate) }, nil},
	{"paid_through", ScopeMembership, func(c *call) string { return date(c.m.PaidThrough) }, nil},
	{"is_current", ScopeMembership, nil, func(c *call) (any, bool) { return c.membership().Current(), true }},
	{"membership_standing", ScopeMembership, nil, func(c *call) (any, bool) { return c.membership().Standing, true }},
	{"roles", ScopeRoles, nil, func(c *call) (any, bool) { return c.roles(), true }},
	{"staff", ScopeRoles, nil, func(c *call) (any, bool) { return c.m.Staff, true }},
}

// ProtocolClaims are the claims the provider itself puts in tokens (never from a policy).
var protocolClaims = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp", "amr"}

// reserved are claim names a policy may not produce: JWT, OIDC, logout-token and
// introspection names whose meaning the provider owns.
var reserved = map[string]bool{
	"sub": true, "iss": true, "aud": true, "exp": true, "iat": true, "nbf": true, "jti": true,
	"auth_time": true, "nonce": true, "acr": true, "amr": true, "azp": true, "at_hash": true,
	"c_hash": true, "s_hash": true, "sid": true, "scope": true, "client_id": true, "cnf": true,
	"act": true, "may_act": true, "typ": true, "token_type": true, "active": true, "username": true,
	"events": true, "_claim_names": true, "_claim_sources": true,
}

// checkClaimName validates a claim name a policy produces.
func checkClaimName(name string) error {
	if name == "" {
		return fmt.Errorf("empty claim name")
	}
	if len(name) > 256 {
		return fmt.Errorf("claim name %.20q... is longer than 256 bytes", name)
	}
	if strings.IndexFunc(name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("claim name %q has spaces or control characters", name)
	}
	if reserved[name] {
		return fmt.Errorf("%q is a protocol claim the provider sets itself", name)
	}
	return nil
}

// checkScopeName validates a scope token (RFC 6749 section 3.3).
func checkScopeName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("scope name %q must be 1-128 characters", name)
	}
	for _, r := range name {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return fmt.Errorf("scope name %q may only have printable ASCII other than space, \" and \\", name)
		}
	}
	return nil
}
