package provisioning_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestClaimPolicyFailureLogQuotesNoValue (session 28, P; the s27 F leftover): when a member who
// may sign in nowhere is deactivated and one app's claim policy fails, the warning logged its
// error's text, which can quote a claim's value (CEL: "no such key: <value>", "<value> is not a
// JSON number"). It now says the class, the app and the subject, and the deactivation still
// goes through.
func TestClaimPolicyFailureLogQuotesNoValue(t *testing.T) {
	const secret = "alice-private-4711" // a claim value the policy's error quotes
	for _, tc := range []struct {
		name  string
		err   error
		class string
	}{
		{"policy error", fmt.Errorf("claim policy: no such key: %s", secret), "policy_error"},
		{"AMS unavailable", legacy.Unavailable("roles_by_key", fmt.Errorf("%s is locked", secret)), "ams_unavailable"},
		{"timeout", fmt.Errorf("claim %s: %w", secret, context.DeadlineExceeded), "timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, map[string]provisioning.Target{"a-broken": {Settings: &webhook.Config{URL: "https://a.example.org/hook", Secret: webhookSecret}}},
				clients{"a-broken": {ID: "a-broken"}})
			ctx := t.Context()
			if err := f.svc.Provision(ctx, "a-broken", aliceSub, nil); err != nil {
				t.Fatal(err)
			}
			var out lockedLog
			f.opts.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
			f.opts.Access = scriptedDecider{access.AnyClient: lapsed}
			f.opts.Viewer = provisioning.ViewFunc(func(context.Context, *legacy.Member, string, string, time.Time) (map[string]any, error) {
				return nil, tc.err
			})
			f.start()
			m, err := f.dir.MemberByLogin(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if err := f.svc.Sync(ctx, m); err != nil {
				t.Fatalf("Sync: %v", err)
			}
			if su, err := f.st.ShadowUser(ctx, "a-broken", aliceSub); err != nil || su.Active {
				t.Fatalf("a-broken's user: %+v, %v; want deactivated", su, err)
			}
			log := out.String()
			if strings.Contains(log, secret) {
				t.Errorf("the log quotes the policy error's value %q:\n%s", secret, log)
			}
			for _, want := range []string{"claim policy failed", "client=a-broken", "subject=" + aliceSub, "class=" + tc.class} {
				if !strings.Contains(log, want) {
					t.Errorf("the log lacks %q:\n%s", want, log)
				}
			}
		})
	}
}
