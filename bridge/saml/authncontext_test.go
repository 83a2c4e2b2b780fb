package saml

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestAuthnContextClass: the assertion's class follows the session's methods, as the OIDC acr does.
func TestAuthnContextClass(t *testing.T) {
	for _, c := range []struct {
		amr  []string
		want string
	}{
		{[]string{"pwd"}, ClassPassword},
		{[]string{"pwd", "otp", "mfa"}, ClassMFA},
		{[]string{"hwk", "mfa"}, ClassMFA},
		{[]string{"fed"}, ClassUnspecified},
		{[]string{"fed", "otp", "mfa"}, ClassMFA},
		{[]string{"swk"}, ClassUnspecified},
		{nil, ClassUnspecified},
	} {
		if got := AuthnContextClass(c.amr); got != c.want {
			t.Errorf("AuthnContextClass(%v) = %s, want %s", c.amr, got, c.want)
		}
	}
}

// TestRequestedContext: what a session lacks for a RequestedAuthnContext (SAML core 3.3.2.2.1),
// and the class asserted when it has it.
func TestRequestedContext(t *testing.T) {
	pwd, mfa, fed, fedMFA := []string{"pwd"}, []string{"pwd", "otp", "mfa"}, []string{"fed"}, []string{"fed", "otp", "mfa"}
	const smartcard = acClasses + "Smartcard"
	for _, c := range []struct {
		comparison string
		classes    []string
		amr        []string
		mfaOn      bool
		want       contextWant
		class      string
	}{
		{"", nil, pwd, true, contextMet, ClassPassword},
		{"", nil, mfa, true, contextMet, ClassMFA},
		{"", nil, nil, true, contextMet, ""},
		{"exact", []string{ClassMFA}, pwd, true, contextStepUp, ""},
		{"exact", []string{ClassMFA}, fed, true, contextStepUp, ""},
		{"exact", []string{ClassMFA}, nil, true, contextNewSignIn, ""},
		{"exact", []string{ClassMFA}, pwd, false, contextNeverMet, ""},
		{"exact", []string{ClassMFA}, mfa, true, contextMet, ClassMFA},
		{"", []string{ClassMFA}, mfa, true, contextMet, ClassMFA},
		{"minimum", []string{ClassMFA}, pwd, true, contextStepUp, ""},
		{"better", []string{ClassPassword}, pwd, true, contextStepUp, ""},
		{"better", []string{ClassPassword}, mfa, true, contextMet, ClassMFA},
		{"better", []string{ClassMFA}, mfa, true, contextNeverMet, ""},
		{"minimum", []string{ClassPassword}, pwd, true, contextMet, ClassPassword},
		{"minimum", []string{ClassPassword}, mfa, true, contextMet, ClassMFA},
		{"minimum", []string{ClassPassword}, fed, true, contextStepUp, ""},
		{"minimum", []string{ClassPassword}, fedMFA, true, contextMet, ClassMFA},
		{"maximum", []string{ClassPassword}, mfa, true, contextMet, ClassPassword},
		{"maximum", []string{ClassPassword}, fedMFA, true, contextNewSignIn, ""},
		{"exact", []string{ClassPassword}, fed, true, contextNewSignIn, ""},
		{"exact", []string{ClassPassword}, fedMFA, true, contextNewSignIn, ""},
		{"exact", []string{ClassUnspecified}, mfa, true, contextMet, ClassUnspecified},
		{"exact", []string{smartcard, ClassMFA}, pwd, true, contextStepUp, ""},
		{"minimum", []string{smartcard}, mfa, true, contextNeverMet, ""},
		{"minimum", []string{acClasses + "X509"}, nil, true, contextNeverMet, ""},
		{"minimum", []string{"https://example.org/unknown"}, mfa, true, contextNeverMet, ""},
		{"sideways", []string{ClassMFA}, mfa, true, contextBadCompared, ""},
	} {
		r := &store.SAMLRequest{AuthnComparison: c.comparison, AuthnClasses: c.classes}
		if got := want(r, c.amr, c.mfaOn); got != c.want {
			t.Errorf("want(%s %v, amr %v, mfa %v) = %d, want %d", c.comparison, c.classes, c.amr, c.mfaOn, got, c.want)
		}
		if c.class != "" {
			if got, ok := contextClass(r, c.amr); !ok || got != c.class {
				t.Errorf("contextClass(%s %v, amr %v) = %s %v, want %s", c.comparison, c.classes, c.amr, got, ok, c.class)
			}
		}
	}
}

// TestAsksDeclaration: only an AuthnContextDeclRef of the request's own RequestedAuthnContext
// (both namespaces right) is a request for a declaration.
func TestAsksDeclaration(t *testing.T) {
	const (
		open = `<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r">`
		end  = `</samlp:AuthnRequest>`
	)
	for _, c := range []struct {
		name, xml string
		want      bool
	}{
		{"declaration", open + `<samlp:RequestedAuthnContext><saml:AuthnContextDeclRef>urn:d</saml:AuthnContextDeclRef></samlp:RequestedAuthnContext>` + end, true},
		{"declaration, default namespaces", `<AuthnRequest xmlns="urn:oasis:names:tc:SAML:2.0:protocol"><RequestedAuthnContext Comparison="minimum">` +
			`<AuthnContextDeclRef xmlns="urn:oasis:names:tc:SAML:2.0:assertion">urn:d</AuthnContextDeclRef></RequestedAuthnContext></AuthnRequest>`, true},
		{"class", open + `<samlp:RequestedAuthnContext><saml:AuthnContextClassRef>urn:c</saml:AuthnContextClassRef></samlp:RequestedAuthnContext>` + end, false},
		{"none", open + end, false},
		{"in an extension", open + `<samlp:Extensions><samlp:RequestedAuthnContext><saml:AuthnContextDeclRef>urn:d</saml:AuthnContextDeclRef>` +
			`</samlp:RequestedAuthnContext></samlp:Extensions>` + end, false},
		{"wrong namespace", open + `<samlp:RequestedAuthnContext><samlp:AuthnContextDeclRef>urn:d</samlp:AuthnContextDeclRef></samlp:RequestedAuthnContext>` + end, false},
		{"not xml", `AuthnContextDeclRef <`, false},
	} {
		if got := asksDeclaration([]byte(c.xml)); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
