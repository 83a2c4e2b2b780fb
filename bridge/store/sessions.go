package store

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// SessionReauth is a live SSO session signed in again by its own member in the same browser: a
// fresh sign-in that an app asked for (prompt=login, max_age, a SAML SP's ForceAuthn, an
// upstream provider's re-authentication). The session is kept, so its id, and the sid its apps
// were given, stay what they were (a later sign-out still reaches every app with the sid it
// knows), and no app is signed out; its auth time, amr and lifetime become the new sign-in's,
// and the browser gets a new cookie value (no session fixation: OWASP ASVS 3.2.1), after which
// the old one finds nothing.
type SessionReauth struct {
	// SessionID is the session's stored id (sso.Session.ID) and Subject its member.
	SessionID, Subject string
	// CookieKey is the key of the cookie value the browser presented (the compare-and-set: the
	// sign-in applies only while that value is still the session's, so of two tabs signing in
	// again at once one applies), NewCookieKey the key of the value that replaces it.
	CookieKey, NewCookieKey string
	// AuthTime and AMR are the new sign-in's; ExpiresAt the session's new end (never earlier
	// than it was). The session's upstream record and SAML participants live as long.
	AuthTime  time.Time
	AMR       []string
	ExpiresAt time.Time
}

// SessionStore finds sessions by their browser's cookie and signs them in again.
type SessionStore interface {
	// SessionByCookie returns the live session that the cookie value of key (the hash the
	// store keeps) opens: the session stored under key that was never signed in again, or the
	// session key is the NewCookieKey of. sso.ErrNotFound when there is none (unknown, ended,
	// expired, or a cookie value replaced by a re-authentication).
	SessionByCookie(ctx context.Context, key string) (*sso.Session, error)
	// ReauthenticateSession applies r in one compare-and-set: the session must be live, be
	// r.Subject's and be opened by r.CookieKey. sso.ErrConflict when it is live but not so (a
	// concurrent re-authentication replaced the cookie value first, or another member's),
	// sso.ErrNotFound when it is not live; nothing is written then.
	ReauthenticateSession(ctx context.Context, r *SessionReauth) error
	// LeaveClient takes clientID out of the client list of every live session of subject: the
	// member signed out of that app on all their devices (the account page), so none of their
	// sessions is signed into it any more; a later sign-in there adds it again
	// (AddSessionClient). It returns how many sessions it was taken out of. Ended sessions
	// keep their lists.
	LeaveClient(ctx context.Context, subject, clientID string) (int, error)
	// SignOutOfClient is "Sign out of <app> on all your devices" in one transaction:
	// LeaveClient(subject, clientID) and sso.TokenStore.RevokeGrants(subject, clientID) (the
	// member's families at the client, their approved device authorizations and unexchanged
	// codes there) commit together or not at all, so that a failure cannot leave the app
	// unlisted by every session (no "Sign out of <app>" offered again) while its grants live
	// on, and a sign-in into the app committing meanwhile is either taken out and closed or
	// kept, listed, with its grant. It returns how many sessions the client was taken out of
	// and how many live families with a refresh token it revoked (session 23, left by s22 H3).
	SignOutOfClient(ctx context.Context, subject, clientID string) (left, families int, err error)
}
