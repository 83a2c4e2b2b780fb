package admin_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestAMSLookupAuditsWhose (review s16 X): the console's AMS test with a login and `legacy check
// --login` run every configured query for that member and show what the bridge sees of them
// (an administrator's look at one member's record, like a claims preview). The audit row must
// say whose record was looked at, as admin.claims_preview does (its Login); before, it said
// "3 step(s), 1 failed" or "login check" and nothing about the member. A test without a login
// names nobody.
func TestAMSLookupAuditsWhose(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	fake := amsFake{}
	f.svc.AMS = admin.AMSChecks{Ping: fake, Diagnoser: fake, Token: fake}
	f.svc.TestAMS(ctx, "tester", " alice ")
	if err := f.svc.CheckLogin(ctx, "tester", "bob", &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	f.svc.TestAMS(ctx, "tester", "")
	if len(f.audit) != 3 {
		t.Fatalf("audit %+v", f.audit)
	}
	for i, want := range []string{"alice", "bob", ""} {
		ev := f.audit[i]
		if ev.Login != want || !strings.Contains(ev.Detail, "tester") {
			t.Errorf("%s: login %q (detail %q), want the member looked at, %q, and the actor", ev.Event, ev.Login, ev.Detail, want)
		}
	}
}

// revokeFails fails RevokeGrants; endFailsAfter fails the n+1st call of EndSession.
type revokeFails struct{ admin.Store }

func (s revokeFails) RevokeGrants(context.Context, string, string) (int, error) {
	return 0, errors.New("database is locked")
}

type endFailsAfter struct {
	*ender
	n *int
}

func (e endFailsAfter) EndSession(ctx context.Context, s *sso.Session) error {
	if *e.n == 0 {
		return errors.New("database is locked")
	}
	*e.n--
	return e.ender.EndSession(ctx, s)
}

// TestPartialRevocationAudited (review s16 X): an administrator's revocation of a client's
// grants that fails is audited with the failure (it is one statement since X16-3: nothing or
// everything is revoked), and an ending of a member's sessions that fails halfway has done part
// of its work (sessions ended and their apps told): the audit row must say so, with the count
// done. Before, RevokeTokens returned before its a.record, and EndSessions returned 0 and no row.
func TestPartialRevocationAudited(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.svc.Store = revokeFails{f.st}
	n, err := f.svc.RevokeTokens(ctx, "tester", admin.Filter{Client: "web"})
	if err == nil || n != 0 {
		t.Fatalf("revoke with the store failing: %d %v, want 0 and the error", n, err)
	}
	f2 := newFixture(t)
	one := 1
	f2.svc.SessionEnder = endFailsAfter{f2.ender, &one}
	n2, err2 := f2.svc.EndSessions(ctx, "tester", admin.Filter{Login: "alice"}) // s1 and s2
	if err2 == nil || n2 != 1 {
		t.Errorf("end sessions with the second failing: %d %v, want 1 and the error", n2, err2)
	}
	for _, c := range []struct {
		f     *fixture
		event string
		want  string
	}{{f, "admin.tokens_revoke", "failed"}, {f2, "admin.sessions_revoke", "(1 of 2"}} {
		var row *store.AuditEvent
		for _, ev := range c.f.audit {
			if ev.Event == c.event {
				row = ev
			}
		}
		if row == nil || !strings.Contains(row.Detail, c.want) || !strings.Contains(row.Detail, "database is locked") {
			t.Errorf("%s: audit row %+v, want one saying 1 done and the failure", c.event, row)
		}
	}
}
