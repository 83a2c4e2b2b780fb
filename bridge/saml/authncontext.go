package saml

import (
	"bytes"
	"slices"
	"strings"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Authentication context classes asserted in the AuthnStatement (SAML core 2.7.2.2, SAML authn
// context 3.4): what the session's sign-in really was, not always a password.
const (
	// ClassMFA is the REFEDS MFA profile's class: more than one factor.
	ClassMFA = "https://refeds.org/profile/mfa"
	// ClassPassword: a password over TLS, the one factor.
	ClassPassword = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
	// ClassUnspecified: one factor other than a password (an upstream provider's sign-in, the
	// AMS website's hand-off, a passkey without user verification).
	ClassUnspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
)

// AuthnContextClass is the class of a session whose sign-in methods were amr: the same
// decision as the OIDC acr (sso.ACR).
func AuthnContextClass(amr []string) string { return sessionClasses(amr)[0] }

// sessionClasses are the classes a session whose sign-in methods were amr may truthfully be
// asserted with, strongest first: REFEDS MFA after a second factor, PasswordProtectedTransport
// when a password was one of the factors, and unspecified always.
func sessionClasses(amr []string) []string {
	var out []string
	if sso.ACR(amr) == sso.ACRMFA {
		out = append(out, ClassMFA)
	}
	if slices.Contains(amr, "pwd") {
		out = append(out, ClassPassword)
	}
	return append(out, ClassUnspecified)
}

// mfaAMR is the methods of a password sign-in with a second factor: the strongest session the
// bridge can make, whose classes are every class it can ever assert.
var mfaAMR = []string{"pwd", "otp", "mfa"}

// Comparisons of a RequestedAuthnContext (SAML core 3.3.2.2.1).
const (
	comparisonExact   = "exact"
	comparisonMinimum = "minimum"
	comparisonMaximum = "maximum"
	comparisonBetter  = "better"
)

const acClasses = "urn:oasis:names:tc:SAML:2.0:ac:classes:"

// classStrengths ranks classes for the minimum, maximum and better comparisons (the
// specification leaves the ordering to the identity provider): a higher number is stronger,
// equal numbers are equally strong, and a class not ranked only meets a request that names it.
// It is crewjam's default ranking with REFEDS MFA placed above the password classes and below
// every class that takes a certificate, a smartcard, a hardware token or Kerberos, which the
// bridge never meets: an SP asking for at least one of those gets NoAuthnContext, never MFA.
var classStrengths = func() map[string]int {
	m := map[string]int{ClassMFA: 4}
	for i, tier := range [][]string{
		{"InternetProtocol"},
		{"InternetProtocolPassword", "Password"},
		{"PasswordProtectedTransport", "SecureRemotePassword"},
		nil, // 4: REFEDS MFA
		{"Kerberos", "PGP", "SPKI", "XMLDSig", "TLSClient", "X509", "Smartcard", "TimeSyncToken"},
		{"SmartcardPKI"},
	} {
		for _, c := range tier {
			m[acClasses+c] = i + 1
		}
	}
	return m
}()

// satisfies reports whether asserting class meets a request for classes with comparison
// (SAML core 3.3.2.2.1 as amended by errata E65, as crewjam's EnforceRequestedAuthnContext
// reads it); known is false for a comparison the specification does not define.
func satisfies(comparison string, classes []string, class string) (ok, known bool) {
	ranked := func(match func(a, r int) bool) bool {
		a, ok := classStrengths[class]
		return ok && slices.ContainsFunc(classes, func(c string) bool { r, ok := classStrengths[c]; return ok && match(a, r) })
	}
	switch comparison {
	case "", comparisonExact:
		return slices.Contains(classes, class), true
	case comparisonMinimum:
		return slices.Contains(classes, class) || ranked(func(a, r int) bool { return a >= r }), true
	case comparisonMaximum:
		return slices.Contains(classes, class) || ranked(func(a, r int) bool { return a <= r }), true
	case comparisonBetter:
		return ranked(func(a, r int) bool { return a > r }), true
	}
	return false, false
}

// contextClass is the class to assert for r with a session whose methods were amr: the
// strongest of the session's classes that meets r's RequestedAuthnContext (any, when r has
// none); ok is false when none does.
func contextClass(r *store.SAMLRequest, amr []string) (class string, ok bool) {
	have := sessionClasses(amr)
	if len(r.AuthnClasses) == 0 {
		return have[0], true
	}
	for _, c := range have {
		if ok, _ := satisfies(r.AuthnComparison, r.AuthnClasses, c); ok {
			return c, true
		}
	}
	return "", false
}

// contextWant is what a session whose methods were amr still lacks for r's requested context.
type contextWant int

const (
	contextMet         contextWant = iota // the session meets it (or nothing was requested)
	contextStepUp                         // a second factor on the same session would meet it
	contextNewSignIn                      // only a new password sign-in (with a second factor if need be) would
	contextNeverMet                       // nothing the bridge does meets it
	contextBadCompared                    // the request's comparison is not one SAML defines
)

// want reports what a session with amr lacks for r (amr nil: no session). mfa says whether the
// bridge can ask for a second factor at all.
func want(r *store.SAMLRequest, amr []string, mfa bool) contextWant {
	if len(r.AuthnClasses) == 0 {
		return contextMet
	}
	if _, known := satisfies(r.AuthnComparison, nil, ""); !known {
		return contextBadCompared
	}
	best := []string{"pwd"}
	if mfa {
		best = mfaAMR
	}
	switch {
	case amr != nil && okClass(contextClass(r, amr)):
		return contextMet
	case !okClass(contextClass(r, best)):
		return contextNeverMet
	case amr != nil && mfa && !slices.Contains(amr, "mfa") && okClass(contextClass(r, append(slices.Clone(amr), "otp", "mfa"))):
		return contextStepUp
	}
	return contextNewSignIn
}

func okClass(_ string, ok bool) bool { return ok }

// needsSecondFactor reports whether a password sign-in for r must add a second factor to meet
// r's requested context.
func needsSecondFactor(r *store.SAMLRequest) bool {
	return len(r.AuthnClasses) > 0 && !okClass(contextClass(r, []string{"pwd"})) && okClass(contextClass(r, mfaAMR))
}

// requestedContext is an AuthnRequest's RequestedAuthnContext as the waiting sign-in keeps it:
// the comparison and the class references (trimmed, as xs:anyURI values are; a request for
// declarations is refused before, asksDeclaration).
func requestedContext(req *crewjam.AuthnRequest) (comparison string, classes []string) {
	rac := req.RequestedAuthnContext
	if rac == nil {
		return "", nil
	}
	for _, c := range rac.ClassRefs() {
		if c = strings.TrimSpace(c); c != "" {
			classes = append(classes, c)
		}
	}
	if len(classes) == 0 {
		return "", nil
	}
	return strings.TrimSpace(rac.Comparison), classes
}

const samlAssertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"

// asksDeclaration reports whether the AuthnRequest (its XML) asks for authentication context
// declarations (AuthnContextDeclRef in RequestedAuthnContext, SAML core 3.3.2.2.1): the bridge
// has none, so such a request can never be met (3.4.1.4: NoAuthnContext), while the library
// reads only the class references and would take it for a request of nothing.
func asksDeclaration(request []byte) bool {
	if !bytes.Contains(request, []byte("AuthnContextDeclRef")) {
		return false
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(request); err != nil || doc.Root() == nil {
		return false
	}
	for _, rac := range doc.Root().ChildElements() {
		if rac.Tag != "RequestedAuthnContext" || rac.NamespaceURI() != samlProtocolNS {
			continue
		}
		for _, ref := range rac.ChildElements() {
			if ref.Tag == "AuthnContextDeclRef" && ref.NamespaceURI() == samlAssertionNS {
				return true
			}
		}
	}
	return false
}
