package sso

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// ClientConfig is one relying party at run time, built from the config file (static clients,
// bridge/config) or from the store (dynamic clients, clientRecord). It has no plain secret:
// SecretHash is "sha256:<hex>" (HashSecret) or a bcrypt hash ("$2a$...").
type ClientConfig struct {
	ID         string
	Name       string
	SecretHash string
	// Public clients (SPAs, mobile apps) have no secret and must use PKCE S256.
	Public                 bool
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	Scopes                 []string
	// Trusted (first-party) clients skip the consent page.
	Trusted bool
	// IDTokenSigningAlg is RS256 (default), ES256 or EdDSA.
	IDTokenSigningAlg string
	// OmitIDTokenOnRefresh leaves the ID token out of refresh responses (OIDC Core 12.2 makes it
	// optional there); by default a refresh with the openid scope returns one.
	OmitIDTokenOnRefresh bool
	// WebOrigins are the origins allowed by CORS on the token, userinfo and revocation
	// endpoints (SPAs). Never a wildcard.
	WebOrigins []string
	// AccessTokenFormat is "opaque" (default) or "jwt" (RFC 9068, header typ at+jwt).
	AccessTokenFormat string
	// Audiences are the resource servers this client's access tokens are for (the aud of a
	// JWT access token, and who may introspect it); empty means the client itself.
	Audiences []string
	// BackchannelLogoutURI / FrontchannelLogoutURI for single sign-out.
	BackchannelLogoutURI  string
	FrontchannelLogoutURI string
	// InitiateLoginURI is the app's OIDC third-party-initiated login endpoint, used when a
	// member arrives from the AMS website with no app waiting.
	InitiateLoginURI string
	// MFA is the client's second-factor policy: "" or MFAOptional (members who use a second
	// factor use it here; others sign in with a password alone), or MFARequired (no code is
	// issued without a second factor; members without one enrol first).
	MFA string
	// AllowInternalTargets lets the bridge call this client's URLs (its back-channel logout
	// URI) on internal addresses: loopback, private, link-local... (bridge/outbound). Off: a
	// URL whose host is or resolves to such an address is refused when it is dialled.
	AllowInternalTargets bool
	// RegisteredAt is when a dynamic client was registered (the store's CreatedAt; an update
	// keeps it, a removal and a registration under the same id renews it); zero for a static
	// client. An access token issued before it was issued to an earlier registration of the
	// id, another app, and is refused (ofCurrentRegistration).
	RegisteredAt time.Time
}

// Second-factor policies of a client (ClientConfig.MFA).
const (
	MFAOptional = "optional"
	MFARequired = "required"
)

// RequiresMFA reports whether the client issues nothing without a second factor.
func (c *ClientConfig) RequiresMFA() bool { return c != nil && c.MFA == MFARequired }

// Grant types a client may be given.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantPassword          = "password"
)

// HashSecret is the SecretHash of a plain client secret.
func HashSecret(secret string) string { return "sha256:" + HashToken(secret) }

// FillDefaults sets what a client leaves out: the authorization_code and refresh_token grants,
// RS256 ID tokens and opaque access tokens.
func (c *ClientConfig) FillDefaults() {
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
	}
	if c.IDTokenSigningAlg == "" {
		c.IDTokenSigningAlg = "RS256"
	}
	if c.AccessTokenFormat == "" {
		c.AccessTokenFormat = "opaque"
	}
}

// Validate checks the client (after FillDefaults) and reports every problem at once (joined
// errors), each naming its field as "clients[<id>].<field>".
func (c *ClientConfig) Validate() error {
	if c.ID == "" || len(c.ID) > 128 || strings.ContainsAny(c.ID, " \t\r\n:") {
		return fmt.Errorf("clients[%q].id: must be 1-128 characters without spaces or colons", c.ID)
	}
	if subjectShaped(c.ID) {
		// A client_credentials access token's sub is its client id (RFC 9068 section 5): an id
		// a member's subject could equal would let the client pass for that member at a
		// resource server keyed by sub.
		return fmt.Errorf("clients[%q].id: must not be 40 hexadecimal characters, the shape of a member's subject (a client_credentials token's sub is its client id)", c.ID)
	}
	var errs []error
	field := func(name, msg string, args ...any) {
		errs = append(errs, fmt.Errorf("clients[%s].%s: %s", c.ID, name, fmt.Sprintf(msg, args...)))
	}
	if c.Public && c.SecretHash != "" {
		field("secret", "a public client must not have a secret")
	}
	if !c.Public && c.SecretHash == "" {
		field("secret", "required for a confidential client (or set public: true)")
	}
	if c.SecretHash != "" && !strings.HasPrefix(c.SecretHash, "sha256:") && !strings.HasPrefix(c.SecretHash, "$2") {
		field("secret_hash", `must be "sha256:<hex>" or a bcrypt hash`)
	}
	for _, g := range c.GrantTypes {
		if !KnownGrant(g) {
			field("grant_types", "unknown grant type %q", g)
		}
	}
	if c.Public && slices.Contains(c.GrantTypes, GrantClientCredentials) {
		field("grant_types", "a public client cannot use client_credentials")
	}
	if c.Public && slices.Contains(c.GrantTypes, GrantPassword) {
		field("grant_types", "a public client cannot use the password grant")
	}
	needsRedirect := slices.Contains(c.GrantTypes, GrantAuthorizationCode)
	if needsRedirect && len(c.RedirectURIs) == 0 {
		field("redirect_uris", "at least one is required for authorization_code")
	}
	for _, u := range c.RedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			field("redirect_uris", "%q: %v", u, err)
		} else if err := queryNamesNone(u, authorizationResponseParams); err != nil {
			field("redirect_uris", "%q: %v", u, err)
		}
	}
	for _, u := range c.PostLogoutRedirectURIs {
		if err := validateRedirectURI(u); err != nil {
			field("post_logout_redirect_uris", "%q: %v", u, err)
		} else if err := queryNamesNone(u, postLogoutResponseParams); err != nil {
			field("post_logout_redirect_uris", "%q: %v", u, err)
		}
	}
	for _, o := range c.WebOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || o == "*" {
			field("web_origins", "%q: must be an origin such as https://app.example.org", o)
		}
	}
	switch c.IDTokenSigningAlg {
	case "RS256", "ES256", "EdDSA":
	default:
		field("id_token_signing_alg", "must be RS256, ES256 or EdDSA")
	}
	switch c.AccessTokenFormat {
	case "opaque", "jwt":
	default:
		field("access_token_format", `must be "opaque" or "jwt"`)
	}
	switch c.MFA {
	case "", MFAOptional, MFARequired:
	default:
		field("mfa", "%q must be optional or required", c.MFA)
	}
	for _, a := range c.Audiences {
		if a == "" || len(a) > 256 || strings.ContainsAny(a, " \t\r\n\"*") {
			field("audiences", "%q: must be a client id or URI of 1-256 characters without spaces, quotes or wildcards", a)
		}
	}
	for _, l := range []struct{ name, uri string }{{"backchannel_logout_uri", c.BackchannelLogoutURI}, {"frontchannel_logout_uri", c.FrontchannelLogoutURI}} {
		name, u := l.name, l.uri
		if u == "" {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || !p.IsAbs() || (p.Scheme != "https" && p.Scheme != "http") || p.Fragment != "" {
			field(name, "%q: must be an absolute http(s) URL without fragment", u)
			continue
		}
		// Front-Channel Logout 1.0 section 2: "The domain, port, and scheme of this URL MUST be
		// the same as that of a registered Redirection URI value": the frame must reach the
		// app's own cookies (and never carry the member's sid to another host).
		if name == "frontchannel_logout_uri" && !sameOriginAsOne(p, c.RedirectURIs) {
			field(name, "%q: must have the scheme, host and port of one of redirect_uris (Front-Channel Logout 1.0 section 2)", u)
		}
	}
	if u := c.InitiateLoginURI; u != "" {
		// OIDC Registration 2: initiate_login_uri "MUST use the https scheme"; http only for a
		// loopback address, as for redirect URIs (a development app on this machine).
		p, err := url.Parse(u)
		switch {
		case err != nil || !p.IsAbs() || p.Host == "" || p.Fragment != "" || (p.Scheme != "https" && p.Scheme != "http"):
			field("initiate_login_uri", "%q: must be an absolute https URL without fragment", u)
		case p.Scheme == "http":
			if _, loop := op.HTTPLoopbackOrLocalhost(u); !loop {
				field("initiate_login_uri", "%q: must use https (OIDC Registration 2); http is allowed only for loopback addresses", u)
			}
		}
	}
	return errors.Join(errs...)
}

// InitiateLoginURL is where the bridge sends a browser to start a sign-in at the app (OIDC
// Core 4, third-party-initiated login): its initiate_login_uri with iss (the issuer) set in the
// query it may already have. ok is false when there is none, or it is not an absolute http(s)
// URL with a host (a client stored before Validate checked the field).
func (c *ClientConfig) InitiateLoginURL(issuer string) (target string, ok bool) {
	if c == nil || c.InitiateLoginURI == "" {
		return "", false
	}
	u, err := url.Parse(c.InitiateLoginURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", false
	}
	q := u.Query()
	q.Set("iss", issuer)
	u.RawQuery = q.Encode()
	return u.String(), true
}

// Unusable says why the client is not served, "" when it is: a client whose id has the shape
// of a member's subject (subjectShaped; Validate refuses one since session 19, but one the
// administration stored before is still in the store). A client_credentials access token's sub
// is its client id (RFC 9068 section 5), so such a client could pass for that member at a
// resource server keyed by sub. The token endpoint (and every API endpoint) and /authorize
// refuse it, its access tokens are inactive, and the administration names it; its stored
// registration is kept, for the operator to add again under another id.
//
// It is computed at each call, not cached (session 24, BenchmarkClientUnusable under callgrind):
// about 13 instructions for an id that is not 40 characters long, 390 for one that is, against
// 60,000-95,000 for the whole access-token check it is part of (BenchmarkUserinfo) and 17
// million for a refresh grant: at most 0.6%, for 40-character ids only. A cache would need a
// field beside the registration's, which the struct conversions of ClientConfig
// (bridge/admin's Client) would have to carry, or a map look-up by id costing as much.
func (c *ClientConfig) Unusable() string {
	if subjectShaped(c.ID) {
		return "this client's id has the shape of a member's subject (40 hexadecimal characters), which its tokens' sub would carry (RFC 9068 section 5): it is not served until an administrator adds it again under another id"
	}
	return ""
}

// subjectShaped tells whether id has the shape of a member's subject: 40 hexadecimal
// characters (bridge/identity.SubjectMapper: hex of 20 bytes of an HMAC), in either case.
func subjectShaped(id string) bool {
	if len(id) != 40 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i] | 0x20; !('0' <= id[i] && id[i] <= '9') && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func validateRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if !u.IsAbs() {
		return errors.New("must be absolute")
	}
	// Schemes a browser runs or renders itself are never an app's redirect target (a
	// registration mistake, or a script on a page that follows the redirect).
	switch u.Scheme { // url.Parse lower-cases it
	case "javascript", "data", "vbscript", "file", "blob", "about", "filesystem":
		return fmt.Errorf("the %s: scheme is not allowed", u.Scheme)
	}
	if u.Fragment != "" {
		return errors.New("must not have a fragment")
	}
	if strings.Contains(raw, "*") {
		return errors.New("wildcards are not allowed")
	}
	if u.Scheme == "http" {
		if _, loop := op.HTTPLoopbackOrLocalhost(raw); !loop {
			return errors.New("http is allowed only for loopback addresses; use https")
		}
	}
	return nil
}

// authorizationResponseParams are the parameters the authorization endpoint adds to a
// redirect_uri's query: the code response's code and state (RFC 6749 4.1.2), its error response's
// error, error_description, error_uri and state (4.1.2.1), and RFC 9207's iss. Only the code
// response type and the query response mode are served (discovery.go), so the implicit and
// hybrid flows' id_token, access_token, token_type and expires_in never reach a redirect_uri, and
// no session_state is sent (no OIDC Session Management).
var authorizationResponseParams = []string{"code", "state", "iss", "error", "error_description", "error_uri"}

// postLogoutResponseParams are the parameters end_session adds to a post_logout_redirect_uri's
// query: the RP's state (OIDC RP-Initiated Logout 1.0 section 2, "state").
var postLogoutResponseParams = []string{"state"}

// queryNamesNone refuses a registered URI whose query already names one of the response
// parameters the provider adds to it. RFC 6749 3.1 lets a redirection endpoint URI have a query,
// which "MUST be retained when adding additional query parameters", and says parameters "MUST NOT
// be included more than once": a registered ?state= or ?code= would reach the app twice (op adds
// its own), and a registered ?iss= would stand in for the issuer's, which RFC 9207 2 says the AS
// MUST add (withIss keeps a query's iss as it finds it). Names are compared as sent: a query's
// names are case-sensitive (an ?ISS= is another parameter). A query that does not parse is
// refused too: the response is built from the parsed query (op's mergeQueryParams, withIss), which
// drops the pairs it cannot read, so the query would not be "retained" as registered.
func queryNamesNone(raw string, names []string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("the query is malformed: %v", err)
	}
	for _, n := range names {
		if q.Has(n) {
			return fmt.Errorf("the query must not name the %q parameter: the response adds its own (RFC 6749 3.1: a parameter is not included more than once)", n)
		}
	}
	return nil
}

// appType derives op's application type: confidential -> web; public with only loopback or
// private-use-scheme redirects -> native (RFC 8252); other public -> user agent (SPA).
func (c *ClientConfig) appType() op.ApplicationType {
	if !c.Public {
		return op.ApplicationTypeWeb
	}
	for _, u := range c.RedirectURIs {
		_, loop := op.HTTPLoopbackOrLocalhost(u)
		custom := !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://")
		if !loop && !custom {
			return op.ApplicationTypeUserAgent
		}
	}
	return op.ApplicationTypeNative
}

// VerifySecret checks a presented secret against the stored hash in constant time.
func (c *ClientConfig) VerifySecret(secret string) bool {
	if c.Public || c.SecretHash == "" || secret == "" || len(secret) > 512 {
		return false
	}
	if h, ok := strings.CutPrefix(c.SecretHash, "sha256:"); ok {
		var sum [2 * sha256.Size]byte
		hashTokenHex(&sum, secret)
		return subtle.ConstantTimeCompare([]byte(h), sum[:]) == 1
	}
	return bcrypt.CompareHashAndPassword([]byte(c.SecretHash), []byte(secret)) == nil
}

// AllowsGrant reports whether the client registered the grant type.
func (c *ClientConfig) AllowsGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// client adapts a ClientConfig to op.Client.
type client struct {
	cfg        *ClientConfig
	loginURL   func(authRequestID string) string
	idLifetime time.Duration
	skew       time.Duration
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.cfg.ID }
func (c *client) RedirectURIs() []string           { return c.cfg.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.cfg.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	return c.cfg.appType()
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.cfg.Public {
		return oidc.AuthMethodNone
	}
	// Basic is the declared method; op accepts client_secret_post too when enabled.
	return oidc.AuthMethodBasic
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(c.cfg.GrantTypes))
	for _, g := range c.cfg.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}
func (c *client) LoginURL(id string) string { return c.loginURL(id) }

// AccessTokenType is always bearer for op: JWT access tokens are signed by the storage with
// the RFC 9068 header typ at+jwt, which op cannot do (see access_token_jwt.go).
func (c *client) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeBearer
}
func (c *client) IDTokenLifetime() time.Duration { return c.idLifetime }

// DevMode lifts op's "no http redirect for public web clients" rule; we allow it only when every
// redirect URI is loopback (validateRedirectURI already refuses other http URIs).
func (c *client) DevMode() bool {
	for _, u := range c.cfg.RedirectURIs {
		if strings.HasPrefix(u, "https://") {
			return false
		}
	}
	return len(c.cfg.RedirectURIs) > 0
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IsScopeAllowed is asked for scopes beyond the standard OIDC ones.
func (c *client) IsScopeAllowed(scope string) bool {
	return len(c.cfg.Scopes) == 0 || slices.Contains(c.cfg.Scopes, scope)
}

// IDTokenUserinfoClaimsAssertion puts the granted scopes' claims into ID tokens too (as Dex and
// Keycloak do); a client's claim policy can still restrict what each token carries.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return c.skew }

// ClientSource resolves client configs by id (static config merged with the store).
type ClientSource interface {
	ClientConfig(ctx context.Context, id string) (*ClientConfig, error)
}

// originAllowed reports whether a browser origin is registered for the client (CORS).
func originAllowed(c *ClientConfig, origin string) bool {
	return slices.Contains(c.WebOrigins, strings.TrimSuffix(origin, "/"))
}

// sameOriginAsOne reports whether u has the scheme, host and port of one of the redirect URIs
// (default ports made explicit, hosts compared without case). A loopback redirect URI
// registered without a port matches any port of its host, as RFC 8252 7.3 lets the app pick
// its port at run time.
func sameOriginAsOne(u *url.URL, redirectURIs []string) bool {
	origin := func(p *url.URL) (scheme, host, port string) {
		port = p.Port()
		if port == "" {
			port = map[string]string{"http": "80", "https": "443"}[p.Scheme]
		}
		return strings.ToLower(p.Scheme), strings.ToLower(p.Hostname()), port
	}
	scheme, host, port := origin(u)
	for _, r := range redirectURIs {
		p, err := url.Parse(r)
		if err != nil {
			continue
		}
		rs, rh, rp := origin(p)
		if rs != scheme || rh != host {
			continue
		}
		if rp == port {
			return true
		}
		if _, loop := op.HTTPLoopbackOrLocalhost(r); loop && p.Port() == "" {
			return true
		}
	}
	return false
}
