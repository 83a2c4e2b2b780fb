package admin_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
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
