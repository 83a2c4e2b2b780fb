package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// authenticate checks a typed login and password against the AMS; a login with invisible code
// points is refused as bad credentials without asking the AMS.
func (s *Server) authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	if !identity.LoginUsable(login) {
		return nil, fmt.Errorf("%w: login has invisible characters", legacy.ErrBadCredentials)
	}
	return s.dir.Authenticate(ctx, login, password)
}

// loginHash is what the audit log keeps of a typed login that failed to sign in: a keyed hash
// of its canonical form (the typed text may be a password typed in the wrong field).
func (s *Server) loginHash(login string) string { return s.logins.Hash(login) }

// failedSignIn records a failed password check: the throttle counts it against the member the
// login resolves to as well as the typed login (so variants of one login share a limit), and
// the audit row has the login's keyed hash and the member's subject when resolved. It returns
// how long the member's counter refused this attempt (0: not) when Check did not know the
// member behind this login yet (memberChecked false).
func (s *Server) failedSignIn(ctx context.Context, login, clientID, ip, detail string, err error, memberChecked bool) time.Duration {
	ev := &store.AuditEvent{Event: "login.failure", Login: s.loginHash(login), ClientID: clientID, IP: ip, Detail: detail}
	var retryAfter time.Duration
	if !errors.Is(err, legacy.ErrUnavailable) && identity.LoginUsable(login) {
		if m, merr := s.dir.MemberByLogin(ctx, login); merr == nil {
			if !memberChecked {
				retryAfter = s.throttle.MemberRetryAfter(m.Key)
			}
			s.throttle.FailMember(login, m.Key)
			ev.Subject = s.subjects.Subject(m.Key)
		}
	}
	s.auditAnonymous(ctx, ev)
	return retryAfter
}
