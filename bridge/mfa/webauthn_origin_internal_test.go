package mfa

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestPasskeyOriginAsBrowsersSendIt (review s19, noticed; X19-1's class): the relying party's
// origin is the issuer's as a browser serialises it (RFC 6454 6.1), so an issuer written with
// its scheme's default port or in capitals still matches the clientDataJSON origin; before,
// https://sso.example.org:443 gave an origin no browser sends and every passkey failed.
func TestPasskeyOriginAsBrowsersSendIt(t *testing.T) {
	for issuer, want := range map[string]string{
		"https://sso.example.org":          "https://sso.example.org",
		"https://sso.example.org:443/":     "https://sso.example.org",
		"HTTPS://SSO.Example.ORG:443/oidc": "https://sso.example.org",
		"https://sso.example.org:8443":     "https://sso.example.org:8443",
		"http://localhost:80":              "http://localhost",
	} {
		u, err := url.Parse(issuer)
		if err != nil {
			t.Fatal(err)
		}
		wa, err := NewWebAuthn(u, "Test")
		if err != nil {
			t.Fatalf("%s: %v", issuer, err)
		}
		if got := wa.wa.Config.RPOrigins; !slices.Equal(got, []string{want}) {
			t.Errorf("issuer %s: origins %q, want %q", issuer, got, want)
		}
	}
}

// TestPasskeyRPIDLowerCase (closing s19, noticed by M): the RP ID is the issuer's host in lower
// case, as browsers hold the domain whose SHA-256 an authenticator signs (rpIdHash), so that an
// issuer written in capitals registers and signs in passkeys. Before, the RP ID kept the
// capitals: a single-label host (LocalHost) was refused by go-webauthn as no domain, so
// NewWebAuthn failed and the bridge with it at start-up; any other's ceremonies refused every
// answer, whose rpIdHash is of the lower-case domain.
func TestPasskeyRPIDLowerCase(t *testing.T) {
	for _, c := range []struct{ issuer, rpID, origin string }{
		{"http://LocalHost:8080/oidc", "localhost", "http://localhost:8080"},
		{"HTTPS://SSO.Example.ORG:443", "sso.example.org", "https://sso.example.org"},
		// An internationalised issuer: the RP ID is the punycode domain browsers check it
		// against (review s20 Y-5).
		{"https://Anmeldung.Bücher.example", "anmeldung.xn--bcher-kva.example", "https://anmeldung.xn--bcher-kva.example"},
	} {
		t.Run(c.rpID, func(t *testing.T) {
			ctx := context.Background()
			s := passkeyService(t)
			issuer, _ := url.Parse(c.issuer)
			wa, err := NewWebAuthn(issuer, "Test")
			if err != nil {
				t.Fatalf("issuer %s: %v", c.issuer, err)
			}
			if got := wa.wa.Config.RPID; got != c.rpID {
				t.Fatalf("RP ID of %s: %q, want %q", c.issuer, got, c.rpID)
			}
			s.WebAuthn = wa
			const subject, ip = "sub-alice", "192.0.2.7"
			cer, err := s.BeginRegistration(ctx, subject, nil)
			if err != nil {
				t.Fatal(err)
			}
			var opts struct {
				PublicKey struct {
					RP struct {
						ID string `json:"id"`
					} `json:"rp"`
				} `json:"publicKey"`
			}
			if err := json.Unmarshal(cer.Options, &opts); err != nil || opts.PublicKey.RP.ID != c.rpID {
				t.Fatalf("registration options' rp.id: %q, %v", opts.PublicKey.RP.ID, err)
			}
			// The browser's answers: rpIdHash of the domain it holds, origin as it serialises it.
			var sd struct {
				Challenge string `json:"challenge"`
			}
			if err := json.Unmarshal(cer.Session, &sd); err != nil {
				t.Fatal(err)
			}
			answer := bridgetest.NewPasskey(t, nil).Register(t, c.rpID, c.origin, sd.Challenge)
			if _, err := s.FinishRegistration(ctx, subject, nil, []string{AMRPassword}, cer.Session, answer, "Key", ip, ""); err != nil {
				t.Fatalf("a passkey registered under %s: %v", c.issuer, err)
			}
			k := addSoftKey(t, s, subject)
			login, err := s.BeginLogin(ctx, subject)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(login.Session, &sd); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FinishLogin(ctx, subject, login.Session, k.Assert(t, c.rpID, c.origin, sd.Challenge), ip); err != nil {
				t.Fatalf("a passkey sign-in under %s: %v", c.issuer, err)
			}
		})
	}
}
