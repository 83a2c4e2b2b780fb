package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// SAMLServiceProvider is a SAML service provider registered with the CLI (those in the
// configuration file are not stored). Settings is the bridge's own description of it (a JSON
// document package bridge/saml reads and writes); Metadata is the SP's metadata as it was
// read at registration (never fetched again per request).
type SAMLServiceProvider struct {
	EntityID string
	// ID is the bridge's id for the SP (Settings' "id"): policies[<id>], its audit name. It is
	// one app's: CreateSAMLServiceProvider refuses an id that a client or another SP has, and
	// CreateClient an SP's (ErrAppIDTaken).
	ID        string
	Settings  []byte
	Metadata  []byte
	CreatedAt time.Time
}

// ErrAppIDTaken is in the error of CreateSAMLServiceProvider and CreateClient (with
// sso.ErrConflict) when the id is another app's: a client's or another SP's for an SP, an SP's
// for a client. One id names one app: policies[<id>], the access rule and the audit's client
// name would otherwise cover two (start-up refuses such a pair, checkPolicyIDs).
var ErrAppIDTaken = errors.New("the id is another app's")

// AppIDTakenError is the error of a registration whose id ID is held by Other ("an OpenID
// client", "SAML service provider <entity id>"); it is ErrAppIDTaken and sso.ErrConflict.
type AppIDTakenError struct{ ID, Other string }

func (e *AppIDTakenError) Error() string {
	return fmt.Sprintf("%s: %q is the id of %s already", ErrAppIDTaken, e.ID, e.Other)
}

// Is makes errors.Is(err, ErrAppIDTaken) and errors.Is(err, sso.ErrConflict) hold.
func (e *AppIDTakenError) Is(target error) bool {
	return target == ErrAppIDTaken || target == sso.ErrConflict
}

// AppIDTaken is an *AppIDTakenError.
func AppIDTaken(id, other string) error { return &AppIDTakenError{ID: id, Other: other} }

// AppIDRefusal is the one message of a registration refused because other has its id (an
// AppIDTakenError's Other, or the configuration file's app with the id): name is what the
// registration calls the id ("client id", "id").
func AppIDRefusal(name, id, other string) string {
	return fmt.Sprintf("%s %q is the id of %s already: one id names one app (policies[%s], the audit's client name); choose another id",
		name, id, other, id)
}

// SAMLRequest is a SAML sign-in waiting for the member: an SP's AuthnRequest that passed its
// checks, or an IdP-initiated sign-in (RequestID empty). Its states: pending (unbound), bound
// to the browser that first opened it (Browser), done (a response was sent, once).
type SAMLRequest struct {
	ID         string // random; the browser carries it, the store keys by it
	SP         string // the SP's entity id
	RequestID  string // the AuthnRequest's ID ("" for an IdP-initiated sign-in)
	ACSURL     string // the assertion consumer service the response goes to (from metadata)
	ACSBinding string
	ACSIndex   int
	RelayState string
	ForceAuthn bool
	IsPassive  bool
	// AuthnComparison and AuthnClasses are the AuthnRequest's RequestedAuthnContext (SAML core
	// 3.3.2.2.1): its Comparison ("" when it said none) and AuthnContextClassRefs (none: the
	// request asked for no context).
	AuthnComparison string
	AuthnClasses    []string
	// NameIDFormat is the format the AuthnRequest's NameIDPolicy asked for, when it is one the
	// bridge issues and not the SP's own: transient (SAML core 3.4.1.1); "" for the SP's own.
	NameIDFormat string
	Browser      string
	Done         bool
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// SAMLParticipant records that an SSO session signed into a SAML SP, with what single logout
// needs to name the member there.
type SAMLParticipant struct {
	SessionID    string
	SP           string
	NameID       string
	NameIDFormat string
	SessionIndex string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// SAMLKey is a SAML signing key pair: the self-signed certificate published in the metadata and
// the private key sealed under the key-encryption key.
type SAMLKey struct {
	ID         string
	CertDER    []byte
	PrivateEnc []byte
	CreatedAt  time.Time // signs from
	SignUntil  time.Time
	ExpiresAt  time.Time // published until
}

// Withdrawn tells whether the key was withdrawn (RetireSAMLKey): it is published no longer than
// it signs, which a key retired by rotation (published an overlap after it stops signing)
// never is.
func (k *SAMLKey) Withdrawn() bool { return !k.ExpiresAt.After(k.SignUntil) }

// SAMLStore keeps what the SAML identity provider needs beyond the SSO sessions. Purge deletes
// expired requests, participants, message ids and keys.
type SAMLStore interface {
	// CreateSAMLServiceProvider stores a new SP; sso.ErrConflict when an SP of its entity id is
	// registered already (two registrations of one entity id at once: one is stored, the
	// other refused, by the store, not by a check before it). ErrAppIDTaken (with
	// sso.ErrConflict) when a client or an SP of another entity id has its ID, checked in the
	// transaction that writes it, so that of a client and an SP registered at once with one id
	// one is refused (CreateClient refuses an SP's id likewise).
	CreateSAMLServiceProvider(ctx context.Context, sp *SAMLServiceProvider) error
	// SAMLServiceProviders lists the registered SPs by entity id.
	SAMLServiceProviders(ctx context.Context) ([]*SAMLServiceProvider, error)
	// DeleteSAMLServiceProvider removes an SP; sso.ErrNotFound when unknown.
	DeleteSAMLServiceProvider(ctx context.Context, entityID string) error

	// CreateSAMLRequest stores a new pending request; sso.ErrConflict when the id exists.
	CreateSAMLRequest(ctx context.Context, r *SAMLRequest) error
	// SAMLRequest returns a request that has not expired; sso.ErrNotFound otherwise.
	SAMLRequest(ctx context.Context, id string) (*SAMLRequest, error)
	// BindSAMLRequest binds an unbound pending request to browser (a no-op when it is bound to
	// it already); sso.ErrConflict when it is done or bound to another browser.
	BindSAMLRequest(ctx context.Context, id, browser string) error
	// CompleteSAMLRequest moves a pending request bound to browser to done, once;
	// sso.ErrConflict when it is done already or bound elsewhere, sso.ErrNotFound when unknown
	// or expired.
	CompleteSAMLRequest(ctx context.Context, id, browser string) error

	// UseSAMLMessageID records a message id (an AuthnRequest's or LogoutRequest's, qualified by
	// its issuer) as used until expires; sso.ErrConflict when it was used and has not expired.
	// An expires passed already records nothing used: the call is a look-up.
	UseSAMLMessageID(ctx context.Context, key string, expires time.Time) error

	// AddSAMLParticipant records (or refreshes) that a session signed into an SP;
	// sso.ErrNotFound, nothing written, when the session has ended (a compare-and-set on its
	// state, so that it is either among the participants its end reads, EndSessionWithEvents,
	// or refused after it), or when the store holds no such session (purged, or an id nobody
	// issued: no end would ever read the participant, and the SP would never be sent its logout).
	AddSAMLParticipant(ctx context.Context, p *SAMLParticipant) error
	// SAMLParticipants lists a session's SPs in first-sign-in order.
	SAMLParticipants(ctx context.Context, sessionID string) ([]*SAMLParticipant, error)
	// TakeSAMLParticipants returns a session's SPs and forgets them, in one step: two callers
	// never both get the same participant.
	TakeSAMLParticipants(ctx context.Context, sessionID string) ([]*SAMLParticipant, error)

	// AddSAMLKey stores a new signing key; sso.ErrConflict when the id exists.
	AddSAMLKey(ctx context.Context, k *SAMLKey) error
	// AddSAMLSuccessor stores k, the key that signs from k.CreatedAt, unless a stored key
	// already signs past that moment: then another replica made this key (the first one, or
	// the same successor) first, and the answer is sso.ErrConflict. Atomic across processes, so
	// replicas starting together on an empty store, or racing one rotation, make one key.
	AddSAMLSuccessor(ctx context.Context, k *SAMLKey) error
	// SAMLKeys lists the keys that have not expired, oldest first.
	SAMLKeys(ctx context.Context) ([]*SAMLKey, error)
	// RetireSAMLKey withdraws the key id at once (its private key may be out): by the store's
	// clock, sign_until = min(sign_until, now) and expires_at = that sign_until, so it signs no
	// more, SAMLKeys no longer returns it (the metadata drops its certificate), Purge deletes it
	// and no rotation counts it. successor, when not nil, is stored in the same transaction (the
	// key that signs from now). sso.ErrNotFound when the key is unknown, expired or withdrawn
	// already, sso.ErrConflict when the successor's id exists; nothing is changed then. Two
	// withdrawals of one key: one succeeds, the other is sso.ErrNotFound and stores nothing.
	RetireSAMLKey(ctx context.Context, id string, successor *SAMLKey) error

	// TakeOverSAMLLoginClaim moves a SAML login claim (KindSAMLLoginClaim) from the step t.From
	// to the step t.To for a new submission of the sign-in's password form, in one
	// transaction: only while the claim t.Claim is unexpired at t.At, bound to t.Browser and at
	// the step t.From (not empty) (compare-and-set), and t.From's challenge has not passed; a
	// pending one (expired or not) is deleted in the same transaction, so that it never passes
	// afterwards. The claim's subject becomes t.Subject. sso.ErrConflict when it is not so
	// (another take-over won, the step passed, the claim is another browser's or at no step) and
	// nothing is changed; sso.ErrNotFound when there is no live claim t.Claim.
	TakeOverSAMLLoginClaim(ctx context.Context, t *SAMLClaimTakeOver) error
}

// KindSAMLLoginClaim is the kind of the MFAChallenge by which a password submission of a waiting
// SAML sign-in's form claims it (bridge/saml): created once per sign-in (CreateMFAChallenge,
// keyed by the sign-in), bound to its browser, until the sign-in expires; no second-factor step
// or passkey ceremony accepts it. Its Data is the id hash of the second-factor step that
// submission opened (empty: none; the session opens at once). Its states:
//
//	claimed at step S --S passes (PassMFAChallenge: the step writes the session; the sign-in
//	    then completes, CompleteSAMLRequest)--> S passed: final, no take-over
//	claimed at step S --a new submission from the claim's browser, S not passed (pending,
//	    expired or abandoned): TakeOverSAMLLoginClaim--> claimed at step S' (S deleted)
//	claimed at no step: final (the session is written at once)
//
// So a sign-in writes at most one session however its forms are sent (two tabs, a replay), and a
// member whose step expired or who typed another account's password can sign in again in the
// same browser.
const KindSAMLLoginClaim = "saml-login-claim"

// SAMLClaimTakeOver is a take-over of a SAML login claim (TakeOverSAMLLoginClaim).
type SAMLClaimTakeOver struct {
	Claim   string // the claim's id hash
	Browser string // the browser the claim is bound to (the waiting sign-in's)
	From    string // the step the claim was read at (its challenge's id hash)
	To      string // the new submission's step (its challenge's id hash; "": none)
	Subject string // the new submission's member
	At      time.Time
}
