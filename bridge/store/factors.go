package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TOTPFactor is a member's authenticator app (RFC 6238). It is pending until the member has
// typed a first code (ConfirmTOTP); only a confirmed one is a second factor.
type TOTPFactor struct {
	Subject string
	// SecretSealed is the shared secret sealed with the key-encryption key (never plaintext).
	SecretSealed []byte
	Confirmed    bool
	// LastStep is the last time step (unix time / 30 s) a code was accepted for: each step is
	// usable once, and never one older than the last.
	LastStep  int64
	CreatedAt time.Time
}

// WebAuthnCredential is a member's passkey or security key.
type WebAuthnCredential struct {
	// ID is the credential id the authenticator chose (unique).
	ID      []byte
	Subject string
	// Name is what the member calls it on the account page.
	Name string
	// Data is the library's credential record (JSON: public key, flags, transports, AAGUID).
	Data      []byte
	SignCount uint32
	// BackupEligible and BackupState are the authenticator's BE and BS flags (a synced passkey).
	BackupEligible, BackupState bool
	CreatedAt                   time.Time
	LastUsedAt                  time.Time
}

// MFAChallenge is one step of a multi-factor ceremony, single use: a sign-in that passed its
// first factor and waits for the second, a step-up of a live session, an enrolment, or a
// WebAuthn ceremony's server-side data. Its id is random; the store keeps its hash.
//
//	pending --PassMFAChallenge (once, by the browser that holds it, before it expires)--> passed
type MFAChallenge struct {
	IDHash string
	// Kind is what it is for (the caller's names, e.g. "signin", "stepup", "passkey-login").
	Kind    string
	Subject string
	// SessionID is the session a step-up upgrades (empty for a sign-in).
	SessionID string
	// AuthRequestID is the sign-in request it continues (empty on the account page).
	AuthRequestID string
	// Browser binds it to the browser that started it (the auth-request binding hash).
	Browser string
	// AMR are the methods already passed (e.g. ["pwd"]).
	AMR []string
	// Data is the ceremony's server-side state (WebAuthn session data, JSON).
	Data      []byte
	Passed    bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// EnrolmentInvite is an administrator-issued one-time code that lets a member set up a first
// second factor where the password alone may not (mfa.first_enrolment: invitation; review s12
// W9). Only the code's hash is kept; the code is shown once, to the administrator.
//
//	issued --ConfirmTOTPInvited or AddWebAuthnCredentialInvited (with a first factor, once, by
//	         its member, before it expires)--> used
//
// A member has at most one unused invitation: issuing another voids the earlier.
type EnrolmentInvite struct {
	// Hash is the code's hash (the store never sees the code).
	Hash    string
	Subject string
	// IssuedBy names the administrator (or "cli") who issued it, for the audit.
	IssuedBy  string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrNoInvite: an enrolment needed an invitation and the one it named cannot be used (unknown,
// another member's, used already, or expired). It is sso.ErrNotFound too.
var ErrNoInvite = fmt.Errorf("no usable enrolment invitation: %w", sso.ErrNotFound)

// ErrFirstFactor: an enrolment without an invitation, which mfa.first_enrolment: invitation
// lets in only beside another second factor (ConfirmTOTPNotFirst, AddWebAuthnCredentialNotFirst),
// found the member with none when it was to store the factor: nothing is stored. It is neither
// sso.ErrNotFound nor sso.ErrConflict.
var ErrFirstFactor = errors.New("a first second factor needs an enrolment invitation")

// FactorStore keeps second factors, their replay guards and the ceremonies that use them. Every
// state change is a compare-and-set: a replayed or raced request changes nothing and fails.
type FactorStore interface {
	// MFAUserHandle returns the member's WebAuthn user handle, storing handle first when the
	// member has none (the first caller wins; later callers get the stored one).
	MFAUserHandle(ctx context.Context, subject string, handle []byte) ([]byte, error)
	// SubjectByUserHandle finds the member of a user handle; sso.ErrNotFound when unknown.
	SubjectByUserHandle(ctx context.Context, handle []byte) (string, error)

	// PutTOTP stores a pending TOTP factor, replacing a pending one; sso.ErrConflict when the
	// member has a confirmed one.
	PutTOTP(ctx context.Context, f *TOTPFactor) error
	// TOTP returns the member's TOTP factor (pending or confirmed); sso.ErrNotFound when none.
	TOTP(ctx context.Context, subject string) (*TOTPFactor, error)
	// ConfirmTOTP moves the pending factor whose sealed secret is sealed (the one the first code
	// was checked against) to confirmed, records step as used and replaces the member's recovery
	// codes with recoveryHashes, in one transaction (compare-and-set on the secret);
	// sso.ErrNotFound when there is no such pending factor (none, confirmed already, or
	// replaced by another enrolment meanwhile).
	ConfirmTOTP(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string) error
	// UseTOTPStep records step as used when it is after the last used one (compare-and-set);
	// sso.ErrConflict when it is not (a replayed code), sso.ErrNotFound when the member has no
	// confirmed factor.
	UseTOTPStep(ctx context.Context, subject string, step int64) error
	// DeleteTOTP removes the TOTP factor and the recovery codes (idempotent).
	DeleteTOTP(ctx context.Context, subject string) error
	// UseRecoveryCode spends one recovery code by hash, once; sso.ErrNotFound when it is unknown
	// or spent.
	UseRecoveryCode(ctx context.Context, subject, hash string, at time.Time) error
	// RecoveryCodesLeft counts the member's unspent recovery codes.
	RecoveryCodesLeft(ctx context.Context, subject string) (int, error)

	// AddWebAuthnCredential stores a new credential; sso.ErrConflict when its id exists.
	AddWebAuthnCredential(ctx context.Context, c *WebAuthnCredential) error
	// WebAuthnCredentials lists the member's credentials, oldest first.
	WebAuthnCredentials(ctx context.Context, subject string) ([]*WebAuthnCredential, error)
	// UseWebAuthnCredential records a use: the sign count moves from old to c.SignCount and the
	// flags, data and last use are replaced, only while the stored count is still old
	// (compare-and-set); sso.ErrConflict when it is not, sso.ErrNotFound when unknown.
	UseWebAuthnCredential(ctx context.Context, c *WebAuthnCredential, old uint32) error
	// DeleteWebAuthnCredential removes one of the member's credentials; sso.ErrNotFound when the
	// member has no such credential.
	DeleteWebAuthnCredential(ctx context.Context, subject string, id []byte) error

	// ResetFactors removes every factor of the member (TOTP, recovery codes, credentials) and
	// sets the reset notice, in one transaction; it returns how many factors it removed.
	ResetFactors(ctx context.Context, subject string, at time.Time) (int, error)
	// ResetFactorsAndDeactivate is ResetFactors of d.Subject and Deactivate(d) in one
	// transaction (an administrator's reset ends the member's sessions and grants with it); it
	// returns how many factors it removed and the sessions it ended.
	ResetFactorsAndDeactivate(ctx context.Context, d *Deactivation) (int, []*sso.Session, error)
	// FactorResetNotice reports whether the reset notice is set, leaving it set.
	FactorResetNotice(ctx context.Context, subject string) (bool, error)
	// TakeFactorResetNotice reports whether the reset notice was set, clearing it (once).
	TakeFactorResetNotice(ctx context.Context, subject string) (bool, error)
	// FactorPresence tells in one read whether the member has a confirmed TOTP factor, any
	// WebAuthn credential, and the reset notice set: what a sign-in asks of every member, most
	// of whom have none of them (then nothing else needs reading).
	FactorPresence(ctx context.Context, subject string) (FactorPresence, error)

	// CreateMFAChallenge stores a pending challenge; sso.ErrConflict when its id exists.
	CreateMFAChallenge(ctx context.Context, c *MFAChallenge) error
	// MFAChallenge returns a challenge by id hash, pending or passed; sso.ErrNotFound when
	// unknown or expired.
	MFAChallenge(ctx context.Context, idHash string) (*MFAChallenge, error)
	// PassMFAChallenge moves a pending challenge bound to browser to passed, once, before it
	// expires at now: sso.ErrAuthRequestUsed when it is passed already, sso.ErrAuthRequestElsewhere
	// when bound to another browser, sso.ErrNotFound when unknown or expired.
	PassMFAChallenge(ctx context.Context, idHash, browser string, now time.Time) error
	// CreateEnrolmentInvite stores an unused invitation, deleting the member's unused ones in
	// the same transaction; sso.ErrConflict when its hash exists.
	CreateEnrolmentInvite(ctx context.Context, inv *EnrolmentInvite) error
	// ConfirmTOTPInvited is ConfirmTOTP of a first factor that mfa.first_enrolment: invitation
	// lets in only with an invitation: it also uses the member's invitation of inviteHash at at
	// (once, while at is before its expiry: compare-and-set), in the same transaction. ErrNoInvite (an sso.ErrNotFound)
	// when the invitation cannot be used: nothing is confirmed; ConfirmTOTP's sso.ErrNotFound
	// when there is no such pending factor: the invitation stays unused.
	ConfirmTOTPInvited(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string, inviteHash string, at time.Time) error
	// AddWebAuthnCredentialInvited is AddWebAuthnCredential of a first factor that
	// mfa.first_enrolment: invitation lets in only with an invitation: it also uses the
	// member's (c.Subject's) invitation of inviteHash at at, in the same transaction.
	// ErrNoInvite when the invitation cannot be used: nothing is added; sso.ErrConflict when
	// the credential's id exists: the invitation stays unused.
	AddWebAuthnCredentialInvited(ctx context.Context, c *WebAuthnCredential, inviteHash string, at time.Time) error
	// EnrolmentInviteUsable reads, without using it, whether the member has an unused
	// invitation of hash that has not expired at at: nil if so, ErrNoInvite (an sso.ErrNotFound)
	// when not (unknown, another member's, used already, or expired). A passkey registration
	// checks its code with it before the authenticator makes the passkey.
	EnrolmentInviteUsable(ctx context.Context, subject, hash string, at time.Time) error
	// ConfirmTOTPNotFirst is ConfirmTOTP of a factor that mfa.first_enrolment: invitation lets
	// in without an invitation only beside another (the member's first needs one:
	// ConfirmTOTPInvited): it confirms only while the member has a WebAuthn credential, checked
	// in the statement that confirms and held until the transaction ends (a removal that races
	// it runs before, and it is refused, or after). ErrFirstFactor when the member has none:
	// nothing is confirmed; ConfirmTOTP's sso.ErrNotFound when there is no such pending factor.
	ConfirmTOTPNotFirst(ctx context.Context, subject string, sealed []byte, step int64, recoveryHashes []string) error
	// AddWebAuthnCredentialNotFirst is AddWebAuthnCredential of a factor that
	// mfa.first_enrolment: invitation lets in without an invitation only beside another (the
	// member's first needs one: AddWebAuthnCredentialInvited): it adds c only while c.Subject
	// has a confirmed TOTP factor or a WebAuthn credential, checked in the statement that adds
	// it and held until the transaction ends. ErrFirstFactor when the member has neither:
	// nothing is added; sso.ErrConflict when the credential's id exists.
	AddWebAuthnCredentialNotFirst(ctx context.Context, c *WebAuthnCredential) error
	// Purge (sso.Store) deletes invitations expired before now and used ones.

	// UpgradeSession sets a live session's AMR and auth time, only while its AMR is still old
	// (compare-and-set, a step-up); sso.ErrConflict when it changed, sso.ErrNotFound when the
	// session is not live.
	UpgradeSession(ctx context.Context, sessionID string, old, amr []string, authTime time.Time) error
}

// FactorPresence is what FactorPresence reads.
type FactorPresence struct {
	TOTP        bool // a confirmed TOTP factor
	Passkeys    bool // at least one WebAuthn credential
	ResetNotice bool // the reset notice is set (TakeFactorResetNotice takes it)
}
