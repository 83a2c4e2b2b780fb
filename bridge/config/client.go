package config

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/ssobridge/ssobridge/sso"
)

// Client is one relying party in the config file (clients:). Validation builds the runtime
// client (sso.ClientConfig) from it: the plain secret hashed, the defaults filled.
type Client struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Secret is the plain secret (usually ${ENV}); it is hashed once, at validation, and only
	// the hash reaches the runtime client.
	Secret string `yaml:"secret,omitempty"`
	// SecretHash is a pre-hashed secret: "sha256:<hex>" or a bcrypt hash ("$2a$...").
	SecretHash string `yaml:"secret_hash,omitempty"`
	// Public clients (SPAs, mobile apps) have no secret and must use PKCE S256.
	Public                 bool     `yaml:"public"`
	RedirectURIs           []string `yaml:"redirect_uris"`
	PostLogoutRedirectURIs []string `yaml:"post_logout_redirect_uris"`
	// GrantTypes default to authorization_code and refresh_token.
	GrantTypes []string `yaml:"grant_types"`
	Scopes     []string `yaml:"scopes"`
	// Trusted (first-party) clients skip the consent page.
	Trusted bool `yaml:"trusted"`
	// IDTokenSigningAlg is RS256 (default), ES256 or EdDSA.
	IDTokenSigningAlg string `yaml:"id_token_signing_alg"`
	// OmitIDTokenOnRefresh leaves the ID token out of refresh responses (OIDC Core 12.2).
	OmitIDTokenOnRefresh bool `yaml:"omit_id_token_on_refresh"`
	// WebOrigins are the origins allowed by CORS (SPAs). Never a wildcard.
	WebOrigins []string `yaml:"web_origins"`
	// AccessTokenFormat is "opaque" (default) or "jwt" (RFC 9068).
	AccessTokenFormat string `yaml:"access_token_format"`
	// Audiences are the resource servers the client's access tokens are for.
	Audiences             []string `yaml:"audiences"`
	BackchannelLogoutURI  string   `yaml:"backchannel_logout_uri"`
	FrontchannelLogoutURI string   `yaml:"frontchannel_logout_uri"`
	// InitiateLoginURI is the app's OIDC third-party-initiated login endpoint.
	InitiateLoginURI string `yaml:"initiate_login_uri"`
	// MFA is the client's second-factor policy: optional (default) or required (mfa.go).
	MFA string `yaml:"mfa,omitempty"`
	// AllowInternalTargets lets the bridge call the client's back-channel logout URI on an
	// internal address (loopback, private, link-local, unique-local...): off, a URI whose host
	// is or resolves to one is refused when the bridge connects (tests and apps on the
	// bridge's own network set it).
	AllowInternalTargets bool `yaml:"allow_internal_targets,omitempty"`
}

// MinSecretLength is the shortest plain secret a client of the config file may have.
const MinSecretLength = 32

// Runtime is the client as the provider uses it: the secret hashed, the defaults filled. It
// does not validate (checkClients does).
func (c *Client) Runtime() sso.ClientConfig {
	r := sso.ClientConfig{
		ID: c.ID, Name: c.Name, SecretHash: c.SecretHash, Public: c.Public,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, Scopes: c.Scopes, Trusted: c.Trusted,
		IDTokenSigningAlg: c.IDTokenSigningAlg, OmitIDTokenOnRefresh: c.OmitIDTokenOnRefresh,
		WebOrigins: c.WebOrigins, AccessTokenFormat: c.AccessTokenFormat, Audiences: c.Audiences,
		BackchannelLogoutURI: c.BackchannelLogoutURI, FrontchannelLogoutURI: c.FrontchannelLogoutURI,
		InitiateLoginURI: c.InitiateLoginURI, MFA: c.MFA, AllowInternalTargets: c.AllowInternalTargets,
	}
	if c.Secret != "" && r.SecretHash == "" {
		r.SecretHash = sso.HashSecret(c.Secret)
	}
	r.FillDefaults()
	return r
}

// checkClients validates every client, reporting every problem of every client, and returns
// the runtime clients.
func (c *Config) checkClients(p *problems) []sso.ClientConfig {
	out := make([]sso.ClientConfig, 0, len(c.Clients))
	seen := map[string]bool{}
	var shortSecrets []error
	for i := range c.Clients {
		cl := &c.Clients[i]
		r := cl.Runtime()
		p.add(r.Validate())
		if seen[cl.ID] {
			p.addf(fmt.Sprintf("clients[%s].id", cl.ID), "duplicate client id")
		}
		seen[cl.ID] = true
		// The key manager keeps keys for keys.algorithms (and RS256) only: a client signed
		// with another would get server_error at every token request (review s12 W4).
		if alg := r.IDTokenSigningAlg; slices.Contains(signingAlgs, alg) && !slices.Contains(c.SigningAlgorithms(), alg) {
			p.addf(fmt.Sprintf("clients[%s].id_token_signing_alg", cl.ID), "%s has no signing key: add it to keys.algorithms (now %s)",
				alg, strings.Join(c.SigningAlgorithms(), ", "))
		}
		if cl.Secret != "" && len(cl.Secret) < MinSecretLength {
			shortSecrets = append(shortSecrets, fmt.Errorf("clients[%s].secret: must be at least %d characters (openssl rand -hex 32)", cl.ID, MinSecretLength))
		}
		out = append(out, r)
	}
	// Static secrets under 32 characters are guessable; listed after the clients' other
	// mistakes so each names its own field.
	for _, e := range shortSecrets {
		p.add(e)
	}
	return out
}

// signingAlgs are the algorithms the key manager can keep keys for (keys.algorithms); RS256's
// key is always kept. Another value of a client's id_token_signing_alg is its Validate's to
// report.
var signingAlgs = []string{"RS256", "ES256", "EdDSA"}

// SigningAlgorithms are the algorithms the bridge keeps signing keys for: keys.algorithms and
// RS256, which is always on. A client's id_token_signing_alg must be one of them (checkClients
// for the configuration file's, the administration for the dynamic ones).
func (c *Config) SigningAlgorithms() []string {
	if slices.Contains(c.Keys.Algorithms, "RS256") {
		return c.Keys.Algorithms
	}
	return append([]string{"RS256"}, c.Keys.Algorithms...)
}

// warnSecretsBasicMangles warns, at start-up, about each client of the config file whose plain
// secret has a '+' or a '%' (half the secrets openssl rand -base64 makes have a '+'): RFC 6749
// 2.3.1 has the client form-encode its secret in a Basic header and the bridge decodes it, so
// a client that sends it as it is (curl -u, many PHP and Java libraries) fails with
// invalid_client, while one that encodes it (Go's oauth2, oauth4webapi) or uses
// client_secret_post works (review s10 V6). The secret is not named, only the client.
func (c *Config) warnSecretsBasicMangles(log *slog.Logger) {
	for i := range c.Clients {
		cl := &c.Clients[i]
		if strings.ContainsAny(cl.Secret, "+%") {
			log.Warn("a client secret has '+' or '%': a client that sends it in a Basic header without form-encoding it (RFC 6749 2.3.1) is refused; prefer a secret without them (openssl rand -hex 32)",
				"field", "clients["+cl.ID+"].secret")
		}
	}
}
