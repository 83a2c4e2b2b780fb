package bridge

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// The legacy resource owner password grant (grant_type=password). sso runs the grant only for
// confidential clients that list "password" in their grant_types; the member check here is the
// login page's: the same throttle, the AMS password check with its status rules, the same
// audit events (detail says grant=password).

// passwordGrant checks a login and password for the password grant (hooks.Hooks.Password:
// sso.PasswordAuthenticator).
func (s *Server) passwordGrant(r *http.Request, clientID, login, password string) (string, []string, error) {
	ctx := r.Context()
	ip := s.clientIP(r)
	delay, retryAfter := s.throttle.Check(login, ip)
	if retryAfter > 0 {
		s.auditAnonymous(ctx, &store.AuditEvent{Event: "login.throttled", Login: s.loginHash(login), ClientID: clientID, IP: ip, Detail: "grant=password"})
		return "", nil, &sso.GrantError{Code: "invalid_grant", RetryAfter: retryAfter,
			Description: "too many failed sign-in attempts; try again later", Err: errors.New("throttled")}
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return "", nil, fmt.Errorf("password grant: %w", ctx.Err())
		}
	}
	memberChecked := s.throttle.KnowsMember(login)
	m, err := s.authenticate(ctx, login, password)
	memberWait := time.Duration(0)
	if err == nil {
		if !memberChecked {
			memberWait = s.throttle.MemberRetryAfter(m.Key)
		}
		if memberWait > 0 {
			err = legacy.ErrBadCredentials // as after a wrong password: nothing said about it
		} else if d := s.access.Decide(ctx, m, "", access.AnyClient, s.now()); !d.Allowed() {
			err = d.Cause // the standing's sentinel: its reason and message, as on the login page
		}
	}
	if err != nil {
		reason := legacy.Reason(err)
		unavailable := errors.Is(err, legacy.ErrUnavailable)
		if unavailable {
			s.throttle.Release(login, ip) // not the member's failure
			s.log.ErrorContext(ctx, "membership system unavailable", "err", err)
		}
		if wait := max(memberWait, s.failedSignIn(ctx, login, clientID, ip, reason+" grant=password", err, memberChecked || memberWait > 0)); wait > 0 {
			return "", nil, &sso.GrantError{Code: "invalid_grant", RetryAfter: wait,
				Description: "too many failed sign-in attempts; try again later", Err: errors.New("throttled")}
		}
		if unavailable {
			return "", nil, &sso.GrantError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
				Description: "the membership system cannot be reached; try again in a few minutes", RetryAfter: 30 * time.Second, Err: err}
		}
		// Like the login page: a status message only once the password was right.
		return "", nil, &sso.GrantError{Code: "invalid_grant", Description: authflow.LoginMessage(err), Err: err}
	}
	s.throttle.Succeed(login, ip)
	sub, err := s.subjects.Remember(ctx, m.Key, m.Login, s.now())
	if err != nil {
		return "", nil, fmt.Errorf("password grant: %w", err)
	}
	s.audit(ctx, &store.AuditEvent{Event: "login.success", Subject: sub, Login: m.Login, ClientID: clientID, IP: ip, Detail: "pwd grant=password"})
	return sub, []string{"pwd"}, nil
}
