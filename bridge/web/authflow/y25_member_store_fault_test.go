package authflow

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// y25Subjects is a SubjectStore whose SubjectByID answers err (the subject is not in the
// mapper's memory: a restart, another replica, the cache's flush at 100 000 entries).
type y25Subjects struct{ err error }

func (s y25Subjects) PutSubject(context.Context, *store.Subject) error { return nil }
func (s y25Subjects) SubjectByID(context.Context, string) (*store.Subject, error) {
	return nil, s.err
}
func (s y25Subjects) SubjectByMemberKey(context.Context, string) (*store.Subject, error) {
	return nil, s.err
}

// Review s25 Y-2 (Medium): Handler.Member wraps EVERY error of Subjects.MemberKey as
// sso.ErrAccessDenied ("the member may no longer sign in"), a store fault included. Its callers
// act on that denial as final: the login page (sessionMember) and the account page end the
// member's session and queue back-channel logouts to every app of it; the consent POST answers
// the app access_denied "the member may not use this app" (a device's authorization is
// denied); SAML's continue link ends the session. So a store read that fails once (a busy
// SQLite, a PostgreSQL failover, a slow query cut by its deadline) for a member whose subject
// is not in the mapper's memory signs the member out of everything, for a server fault. Only
// sso.ErrNotFound (no such subject) is the member's; any other error must be passed on as a
// server error (the callers then render MembershipUnavailable / 5xx and change nothing).
// Fails on main: the store fault is reported as access denied.
func TestY25MemberStoreFaultIsNotAccessDenied(t *testing.T) {
	for _, tc := range []struct {
		name       string
		storeErr   error
		wantDenied bool
	}{
		{"subject unknown to the store", fmt.Errorf("subject: %w", sso.ErrNotFound), true},
		{"store read fault", errors.New("database is locked"), false},
		{"store unavailable", fmt.Errorf("read subject: %w", sso.ErrUnavailable), false},
		{"deadline of the store's query", context.DeadlineExceeded, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &Handler{Subjects: identity.NewSubjectMapper(make([]byte, 32), y25Subjects{err: tc.storeErr})}
			m, err := h.Member(context.Background(), &sso.Session{Subject: "0123456789abcdef0123456789abcdef01234567"})
			if m != nil || err == nil {
				t.Fatalf("Member: %v %v, want an error", m, err)
			}
			if denied := errors.Is(err, sso.ErrAccessDenied); denied != tc.wantDenied {
				t.Errorf("Member's error %q: access denied %v, want %v (a store fault is the server's, never the member's refusal)",
					err, denied, tc.wantDenied)
			}
		})
	}
}
