package store

import (
	"context"
	"strings"
	"time"
)

// UpstreamLink ties an identity at an upstream OpenID provider (its issuer and subject) to a
// member's subject at the bridge. The member record itself stays in the AMS: a link only says
// who the upstream identity is.
type UpstreamLink struct {
	Issuer string
	// UpstreamSubject is the upstream's "sub".
	UpstreamSubject string
	// Subject is the member's subject at the bridge.
	Subject string
	// Provider is the configured name of the provider the link was made through.
	Provider string
	// Email is what the upstream said the address was when the link was made (for the account
	// page only; never used to find a member).
	Email     string
	CreatedAt time.Time
}

// States of a pending upstream sign-in (UpstreamLogin.State).
const (
	// UpstreamStarted: the browser was sent to the upstream; its callback has not come back.
	UpstreamStarted = "started"
	// UpstreamReturned: the callback was taken (once) and the upstream identity recorded; the
	// identity is not linked yet and waits for the member's AMS password.
	UpstreamReturned = "returned"
	// UpstreamDone: the sign-in or the link finished (nothing can continue it).
	UpstreamDone = "done"
)

// UpstreamLogin is one pending sign-in at an upstream provider. Its id is the SHA-256 of the
// state parameter sent to the upstream; the nonce and PKCE verifier are derived from the state
// under an installation secret, so the store holds nothing the callback could be forged from.
type UpstreamLogin struct {
	ID       string
	Provider string
	State    string
	// AuthRequestID is the bridge sign-in request this upstream sign-in answers ("" when a
	// signed-in member links an identity from the account page).
	AuthRequestID string
	// Browser binds the upstream sign-in to the browser that started it (as a sign-in request
	// is bound: session.Cookies.RequestBrowser).
	Browser string
	// LinkSubject is the signed-in member who asked to link from the account page ("" otherwise).
	LinkSubject string
	// The upstream identity, once returned.
	Issuer          string
	UpstreamSubject string
	Email           string
	// UpstreamSID is the upstream's session id ("sid"), for its back-channel logouts.
	UpstreamSID string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// UpstreamSession records that a bridge session was started by a sign-in at an upstream, so an
// upstream's back-channel logout (by subject or by its session id) ends it.
type UpstreamSession struct {
	SessionID       string
	Issuer          string
	UpstreamSubject string
	UpstreamSID     string
	ExpiresAt       time.Time
}

// heldPrefix starts the SessionID of a held sign-in's upstream record.
const heldPrefix = "held:"

// HeldSignIn is the SessionID an upstream sign-in is recorded under (UpstreamSession) while it
// waits at the second-factor step without a session; key names the wait (the step's challenge).
// An upstream back-channel logout then finds it and ends the wait (IsHeldSignIn), and the step,
// once passed, moves the record to the session it opens (MoveUpstreamSession).
func HeldSignIn(key string) string { return heldPrefix + key }

// IsHeldSignIn reports whether an upstream record's SessionID is a held sign-in's.
func IsHeldSignIn(sessionID string) bool { return strings.HasPrefix(sessionID, heldPrefix) }

// UpstreamStore keeps links to upstream identities, pending upstream sign-ins and the bridge
// sessions they started. Every transition of a pending sign-in is a compare-and-set.
type UpstreamStore interface {
	// CreateUpstreamLogin stores a new pending sign-in (State must be UpstreamStarted);
	// sso.ErrConflict when the id exists.
	CreateUpstreamLogin(ctx context.Context, l *UpstreamLogin) error
	// UpstreamLogin returns a pending sign-in; sso.ErrNotFound when unknown or expired.
	UpstreamLogin(ctx context.Context, id string) (*UpstreamLogin, error)
	// AdvanceUpstreamLogin moves the sign-in id from state from to next.State, once, recording
	// next's upstream identity (Issuer, UpstreamSubject, Email, UpstreamSID) when next.State is
	// UpstreamReturned. sso.ErrConflict when the sign-in is not in from (replayed or raced);
	// sso.ErrNotFound when unknown or expired.
	AdvanceUpstreamLogin(ctx context.Context, id, from string, next *UpstreamLogin) error

	// PutUpstreamLink stores a new link; sso.ErrConflict when the upstream identity is linked
	// already (to anyone: an identity is linked to one member only).
	PutUpstreamLink(ctx context.Context, l *UpstreamLink) error
	// UpstreamLink returns the link of an upstream identity; sso.ErrNotFound when none.
	UpstreamLink(ctx context.Context, issuer, upstreamSubject string) (*UpstreamLink, error)
	// UpstreamLinks lists a member's links, oldest first.
	UpstreamLinks(ctx context.Context, subject string) ([]*UpstreamLink, error)
	// DeleteUpstreamLink removes a link of the member subject; sso.ErrNotFound when the member
	// has no such link.
	DeleteUpstreamLink(ctx context.Context, subject, issuer, upstreamSubject string) error

	// PutUpstreamSession records which upstream sign-in started a bridge session.
	PutUpstreamSession(ctx context.Context, s *UpstreamSession) error
	// UpstreamSession returns the upstream sign-in behind a bridge session (also after the
	// session ended, until the record expires); sso.ErrNotFound when none.
	UpstreamSession(ctx context.Context, sessionID string) (*UpstreamSession, error)
	// MoveUpstreamSession re-records the upstream sign-in recorded under from (a held sign-in,
	// HeldSignIn) under the bridge session to, until expires, in one compare-and-set;
	// sso.ErrNotFound when nothing is recorded under from (an upstream logout took it).
	MoveUpstreamSession(ctx context.Context, from, to string, expires time.Time) error
	// DeleteUpstreamSession forgets the record of sessionID; sso.ErrNotFound when there is none.
	DeleteUpstreamSession(ctx context.Context, sessionID string) error
	// UpstreamSessions lists the ids of the unexpired bridge sessions started by the upstream
	// identity (issuer, upstreamSubject), only those of the upstream session sid when sid is not
	// empty; with upstreamSubject empty, those of sid whoever they are.
	UpstreamSessions(ctx context.Context, issuer, upstreamSubject, sid string) ([]string, error)
}
