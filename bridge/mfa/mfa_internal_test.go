package mfa

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

func TestRequired(t *testing.T) {
	s := &Service{Policy: Policy{RequiredRoles: []string{"Staff"}}}
	portal := &sso.ClientConfig{ID: "portal", MFA: sso.MFAOptional}
	finance := &sso.ClientConfig{ID: "finance", MFA: sso.MFARequired}
	member := &legacy.Member{Roles: []string{"Member"}}
	staff := &legacy.Member{Roles: []string{"Member", "Staff"}}
	enrolled := Factors{TOTP: true}
	withKey := Factors{Passkeys: []*store.WebAuthnCredential{{ID: []byte("k")}}}
	mfaAR := &sso.AuthRequest{ACRValues: []string{"other", sso.ACRMFA}}
	amsAsks := &legacy.Member{Roles: []string{"Member"}, SecondFactor: true}
	amsAsksStaff := &legacy.Member{Roles: []string{"Staff"}, SecondFactor: true}
	pwd, handOff := []string{AMRPassword}, []string{AMRHandOff}
	for _, tc := range []struct {
		name   string
		ar     *sso.AuthRequest
		client *sso.ClientConfig
		m      *legacy.Member
		f      Factors
		amr    []string
		want   string
	}{
		{"nothing asks", &sso.AuthRequest{}, portal, member, Factors{}, pwd, ReasonNotNeeded},
		{"opted in with an app", nil, portal, member, enrolled, pwd, ReasonEnrolled},
		{"opted in with a passkey", nil, portal, member, withKey, pwd, ReasonEnrolled},
		{"required client", nil, finance, member, Factors{}, pwd, ReasonClient},
		{"acr_values", mfaAR, portal, member, Factors{}, pwd, ReasonACR},
		{"other acr_values", &sso.AuthRequest{ACRValues: []string{"urn:other"}}, portal, member, Factors{}, pwd, ReasonNotNeeded},
		{"required role", nil, portal, staff, Factors{}, pwd, ReasonRole},
		{"the AMS asks this account for a second factor (review s15 X-6)", nil, portal,
			&legacy.Member{Roles: []string{"Member"}, SecondFactor: true}, Factors{}, pwd, ReasonAMS},
		{"no member", nil, portal, nil, Factors{}, pwd, ReasonNotNeeded},
		{"no client", nil, nil, member, Factors{}, pwd, ReasonNotNeeded},
		{"client without a setting", nil, &sso.ClientConfig{ID: "x"}, member, Factors{}, pwd, ReasonNotNeeded},
		// The AMS hand-off satisfies the AMS's own requirement, and only that one (brief M 1).
		{"the AMS asks, hand-off", nil, portal, amsAsks, Factors{}, handOff, ReasonNotNeeded},
		{"the AMS asks, hand-off then a factor", nil, portal, amsAsks, Factors{}, []string{AMRHandOff, AMROTP, AMRMFA}, ReasonNotNeeded},
		{"the AMS asks, password", nil, portal, amsAsks, Factors{}, pwd, ReasonAMS},
		{"the AMS asks, no methods", nil, portal, amsAsks, Factors{}, nil, ReasonAMS},
		{"the AMS asks, ams not first (an upstream's trusted_amr)", nil, portal, amsAsks, Factors{}, []string{"fed", AMRHandOff}, ReasonAMS},
		{"the AMS asks, hand-off, required client", nil, finance, amsAsks, Factors{}, handOff, ReasonClient},
		{"the AMS asks, hand-off, acr_values", mfaAR, portal, amsAsks, Factors{}, handOff, ReasonACR},
		{"the AMS asks, hand-off, required role", nil, portal, amsAsksStaff, Factors{}, handOff, ReasonRole},
		{"the AMS asks, hand-off, a bridge factor enrolled", nil, portal, amsAsks, enrolled, handOff, ReasonEnrolled},
		{"hand-off, nothing asks", nil, portal, member, Factors{}, handOff, ReasonNotNeeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Required(tc.ar, tc.client, tc.m, tc.f, tc.amr); got != tc.want {
				t.Fatalf("Required = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWithFactor(t *testing.T) {
	for _, tc := range []struct {
		amr    []string
		method string
		want   []string
	}{
		{[]string{"pwd"}, AMROTP, []string{"pwd", "otp", "mfa"}},
		{[]string{"ams"}, AMRHardware, []string{"ams", "hwk", "mfa"}},
		{[]string{"pwd", "otp", "mfa"}, AMROTP, []string{"pwd", "otp", "mfa"}},
		{nil, AMRSoftware, []string{"swk", "mfa"}},
	} {
		in := slices.Clone(tc.amr)
		if got := WithFactor(tc.amr, tc.method); !slices.Equal(got, tc.want) || !slices.Equal(tc.amr, in) {
			t.Errorf("WithFactor(%v, %q) = %v (input now %v), want %v", in, tc.method, got, tc.amr, tc.want)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes, hashes := newRecoveryCodes("sub")
	if len(codes) != RecoveryCodes || len(hashes) != RecoveryCodes {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 14 || c[4] != '-' || c[9] != '-' || seen[c] {
			t.Fatalf("code %q (seen before: %v)", c, seen[c])
		}
		seen[c] = true
		// Typed in capitals, without dashes or with spaces: the same code.
		for _, typed := range []string{c, " " + c + " ", upper(c), c[:4] + c[5:9] + c[10:]} {
			if recoveryHash("sub", typed) != hashes[i] {
				t.Fatalf("%q does not hash like %q", typed, c)
			}
		}
		if recoveryHash("other-sub", c) == hashes[i] {
			t.Fatal("a code hashes alike for another member")
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

func TestMatchStep(t *testing.T) {
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	now := time.Unix(1_700_000_015, 0) // 15 s into a step
	s := &Service{Now: func() time.Time { return now }}
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	step := now.Unix() / 30
	for _, tc := range []struct {
		name string
		code string
		want int64
	}{
		{"now", code(now), step},
		{"one step early", code(now.Add(-30 * time.Second)), step - 1},
		{"one step late", code(now.Add(30 * time.Second)), step + 1},
		{"two steps early", code(now.Add(-60 * time.Second)), -1},
		{"two steps late", code(now.Add(60 * time.Second)), -1},
		{"spaced", code(now)[:3] + " " + code(now)[3:], step},
		{"short", code(now)[:5], -1},
		{"empty", "", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.matchStep([]byte(secret), tc.code); got != tc.want {
				t.Fatalf("matchStep(%q) = %d, want %d", tc.code, got, tc.want)
			}
		})
	}
}

type clientMap map[string]*sso.ClientConfig

func (c clientMap) ClientConfig(_ context.Context, id string) (*sso.ClientConfig, error) {
	if cc, ok := c[id]; ok {
		return cc, nil
	}
	return nil, sso.ErrNotFound
}

// TestPolicyRequires: the refresh grant's question is Required's without a request or factors,
// every reason passed through as Required gives it (no list of its own to forget one in), and a
// client lookup that fails is an error, not "not needed".
func TestPolicyRequires(t *testing.T) {
	s := &Service{Policy: Policy{RequiredRoles: []string{"Staff"}}, Clients: clientMap{
		"portal":  {ID: "portal", MFA: sso.MFAOptional},
		"finance": {ID: "finance", MFA: sso.MFARequired},
	}}
	member := &legacy.Member{Roles: []string{"Member"}}
	amsAsks := &legacy.Member{Roles: []string{"Member"}, SecondFactor: true}
	pwd, handOff := []string{AMRPassword}, []string{AMRHandOff}
	for _, tc := range []struct {
		name, client string
		m            *legacy.Member
		amr          []string
		want         string
	}{
		{"nothing asks", "portal", member, pwd, ReasonNotNeeded},
		{"required client", "finance", member, pwd, ReasonClient},
		{"required role", "portal", &legacy.Member{Roles: []string{"Staff"}}, pwd, ReasonRole},
		{"the AMS", "portal", amsAsks, pwd, ReasonAMS},
		{"no member", "portal", nil, pwd, ReasonNotNeeded},
		// A family the AMS hand-off (or its token exchange) granted keeps refreshing while
		// the AMS's own requirement is the only one; not once the app requires a factor.
		{"the AMS, hand-off", "portal", amsAsks, handOff, ReasonNotNeeded},
		{"the AMS, hand-off, required client", "finance", amsAsks, handOff, ReasonClient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.PolicyRequires(t.Context(), tc.client, tc.m, tc.amr)
			if err != nil {
				t.Fatal(err)
			}
			c, _ := s.Clients.ClientConfig(t.Context(), tc.client)
			if got != tc.want || got != s.Required(nil, c, tc.m, Factors{}, tc.amr) {
				t.Fatalf("PolicyRequires = %q, want %q (Required's)", got, tc.want)
			}
		})
	}
	if _, err := s.PolicyRequires(t.Context(), "nobody", member, pwd); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("unknown client: %v, want its lookup's error", err)
	}
}
