package store

import (
	"context"
	"time"
)

// ConsoleSession is an administrator signed in to the admin console, kept server-side so that
// signing out, an administrator ending their sessions, a reset of their second factors or a
// change of their AMS password ends it everywhere, whatever copies of its cookie exist. The
// cookie carries only a random id; the store keeps its hash.
type ConsoleSession struct {
	// IDHash is the SHA-256 of the cookie's random id (sso.HashToken).
	IDHash  string
	Subject string
	Login   string
	// BridgeSession is the id (sso.Session.ID) of the bridge session the console was signed
	// in with: the console session belongs to it, and ends, in the same store transition,
	// whenever that session ends (signed out at the bridge, ended by an administrator, the
	// member deactivated...). Empty: tied to no bridge session (the console always sets it).
	BridgeSession string
	// CSRF is the token every console form carries.
	CSRF string
	// AuthTime and AMR are the bridge sign-in's (the ID token's auth_time and amr): a
	// session opened with the AMS password ends when the AMS records a change after AuthTime.
	AuthTime time.Time
	AMR      []string
	// MFA says that the sign-in used a second factor.
	MFA       bool
	CreatedAt time.Time
	// SeenAt is the last request's time, written at most once a minute (idle timeout);
	// CheckedAt is when the administrator's AMS roles and standing were last read.
	SeenAt    time.Time
	CheckedAt time.Time
	// ExpiresAt is the longest the session lasts, however active.
	ExpiresAt time.Time
	// EndedAt is when it was ended (zero while live); EndReason says why ("signed out",
	// "sessions ended", "second factors reset", "password changed", "no console role").
	EndedAt   time.Time
	EndReason string
}

// Live reports whether the session is neither ended nor expired at now.
func (s *ConsoleSession) Live(now time.Time) bool {
	return s.EndedAt.IsZero() && now.Before(s.ExpiresAt)
}

// EndBridgeSessionEnded is the EndReason of a console session ended because the bridge
// session it was signed in with ended.
const EndBridgeSessionEnded = "bridge session ended"

// A console session ended because its bridge session ended is audited by the store, in the
// transaction that ends both, as the console audits the sessions it ends itself: event
// EventConsoleSessionEnded, the console's client id (ConsoleClientID), the administrator's
// subject and login, detail EndBridgeSessionEnded.
const (
	EventConsoleSessionEnded = "console.session_ended"
	ConsoleClientID          = "ssobridge-console"
)

// ConsoleSessionStore keeps the admin console's sessions. Every change is a compare-and-set
// on a live session (not ended, not expired): a session once ended never comes back.
type ConsoleSessionStore interface {
	// CreateConsoleSession stores a new session; sso.ErrConflict when its id hash exists.
	// With BridgeSession set it is a compare-and-set on that bridge session: the console
	// session is stored only while the bridge session is live (not ended, not expired at
	// CreatedAt), sso.ErrNotFound otherwise, and every way a bridge session ends
	// (sso.SessionStore.EndSession, EndSubjectSessions, EndSessionWithEvents, Deactivate,
	// ResetFactorsAndDeactivate) ends its live console sessions in the same transaction
	// (EndReason EndBridgeSessionEnded).
	CreateConsoleSession(ctx context.Context, s *ConsoleSession) error
	// ConsoleSession returns a session by id hash, live or ended; sso.ErrNotFound when
	// unknown or purged.
	ConsoleSession(ctx context.Context, idHash string) (*ConsoleSession, error)
	// TouchConsoleSession sets a live session's SeenAt and CheckedAt (each only forward);
	// sso.ErrNotFound when the session is unknown, ended or expired at seen.
	TouchConsoleSession(ctx context.Context, idHash string, seen, checked time.Time) error
	// EndConsoleSession ends one live session at at, for reason; sso.ErrNotFound when it is
	// unknown, already ended or expired (the first end wins).
	EndConsoleSession(ctx context.Context, idHash string, at time.Time, reason string) error
	// EndConsoleSessions ends every live session of subject at at, for reason, and returns
	// how many it ended.
	EndConsoleSessions(ctx context.Context, subject string, at time.Time, reason string) (int, error)
	// Purge (sso.Store) deletes console sessions expired before now, ended or not.
}
