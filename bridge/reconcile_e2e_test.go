package bridge_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/wire"
)

// TestReconcileSeesWhatPollingCannot runs over the demo AMS (sqldir, iMIS preset on SQLite)
// the changes that real iMIS makes without touching any timestamp: a role granted by a
// UserRole row, then the contact deleted (Name.STATUS 'D', login rows kept). Change polling
// sees neither; the reconcile queues the role change, then deactivates the member: shadow user
// inactive, refresh token revoked.
func TestReconcileSeesWhatPollingCannot(t *testing.T) {
	ctx := context.Background()
	d, db, err := demo.OpenDirectory(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	sink := newHookSink(t)
	e := newEnvDir(t, true, d, func(c *bridge.Config) {
		c.Provisioning = map[string]provisioning.Target{"web": {AllowInternal: true, Settings: &webhook.Config{URL: sink.srv.URL, Secret: testWebhookSecret}}}
	})
	var alice demo.Login
	for _, l := range demo.Logins() {
		if l.Login == "alice" {
			alice = l
		}
	}
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader,
		oidc.ScopeOpenID, "profile", "email", "roles", oidc.ScopeOfflineAccess)
	code := e.signIn(e.browser(), cfg.AuthCodeURL("s"), alice.Login, alice.Password)
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	svc := e.bridge.Shadow()
	if _, err := svc.Poll(ctx); err != nil { // the watermark moves past the seeded members
		t.Fatal(err)
	}
	deliver := func() []string {
		t.Helper()
		for {
			if n, err := svc.DeliverDue(ctx); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				break
			}
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		out := sink.types
		sink.types = nil
		return out
	}
	if got := deliver(); !slices.Equal(got, []string{wire.TypeCreated}) {
		t.Fatalf("after sign-in: %v", got)
	}
	view := func() string {
		u, err := e.store.ShadowUser(ctx, "web", mustSubject(t, e, alice.Key))
		if err != nil {
			t.Fatal(err)
		}
		return string(u.View)
	}
	if strings.Contains(view(), "Reconciled") {
		t.Fatal("role present before it was granted")
	}

	// A role granted in iMIS: a UserRole row, no timestamp anywhere.
	if _, err := db.ExecContext(ctx, `INSERT INTO RoleMain (RoleKey, Name, Description, UpdatedOn) VALUES
		('0F0F0F0F-0000-4000-8000-000000000001', 'Reconciled', 'Reconciled', '2020-01-01 00:00:00.000')`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO UserRole (UserKey, RoleKey) VALUES (?1, '0F0F0F0F-0000-4000-8000-000000000001')`,
		alice.ContactKey); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll after a role grant = %d, %v (nothing carries a timestamp)", n, err)
	}
	res, err := svc.Reconcile(ctx)
	if err != nil || !res.Finished || res.Gone != 0 {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	if got := deliver(); !slices.Equal(got, []string{wire.TypeUpdated}) || !strings.Contains(view(), `"Reconciled"`) {
		t.Fatalf("after the role grant: %v, view %s", got, view())
	}

	// The contact deleted: Name.STATUS 'D', aspnet and UserMain rows kept, no timestamp.
	if _, err := db.ExecContext(ctx, `UPDATE Name SET STATUS = 'D' WHERE ID = ?1`, alice.MemberID); err != nil {
		t.Fatal(err)
	}
	if n, err := svc.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll after a deletion = %d, %v", n, err)
	}
	if res, err = svc.Reconcile(ctx); err != nil || !res.Finished {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	if got := deliver(); !slices.Equal(got, []string{wire.TypeDeactivated}) {
		t.Fatalf("after the deletion: %v", got)
	}
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := cfg.TokenSource(e.ctx(), tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh after the contact was deleted: %v", err)
	}
}

func mustSubject(t *testing.T, e *env, memberKey string) string {
	t.Helper()
	s, err := e.store.SubjectByMemberKey(t.Context(), memberKey)
	if err != nil {
		t.Fatal(err)
	}
	return s.Subject
}
