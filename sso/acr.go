package sso

import "slices"

// Authentication context classes (OIDC Core 2, acr): what an ID token's acr says about the
// sign-in, derived from its amr (RFC 8176) so that the two never disagree. A client asks for
// ACRMFA with acr_values to require a second factor (the bridge steps the session up).
const (
	// ACRMFA: the member proved more than one factor (amr holds "mfa").
	ACRMFA = "urn:ssobridge:acr:mfa"
	// ACRSingleFactor: one factor (a password, or the AMS website's session).
	ACRSingleFactor = "urn:ssobridge:acr:1fa"
)

// ACR is the acr of a sign-in whose methods were amr ("" when amr is empty: nothing is known).
func ACR(amr []string) string {
	switch {
	case len(amr) == 0:
		return ""
	case slices.Contains(amr, "mfa"):
		return ACRMFA
	}
	return ACRSingleFactor
}
