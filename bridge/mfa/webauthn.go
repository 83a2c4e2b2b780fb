package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/internal/weborigin"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// WebAuthn is the passkey relying party: its RP ID is the issuer's host and its one origin the
// issuer's origin.
type WebAuthn struct {
	wa *webauthn.WebAuthn
}

// ErrPasskey: the passkey ceremony failed (unknown credential, bad signature, wrong origin, a
// cloned authenticator ...). A person is told to try again; the log has the cause.
var ErrPasskey = errors.New("mfa: passkey not accepted")

// NewWebAuthn builds the relying party for issuer, shown to members as name. Its RP ID is the
// issuer's host in lower case, as browsers hold a domain (the URL parser lower-cases it), so
// that an issuer written with capitals gives the rpIdHash authenticators sign; an
// internationalised one in punycode, as browsers compare it with the origin's (weborigin.Host).
func NewWebAuthn(issuer *url.URL, name string) (*WebAuthn, error) {
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          weborigin.Host(issuer),
		RPDisplayName: name,
		RPOrigins:     []string{weborigin.Of(issuer)},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute, TimeoutUVD: 5 * time.Minute},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute, TimeoutUVD: 5 * time.Minute},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("webauthn: %w", err)
	}
	return &WebAuthn{wa: wa}, nil
}

// member is a member as go-webauthn sees them.
type member struct {
	handle      []byte
	name, shown string
	creds       []webauthn.Credential
}

func (m *member) WebAuthnID() []byte                         { return m.handle }
func (m *member) WebAuthnName() string                       { return m.name }
func (m *member) WebAuthnDisplayName() string                { return m.shown }
func (m *member) WebAuthnCredentials() []webauthn.Credential { return m.creds }

// user loads a member's handle (created on first use) and credentials.
func (s *Service) user(ctx context.Context, subject string, m *legacy.Member) (*member, []*store.WebAuthnCredential, error) {
	handle, err := s.Store.MFAUserHandle(ctx, subject, identity.RandomBytes(32))
	if err != nil {
		return nil, nil, fmt.Errorf("user handle: %w", err)
	}
	stored, err := s.Store.WebAuthnCredentials(ctx, subject)
	if err != nil {
		return nil, nil, fmt.Errorf("passkeys: %w", err)
	}
	u := &member{handle: handle, name: subject, shown: subject}
	if m != nil {
		u.name, u.shown = m.Login, m.FullName
		if u.shown == "" {
			u.shown = m.Login
		}
	}
	for _, c := range stored {
		var wc webauthn.Credential
		if err := json.Unmarshal(c.Data, &wc); err != nil {
			return nil, nil, fmt.Errorf("passkey record: %w", err)
		}
		u.creds = append(u.creds, wc)
	}
	return u, stored, nil
}

// Ceremony is a WebAuthn ceremony's options for the browser and its server-side state.
type Ceremony struct {
	// Options is the JSON for navigator.credentials (publicKey and mediation).
	Options json.RawMessage
	// Session is the state FinishX checks the answer against (kept server-side only).
	Session []byte
}

func ceremony(options any, session *webauthn.SessionData) (*Ceremony, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, err
	}
	sd, err := json.Marshal(session)
	if err != nil {
		return nil, err
	}
	return &Ceremony{Options: o, Session: sd}, nil
}

func (s *Service) passkeys() (*webauthn.WebAuthn, error) {
	if s.WebAuthn == nil {
		return nil, errors.New("mfa: passkeys are off")
	}
	return s.WebAuthn.wa, nil
}

// BeginRegistration starts adding a passkey (a discoverable credential, so that it can sign in
// alone) for the member; the member's existing passkeys are excluded.
func (s *Service) BeginRegistration(ctx context.Context, subject string, m *legacy.Member) (*Ceremony, error) {
	wa, err := s.passkeys()
	if err != nil {
		return nil, err
	}
	u, _, err := s.user(ctx, subject, m)
	if err != nil {
		return nil, err
	}
	opts, sd, err := wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return ceremony(opts, sd)
}

// FinishRegistration checks the browser's answer and stores the new passkey under name. A
// non-empty invite is the member's invitation code (InviteNeeded), used in the same
// transaction as the passkey is stored: ErrWrongInvite when it is wrong, another member's,
// used or expired, and nothing is stored. Without one, when the member m (in a session whose
// methods are amr) would need one for a first factor, the passkey is stored only beside a
// factor the member has when it is stored: ErrInviteMissing when they have none.
func (s *Service) FinishRegistration(ctx context.Context, subject string, m *legacy.Member, amr []string, session, answer []byte, name, ip, invite string) (string, error) {
	wa, err := s.passkeys()
	if err != nil {
		return "", err
	}
	if invite == "" {
		return s.finishRegistration(ctx, wa, subject, m, session, answer, name, ip, "", s.firstNeedsInvite(m, amr))
	}
	// An invitation is a code typed by a person: its guesses count with the member's wrong
	// second-factor codes (a passkey answer alone is not counted: FinishLogin says why).
	if err := s.throttle(ctx, subject, ip); err != nil {
		return "", err
	}
	method, err := s.finishRegistration(ctx, wa, subject, m, session, answer, name, ip, invite, false)
	switch {
	case errors.Is(err, ErrWrongInvite): // counted
	case err != nil:
		s.release(ctx, subject, ip)
	default:
		s.succeed(ctx, subject, ip)
	}
	return method, err
}

// finishRegistration is FinishRegistration's ceremony and store: with invite, the invitation
// used with the passkey; without, notFirst stores it only beside another factor.
func (s *Service) finishRegistration(ctx context.Context, wa *webauthn.WebAuthn, subject string, m *legacy.Member, session, answer []byte, name, ip, invite string, notFirst bool) (string, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return "", fmt.Errorf("passkey session: %w", err)
	}
	u, _, err := s.user(ctx, subject, m)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	cred, err := wa.CreateCredential(u, sd, parsed)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return "", err
	}
	now := s.Now()
	c := &store.WebAuthnCredential{ID: cred.ID, Subject: subject, Name: name, Data: data,
		SignCount: cred.Authenticator.SignCount, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
		CreatedAt: now}
	switch {
	case invite != "":
		err = s.Store.AddWebAuthnCredentialInvited(ctx, c, inviteHash(subject, invite), now)
	case notFirst:
		err = s.Store.AddWebAuthnCredentialNotFirst(ctx, c)
	default:
		err = s.Store.AddWebAuthnCredential(ctx, c)
	}
	switch {
	case errors.Is(err, store.ErrNoInvite):
		return "", s.inviteRefused(ctx, subject, ip, "passkey")
	case errors.Is(err, store.ErrFirstFactor):
		return "", s.firstFactorRefused(ctx, subject, ip, "passkey")
	case errors.Is(err, sso.ErrConflict):
		return "", fmt.Errorf("%w: credential registered already", ErrPasskey)
	case err != nil:
		return "", fmt.Errorf("store passkey: %w", err)
	}
	s.enrolled(ctx, subject, ip, "passkey", invite != "")
	return keyMethod(cred.Flags.BackupEligible), nil
}

// keyMethod is the amr of a passkey: swk for a synced one (backup eligible), hwk for one bound
// to its device.
func keyMethod(backupEligible bool) string {
	if backupEligible {
		return AMRSoftware
	}
	return AMRHardware
}

// BeginLogin starts using one of the member's passkeys as a second factor.
func (s *Service) BeginLogin(ctx context.Context, subject string) (*Ceremony, error) {
	wa, err := s.passkeys()
	if err != nil {
		return nil, err
	}
	u, _, err := s.user(ctx, subject, nil)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, ErrNoFactor
	}
	opts, sd, err := wa.BeginLogin(u, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("begin passkey login: %w", err)
	}
	return ceremony(opts, sd)
}

// BeginDiscoverable starts a sign-in with a passkey alone (no login typed).
func (s *Service) BeginDiscoverable() (*Ceremony, error) {
	wa, err := s.passkeys()
	if err != nil {
		return nil, err
	}
	opts, sd, err := wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, fmt.Errorf("begin passkey sign-in: %w", err)
	}
	return ceremony(opts, sd)
}

// FinishLogin checks a second-factor passkey answer of the member and returns its amr method.
// Passkey answers are not throttled per member, here or in FinishDiscoverable: an answer is a
// signature by a key nobody can guess (NIST SP 800-63B asks rate limiting of authenticator
// outputs under 64 bits), so the member's wrong-code counter neither refuses nor counts them.
// A password holder's wrong TOTP codes, or refused passkey answers, then lock the member's
// codes only, never their passkey sign-in; and a passkey does not clear that counter. Each
// ceremony is single use (its challenge) and the anonymous ceremony endpoints are limited per
// address (bridge/web/mfa).
func (s *Service) FinishLogin(ctx context.Context, subject string, session, answer []byte, ip string) (string, error) {
	wa, err := s.passkeys()
	if err != nil {
		return "", err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return "", fmt.Errorf("passkey session: %w", err)
	}
	u, stored, err := s.user(ctx, subject, nil)
	if err != nil {
		return "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		s.failed(ctx, subject, ip, "passkey: unreadable answer")
		return "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	cred, err := wa.ValidateLogin(u, sd, parsed)
	if err != nil {
		s.failed(ctx, subject, ip, "passkey: refused")
		return "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	return s.used(ctx, subject, stored, cred, ip)
}

// FinishDiscoverable checks a passkey sign-in answer and returns the member's subject and the
// amr method. The member's AMS standing is the caller's to check, as after a password.
func (s *Service) FinishDiscoverable(ctx context.Context, session, answer []byte, ip string) (string, string, error) {
	wa, err := s.passkeys()
	if err != nil {
		return "", "", err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return "", "", fmt.Errorf("passkey session: %w", err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	var (
		subject string
		stored  []*store.WebAuthnCredential
		// fault is a store read of the user-handle look-up that failed for the server's
		// reasons (not a handle the store does not know): the library reports it as a
		// refusal of the passkey, which it is not.
		fault error
	)
	_, cred, err := wa.ValidatePasskeyLogin(func(_, handle []byte) (webauthn.User, error) {
		sub, err := s.Store.SubjectByUserHandle(ctx, handle)
		if err != nil {
			if !errors.Is(err, sso.ErrNotFound) {
				fault = fmt.Errorf("passkey sign-in: user handle: %w", err)
			}
			return nil, err
		}
		u, st, err := s.user(ctx, sub, nil)
		if err != nil {
			fault = fmt.Errorf("passkey sign-in: %w", err)
			return nil, err
		}
		subject, stored = sub, st
		return u, nil
	}, sd, parsed)
	if err != nil {
		if fault != nil {
			// A server fault (a 5xx, logged as one), not the member's passkey refused:
			// nothing is counted against them.
			return "", "", fault
		}
		if subject != "" {
			s.failed(ctx, subject, ip, "passkey sign-in: refused")
		}
		return "", "", fmt.Errorf("%w: %v", ErrPasskey, err)
	}
	method, err := s.used(ctx, subject, stored, cred, ip)
	if err != nil {
		return "", "", err
	}
	return subject, method, nil
}

// used records a verified assertion: the sign count moves by compare-and-set (a clone, whose
// count went backwards, or a concurrent use of the same assertion is refused).
func (s *Service) used(ctx context.Context, subject string, stored []*store.WebAuthnCredential, cred *webauthn.Credential, ip string) (string, error) {
	var prev *store.WebAuthnCredential
	for _, c := range stored {
		if string(c.ID) == string(cred.ID) {
			prev = c
		}
	}
	if prev == nil {
		return "", fmt.Errorf("%w: unknown credential", ErrPasskey)
	}
	if cred.Authenticator.CloneWarning {
		s.failed(ctx, subject, ip, "passkey: sign count went backwards (cloned authenticator?)")
		return "", fmt.Errorf("%w: clone warning", ErrPasskey)
	}
	data, err := json.Marshal(cred)
	if err != nil {
		return "", err
	}
	next := *prev
	next.SignCount, next.BackupState, next.Data, next.LastUsedAt = cred.Authenticator.SignCount, cred.Flags.BackupState, data, s.Now()
	if err := s.Store.UseWebAuthnCredential(ctx, &next, prev.SignCount); err != nil {
		if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
			s.failed(ctx, subject, ip, "passkey: used concurrently or removed")
			return "", fmt.Errorf("%w: %v", ErrPasskey, err)
		}
		return "", fmt.Errorf("record passkey use: %w", err)
	}
	method := keyMethod(prev.BackupEligible)
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.used", Subject: subject, IP: ip, Detail: "passkey " + method})
	return method, nil
}
