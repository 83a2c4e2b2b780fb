package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// canonicalLogin is the form under which a typed login is throttled and hashed: NFKC (full-
// and half-width letters alike, as SQL Server's collations treat them) and Unicode case folding.
func canonicalLogin(login string) string {
	return cases.Fold().String(norm.NFKC.String(strings.TrimSpace(login)))
}

// loginUsable reports whether a typed login has no invisible code points: format characters
// (soft hyphen, zero-width joiners, bidi marks...), other default-ignorable code points,
// variation selectors and controls. SQL Server ignores some of them when comparing, so they
// would make one account many throttle keys; no real login has them.
func loginUsable(login string) bool {
	for _, r := range login {
		if unicode.In(r, unicode.Cf, unicode.Cc, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector) ||
			r == '\u115F' || r == '\u1160' || r == '\u3164' || r == '\uFFA0' || r == '\u034F' {
			return false
		}
	}
	return true
}

// authenticate checks a typed login and password against the AMS; a login with invisible code
// points is refused as bad credentials without asking the AMS.
func (s *Server) authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	if !loginUsable(login) {
		return nil, fmt.Errorf("%w: login has invisible characters", legacy.ErrBadCredentials)
	}
	return s.dir.Authenticate(ctx, login, password)
}

// loginHash is what the audit log keeps of a typed login that failed to sign in: a keyed hash
// of its canonical form (the typed text may be a password typed in the wrong field).
func (s *Server) loginHash(login string) string {
	m := hmac.New(sha256.New, s.auditKey)
	m.Write([]byte("audit-login:" + canonicalLogin(login)))
	return "hmac:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// failedSignIn records a failed password check: the throttle counts it against the member the
// login resolves to as well as the typed login (so variants of one login share a limit), and
// the audit row has the login's keyed hash and the member's subject when resolved. It returns
// how long the member's counter refused this attempt (0: not) when Check did not know the
// member behind this login yet (memberChecked false).
func (s *Server) failedSignIn(ctx context.Context, login, clientID, ip, detail string, err error, memberChecked bool) time.Duration {
	ev := &store.AuditEvent{Event: "login.failure", Login: s.loginHash(login), ClientID: clientID, IP: ip, Detail: detail}
	var retryAfter time.Duration
	if !errors.Is(err, legacy.ErrUnavailable) && loginUsable(login) {
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
