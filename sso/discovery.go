package sso

import (
	"context"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// discoveryDoc is the discovery document (OpenID Connect Discovery 1.0): op's typed
// configuration plus the metadata op's type does not know.
type discoveryDoc struct {
	*oidc.DiscoveryConfiguration
	// RFC 9207: every authorization response carries iss (provider.go, issWriter).
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	// Front-Channel Logout 1.0 section 3 (the bridge's logout page renders the iframes).
	FrontChannelLogoutSupported        bool `json:"frontchannel_logout_supported"`
	FrontChannelLogoutSessionSupported bool `json:"frontchannel_logout_session_supported"`
	// The prompt values the login flow honours (OpenID Connect Discovery 1.0, prompt_values_supported).
	PromptValuesSupported []string `json:"prompt_values_supported"`
}

// discoveryDocument builds the document from op's configuration and trims it to what works
// here: op always lists the device authorization endpoint, the implicit and JWT bearer grants,
// implicit response types and private_key_jwt client authentication, none of which this
// provider serves (the device endpoint only when the store keeps device codes). The grants are
// those the token endpoint runs, except the legacy password grant.
func (p *Provider) discoveryDocument(ctx context.Context) *discoveryDoc {
	d := op.CreateDiscoveryConfig(op.ContextWithIssuer(ctx, p.cfg.Issuer), p.op, p.op.Storage())
	d.DeviceAuthorizationEndpoint = ""
	if p.DeviceEnabled() {
		d.DeviceAuthorizationEndpoint = p.cfg.Issuer + PathDeviceAuthzEP
	}
	d.GrantTypesSupported = nil
	for _, g := range p.grants {
		// The password grant is not advertised: it is a legacy, per-client opt-in (RFC 9700 2.4).
		if g.grantType() != GrantPassword && grantEnabled(g) {
			d.GrantTypesSupported = append(d.GrantTypesSupported, oidc.GrantType(g.grantType()))
		}
	}
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	// Only the query is served (storage.go refuses any other response_mode); omitted, the
	// member would mean query and fragment (OIDC Discovery 1.0 section 3).
	d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	// Exactly the client authentication methods the authenticator accepts (client_auth.go):
	// public clients identify themselves (none) except at introspection (RFC 7662 2.1).
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	d.RevocationEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodNone}
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost}
	d.TokenEndpointAuthSigningAlgValuesSupported = nil
	d.RevocationEndpointAuthSigningAlgValuesSupported = nil
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil
	d.ACRValuesSupported = []string{ACRMFA, ACRSingleFactor}
	return &discoveryDoc{DiscoveryConfiguration: d, AuthorizationResponseIssParameterSupported: true,
		FrontChannelLogoutSupported: true, FrontChannelLogoutSessionSupported: true,
		PromptValuesSupported: []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, oidc.PromptSelectAccount}}
}
