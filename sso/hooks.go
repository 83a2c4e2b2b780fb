package sso

import (
	"context"
	"errors"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// ClaimTarget says where claims go: each client's policy may differ per target.
type ClaimTarget string

const (
	TargetIDToken     ClaimTarget = "id_token"
	TargetUserinfo    ClaimTarget = "userinfo"
	TargetAccessToken ClaimTarget = "access_token"
)

// ErrAccessDenied is returned by Hooks.CheckGrant when a member may no longer use a client
// (locked out, lapsed for a members-only app, deleted...). Wrap it with the reason.
var ErrAccessDenied = errors.New("sso: access denied")

// ErrTemporarilyUnavailable is wrapped by a Hooks error (Claims, ClaimWriter, CheckGrant,
// SignInChecker...) when the system the hooks read (the bridge's AMS) could not be reached or
// could not answer, so that nothing was decided about the member: the token, introspection and
// userinfo endpoints answer 503 temporarily_unavailable with a Retry-After, as for the store's
// own outage (ErrUnavailable), instead of a 500, and the client keeps its token and tries again.
// sso cannot know the product's errors (legacy.ErrUnavailable): the hooks wrap theirs with it.
var ErrTemporarilyUnavailable = errors.New("sso: temporarily unavailable")

// ErrAccessRuleFault is wrapped by a Hooks.CheckGrant error when the member could not be
// decided because the client's access rule (the operator's configuration) failed to
// evaluate: the system the hooks read answered, so it is neither an outage nor a verdict on
// the member. The token endpoint audits it (access.rule_error) and answers 500 server_error
// "the app's access rule could not be evaluated" without a Retry-After (only the operator can
// mend it), and the grant stays valid: the refresh token's family is kept, a device keeps
// polling (RFC 6749 5.2 drops no grant for a server error).
var ErrAccessRuleFault = errors.New("sso: the app's access rule could not be evaluated")

// Hooks is what the provider asks of the product around it (the bridge).
type Hooks interface {
	// Claims returns the claims of subject for client and the granted scopes, for target.
	// It must never return claims of scopes that were not granted. The map is the caller's: the
	// provider may change it.
	Claims(ctx context.Context, subject, clientID string, scopes []string, target ClaimTarget) (map[string]any, error)
	// CheckGrant re-checks, without a fresh sign-in (refresh grant), that the member may still
	// use the client. It returns an error wrapping ErrAccessDenied to refuse.
	CheckGrant(ctx context.Context, subject, clientID string) error
	// EndSession is called by end_session after op validated the request (the redirect is a
	// registered post_logout_redirect_uri with state appended, or the default); it returns
	// where to send the browser (the bridge's logout page).
	EndSession(ctx context.Context, req *op.EndSessionRequest) (string, error)
	// Event records an audit event (token reuse, revocations...). Detail holds no secrets.
	Event(ctx context.Context, event, subject, clientID, detail string)
}

// ClaimWriter is an optional capability of Hooks: Claims written one at a time into sink, which
// the provider copies into its userinfo value (the ID token's and userinfo's claims), instead of
// a map made for the call whose string values are each boxed on the heap. What it writes must
// be what Claims returns for the same arguments.
type ClaimWriter interface {
	WriteClaims(ctx context.Context, subject, clientID string, scopes []string, target ClaimTarget, sink *ClaimSink) error
}

// SignInChecker is an optional capability of Hooks. CheckSignIn re-checks, for a grant issued
// without a fresh sign-in (the refresh grant, the device grant's poll), that the sign-in it
// was granted on (its auth_time and amr) still meets what the member and the client require
// now: a second factor an administrator has required since (the client's mfa setting, a
// role), a password changed since. It returns a *SignInAgainError to refuse (invalid_grant:
// the client must send the member through a fresh sign-in); any other error is a server error
// and the grant stays valid.
type SignInChecker interface {
	CheckSignIn(ctx context.Context, subject, clientID string, authTime time.Time, amr []string) error
}

// SignInAgainError refuses a grant whose sign-in no longer meets the policy (SignInChecker).
// Reason is the invalid_grant's error_description and the audit event's detail: say what
// changed, never anything secret.
type SignInAgainError struct{ Reason string }

func (e *SignInAgainError) Error() string { return "sso: sign in again: " + e.Reason }
