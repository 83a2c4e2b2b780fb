package provisioning_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// scriptedDecider answers each client from a table; a client not in it is allowed.
type scriptedDecider map[string]access.Decision

func (d scriptedDecider) Decide(_ context.Context, _ *legacy.Member, _, clientID string, _ time.Time) access.Decision {
	if dec, ok := d[clientID]; ok {
		return dec
	}
	return access.Decision{Rule: access.Allow, Reason: access.ReasonOK}
}

var (
	ruleError = access.Decision{Rule: access.AccessRule, Reason: access.ReasonRuleError, Cause: errors.New("no such attribute")}
	lapsed    = access.Decision{Rule: access.Standing, Reason: "disabled", Cause: legacy.ErrDisabled}
	notAdmit  = access.Decision{Rule: access.AccessRule, Reason: access.ReasonAccessRule}
)

// TestOneAppsBrokenRuleHoldsNothingBack: an app whose access rule (or claim policy) cannot be
// evaluated used to stop a member's sync where it stood. A member who may sign in nowhere kept
// every session and grant (the one-transaction deactivation failed on that app's update), and a
// member refused at another app kept their account there if the broken app came first. Now the
// deactivation goes through (the broken app's user deactivated with the state it was last
// sent) and the other apps are synced; the broken app's own update is still held back (its
// rule fails closed) and the sync answers an error so that it runs again.
func TestOneAppsBrokenRuleHoldsNothingBack(t *testing.T) {
	hook := func(name string) provisioning.Target {
		return provisioning.Target{Settings: &webhook.Config{URL: "https://" + name + ".example.org/hook", Secret: webhookSecret}}
	}
	for _, tc := range []struct {
		name      string
		decisions scriptedDecider
		broken    provisioning.ViewFunc // the claim policy, nil: every claim
		// want: each app's user active after the sync; sessionLive: alice's session.
		want        map[string]bool
		sessionLive bool
		wantErr     bool
	}{
		{name: "member may sign in nowhere, one app's rule errors",
			decisions: scriptedDecider{access.AnyClient: lapsed, "a-broken": ruleError, "b-fine": lapsed},
			want:      map[string]bool{"a-broken": false, "b-fine": false}},
		{name: "member may sign in nowhere, one app's claim policy errors",
			decisions: scriptedDecider{access.AnyClient: lapsed},
			broken: func(ctx context.Context, m *legacy.Member, sub, client string, now time.Time) (map[string]any, error) {
				if client == "a-broken" {
					return nil, errors.New("claim policy: no such attribute")
				}
				return viewer(ctx, m, sub, client, now)
			},
			want: map[string]bool{"a-broken": false, "b-fine": false}},
		{name: "one app's rule errors, another refuses the member",
			decisions: scriptedDecider{"a-broken": ruleError, "b-fine": notAdmit},
			want:      map[string]bool{"a-broken": true, "b-fine": false}, sessionLive: true, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]provisioning.Target{"a-broken": hook("a"), "b-fine": hook("b")},
				clients{"a-broken": {ID: "a-broken"}, "b-fine": {ID: "b-fine"}})
			ctx := t.Context()
			for _, c := range []string{"a-broken", "b-fine"} {
				if err := f.svc.Provision(ctx, c, aliceSub, nil); err != nil {
					t.Fatal(err)
				}
			}
			h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
			sess := h.CreateSession(aliceSub, "a-broken", "b-fine")

			o := f.opts
			o.Access = tc.decisions
			if tc.broken != nil {
				o.Viewer = tc.broken
			}
			f.opts = o
			f.start()
			m, err := f.dir.MemberByLogin(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			err = f.svc.Sync(ctx, m)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Sync: %v, want an error: %v", err, tc.wantErr)
			}
			if tc.wantErr && !strings.Contains(err.Error(), "a-broken") {
				t.Fatalf("Sync's error does not name the broken app: %v", err)
			}
			for c, want := range tc.want {
				su, err := f.st.ShadowUser(ctx, c, aliceSub)
				if err != nil {
					t.Fatal(err)
				}
				if su.Active != want {
					t.Errorf("%s: active %v, want %v", c, su.Active, want)
				}
			}
			_, err = f.st.Session(ctx, sess.ID)
			if live := err == nil; live != tc.sessionLive {
				t.Errorf("session live %v (%v), want %v", live, err, tc.sessionLive)
			}
			if !tc.sessionLive && !errors.Is(err, sso.ErrNotFound) {
				t.Errorf("session read: %v", err)
			}
		})
	}
}
