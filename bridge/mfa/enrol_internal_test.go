package mfa

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestMayEnrolFirst: a member the AMS asks a second factor of enrols a first one only in a
// sign-in the AMS website's hand-off began (amr's first value "ams"); an "ams" later in amr (an
// upstream's trusted_amr) does not count; every other member enrols after any first factor.
func TestMayEnrolFirst(t *testing.T) {
	asked := &legacy.Member{Login: "bob", SecondFactor: true}
	plain := &legacy.Member{Login: "alice"}
	for _, tc := range []struct {
		name string
		m    *legacy.Member
		amr  []string
		want bool
	}{
		{"asked, password", asked, []string{AMRPassword}, false},
		{"asked, no methods", asked, nil, false},
		{"asked, hand-off", asked, []string{AMRHandOff}, true},
		{"asked, hand-off then a factor", asked, []string{AMRHandOff, AMROTP, AMRMFA}, true},
		{"asked, upstream claiming ams", asked, []string{"fed", AMRHandOff}, false},
		{"asked, password then ams", asked, []string{AMRPassword, AMRHandOff}, false},
		{"asked, passkey", asked, []string{AMRHardware, AMRMFA}, false},
		{"not asked, password", plain, []string{AMRPassword}, true},
		{"not asked, upstream", plain, []string{"fed"}, true},
		{"no member", nil, []string{AMRHandOff}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := MayEnrolFirst(tc.m, tc.amr); got != tc.want {
				t.Errorf("MayEnrolFirst(%+v, %v) = %v, want %v", tc.m, tc.amr, got, tc.want)
			}
		})
	}
}

// TestInviteNeeded: with mfa.first_enrolment: invitation a first factor needs an invitation
// code after any first factor but the AMS website's hand-off of a member the AMS asks a factor
// of (the AMS checked its own); a member with a factor never needs one, and with the setting
// open nobody does.
func TestInviteNeeded(t *testing.T) {
	asked := &legacy.Member{Login: "bob", SecondFactor: true}
	plain := &legacy.Member{Login: "alice"}
	has := Factors{TOTP: true}
	for _, tc := range []struct {
		name       string
		invitation bool
		f          Factors
		m          *legacy.Member
		amr        []string
		want       bool
	}{
		{"open", false, Factors{}, plain, []string{AMRPassword}, false},
		{"password", true, Factors{}, plain, []string{AMRPassword}, true},
		{"upstream", true, Factors{}, plain, []string{"fed"}, true},
		{"hand-off of a member the AMS does not ask", true, Factors{}, plain, []string{AMRHandOff}, true},
		{"hand-off of a member the AMS asks", true, Factors{}, asked, []string{AMRHandOff}, false},
		{"upstream claiming ams, member asked", true, Factors{}, asked, []string{"fed", AMRHandOff}, true},
		{"a factor already", true, has, plain, []string{AMRPassword, AMROTP, AMRMFA}, false},
		{"a passkey already", true, Factors{Passkeys: []*store.WebAuthnCredential{{}}}, plain, []string{AMRPassword}, false},
		{"no member", true, Factors{}, nil, []string{AMRHandOff}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Service{InvitationFirst: tc.invitation}
			if got := s.InviteNeeded(tc.f, tc.m, tc.amr); got != tc.want {
				t.Errorf("InviteNeeded(%+v, %+v, %v) = %v, want %v", tc.f, tc.m, tc.amr, got, tc.want)
			}
		})
	}
}
