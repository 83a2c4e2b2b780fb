package saml

import "testing"

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
