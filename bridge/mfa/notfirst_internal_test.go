package mfa

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/legacy"
)

// registration answers a registration ceremony (its server-side session) as a browser's
// authenticator with user verification would: a new ES256 passkey, attestation none.
func registration(t *testing.T, session []byte) []byte {
	t.Helper()
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	rp := sha256.Sum256([]byte(sd.RelyingPartyID))
	ad := append(rp[:], byte(protocol.FlagUserPresent|protocol.FlagUserVerified|protocol.FlagAttestedCredentialData))
	ad = binary.BigEndian.AppendUint32(ad, 0)
	ad = append(ad, make([]byte, 16)...) // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(id)))
	ad = append(append(ad, id...), cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		t.Fatal(err)
	}
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.create", "challenge": sd.Challenge, "origin": testOrigin, "crossOrigin": false})
	b := base64.RawURLEncoding.EncodeToString
	out, _ := json.Marshal(map[string]any{"id": b(id), "rawId": b(id), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b(cd), "attestationObject": b(att)}})
	return out
}

// TestEnrolWithoutInviteNeedsAnotherFactor: with mfa.first_enrolment: invitation, an
// authenticator app or passkey enrolled without an invitation code is stored only when the
// store finds another factor of the member's as it stores it (review s18 R3-4). A member with
// none (a caller that did not ask InviteNeeded), or whose only other factor was removed after
// the request read it (InviteNeeded said no code was needed), gets ErrInviteMissing, nothing
// stored and nothing counted; beside a factor, after the AMS website's hand-off of a member the
// AMS asks one of, or with first enrolment open, it is stored. Before, the service stored
// whatever came without a code.
func TestEnrolWithoutInviteNeedsAnotherFactor(t *testing.T) {
	plain := &legacy.Member{Login: "alice"}
	asked := &legacy.Member{Login: "bob", SecondFactor: true}
	pwd, handOff := []string{AMRPassword}, []string{AMRHandOff}
	for _, tc := range []struct {
		name       string
		invitation bool // mfa.first_enrolment: invitation
		m          *legacy.Member
		amr        []string
		// before sets the member's factors up; it returns what the request read.
		before func(t *testing.T, s *Service, subject string) Factors
		want   error
	}{
		{"first factor", true, plain, pwd, nil, ErrInviteMissing},
		{"first factor, no member", true, nil, pwd, nil, ErrInviteMissing},
		{"first factor, asked by the AMS, password", true, asked, pwd, nil, ErrInviteMissing},
		{"beside a passkey", true, plain, pwd, func(t *testing.T, s *Service, subject string) Factors {
			addSoftKey(t, s, subject)
			return Factors{}
		}, nil},
		{"the only passkey removed after it was read", true, plain, pwd, func(t *testing.T, s *Service, subject string) Factors {
			k := addSoftKey(t, s, subject)
			f, err := s.Factors(context.Background(), subject)
			if err != nil || !f.Any() {
				t.Fatalf("Factors: %+v, %v", f, err)
			}
			if err := s.Store.DeleteWebAuthnCredential(context.Background(), subject, k.ID()); err != nil {
				t.Fatal(err)
			}
			return f
		}, ErrInviteMissing},
		{"first factor after the AMS hand-off", true, asked, handOff, nil, nil},
		{"first factor, enrolment open", false, plain, pwd, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			const subject, ip = "sub-alice", "192.0.2.7"
			for _, method := range []string{"totp", "passkey"} {
				t.Run(method, func(t *testing.T) {
					s := passkeyService(t)
					s.InvitationFirst = tc.invitation
					var f Factors
					if tc.before != nil {
						f = tc.before(t, s, subject)
					}
					if tc.want != nil && s.InviteNeeded(f, tc.m, tc.amr) && tc.before != nil {
						t.Fatalf("InviteNeeded says a code is needed: the case does not test the store's check")
					}
					before, err := s.Factors(ctx, subject)
					if err != nil {
						t.Fatal(err)
					}
					switch method {
					case "totp":
						enr, err := s.BeginTOTP(ctx, subject, "alice", "browser-1")
						if err != nil {
							t.Fatal(err)
						}
						code, err := totp.GenerateCodeCustom(enr.Secret, time.Now(), totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
						if err != nil {
							t.Fatal(err)
						}
						tries := 1
						if tc.want != nil {
							tries = 8 // more than the wrong codes allowed: a refusal is not counted as one
						}
						for range tries {
							codes, err := s.ConfirmTOTP(ctx, subject, tc.m, tc.amr, code, ip, "browser-1", "")
							if !errors.Is(err, tc.want) || (err == nil) != (len(codes) == RecoveryCodes) {
								t.Fatalf("ConfirmTOTP without a code: %d codes, %v; want %v", len(codes), err, tc.want)
							}
						}
					case "passkey":
						cer, err := s.BeginRegistration(ctx, subject, tc.m)
						if err != nil {
							t.Fatal(err)
						}
						method, err := s.FinishRegistration(ctx, subject, tc.m, tc.amr, cer.Session, registration(t, cer.Session), "Key", ip, "")
						if !errors.Is(err, tc.want) || (err == nil) != (method == AMRHardware) {
							t.Fatalf("FinishRegistration without a code: %q, %v; want %v", method, err, tc.want)
						}
					}
					after, err := s.Factors(ctx, subject)
					if err != nil {
						t.Fatal(err)
					}
					added := after.TOTP != before.TOTP || len(after.Passkeys) != len(before.Passkeys)
					if added != (tc.want == nil) {
						t.Fatalf("factors before %+v, after %+v; want one added: %v", before, after, tc.want == nil)
					}
				})
			}
		})
	}
}
