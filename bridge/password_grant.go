package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// The legacy resource owner password grant (grant_type=password). sso runs the grant only for
// confidential clients that list "password" in their grant_types; the member check is the
// login page's (signin.Checker: the same throttle, the AMS password check with its status
// rules, the same audit events, detail saying grant=password).

// passwordGrant checks a login and password for the password grant (hooks.Hooks.Password:
// sso.PasswordAuthenticator). Every field is required.
type passwordGrant struct {
	signIn   *signin.Checker
	subjects interface {
		Remember(ctx context.Context, memberKey, login string, now time.Time) (string, error)
	}
	audit func(context.Context, *store.AuditEvent)
	// secondFactor reports whether the member must use a second factor at this client, which
	// this grant cannot ask for, in a sign-in with methods amr (mfa.Service.Needed).
	secondFactor func(ctx context.Context, clientID, subject string, m *legacy.Member, amr []string) (bool, error)
	clientIP     func(*http.Request) string
	now          func() time.Time
}

// check is hooks.Hooks.Password.
func (g passwordGrant) check(r *http.Request, clientID, login, password string) (string, []string, error) {
	ctx := r.Context()
	ip := g.clientIP(r)
	m, err := g.signIn.Check(ctx, signin.Attempt{Login: login, Password: password, ClientID: clientID, IP: ip, Method: signin.MethodPasswordGrant,
		Detail: "grant=password", CheckAccess: true})
	var throttled *signin.ThrottledError
	switch {
	case errors.As(err, &throttled):
		return "", nil, &sso.GrantError{Code: "invalid_grant", RetryAfter: throttled.RetryAfter,
			Description: "too many failed sign-in attempts; try again later", Err: errors.New("throttled")}
	case errors.Is(err, legacy.ErrUnavailable):
		desc := "the membership system cannot be reached; try again in a few minutes"
		if errors.Is(err, throttle.ErrUnavailable) {
			desc = "sign-in cannot be checked right now; try again in a few minutes"
		}
		return "", nil, &sso.GrantError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
			Description: desc, RetryAfter: 30 * time.Second, Err: err}
	case err != nil && ctx.Err() != nil:
		return "", nil, fmt.Errorf("password grant: %w", err)
	case err != nil:
		// Like the login page: a status message only once the password was right.
		return "", nil, &sso.GrantError{Code: "invalid_grant", Description: signin.Message(err), Err: err}
	}
	sub, err := g.subjects.Remember(ctx, m.Key, m.Login, g.now())
	if err != nil {
		return "", nil, fmt.Errorf("password grant: %w", err)
	}
	amr := []string{"pwd"}
	if need, err := g.secondFactor(ctx, clientID, sub, m, amr); err != nil {
		return "", nil, fmt.Errorf("password grant: %w", err)
	} else if need {
		g.audit(ctx, &store.AuditEvent{Event: "login.failure", Subject: sub, Login: m.Login, ClientID: clientID, IP: ip,
			Detail: "second factor required grant=password"})
		return "", nil, &sso.GrantError{Code: "invalid_grant",
			Description: "a second factor is required for this member or app: sign in through the browser", Err: errors.New("second factor required")}
	}
	g.audit(ctx, &store.AuditEvent{Event: "login.success", Subject: sub, Login: m.Login, ClientID: clientID, IP: ip, Detail: "pwd grant=password"})
	return sub, amr, nil
}
