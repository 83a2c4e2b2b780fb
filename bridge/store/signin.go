package store

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// SignIn is what a finished password sign-in writes at once: its new SSO session, the
// login.success audit row, and the auth request it answers moved from pending to completed.
type SignIn struct {
	// Session is the new SSO session (without clients: RequestClient is recorded once the
	// request is completed).
	Session *sso.Session
	// Audit is the sign-in's audit row (nil: none); its ID and Time are set once written.
	Audit *AuditEvent
	// RequestID is the auth request to complete with Completion (the compare-and-set of
	// sso.AuthRequestStore.CompleteAuthRequest), and RequestClient its client.
	RequestID     string
	Completion    sso.Completion
	RequestClient string
	// CodeHash, when not empty, is the hash of the authorization code issued with the
	// completion (sso.Provider.NewCode), and CodeExpires its expiry: the statement that
	// completes the request attaches it (SaveCode's transition, in the same write), so the
	// request is completed with its code or not at all.
	CodeHash    string
	CodeExpires time.Time
	// Reauth, when set, says that Session is the browser's live session signed in again by its
	// member (SessionStore.ReauthenticateSession) rather than a new one: it is applied by the
	// same compare-and-set in the transaction instead of the insert, and the transaction is all
	// or nothing: a failed compare-and-set (sso.ErrConflict, whether the session was signed in
	// again first or ended) and a request that is no longer pending (its error, as above) write
	// nothing, and the session stays as it was, its cookie value too.
	Reauth *SessionReauth
}

// SignInStore writes a sign-in in one transaction instead of four (CreateSession, Audit,
// CompleteAuthRequest, AddSessionClient).
type SignInStore interface {
	// CompleteSignIn writes in.Session and in.Audit, moves the request in.RequestID from pending
	// to completed with in.Completion exactly as CompleteAuthRequest does, and records
	// in.RequestClient on the session, in one transaction. When the request is no longer
	// pending (sso.ErrAuthRequestUsed), is bound to another browser (sso.ErrAuthRequestElsewhere)
	// or is unknown or expired (sso.ErrNotFound), nothing of it changes, the session (with no
	// client) and the audit row are written all the same (as the four writes did), and that
	// error is returned, and no code is attached. Any other error (a code hash already in
	// use among them) writes nothing.
	CompleteSignIn(ctx context.Context, in *SignIn) error
	// ClaimAuthRequest binds a pending request that no browser has claimed yet to browser and
	// returns it as now stored, in one write: the login page's read and BindAuthRequest (the
	// same compare-and-set: pending, unbound, not expired). It returns nil and no error when it
	// bound nothing (the request is bound already, finished, expired or unknown): the caller
	// then reads the request to learn which.
	ClaimAuthRequest(ctx context.Context, id, browser string) (*sso.AuthRequest, error)
}
