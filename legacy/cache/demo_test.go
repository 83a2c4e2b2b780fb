package cache_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Over the real directory: the cache serves roles and profiles until the TTL or a change
// poll, while passwords are always checked against the AMS.
func TestCacheOverDemoDirectory(t *testing.T) {
	ctx := context.Background()
	d, db, err := demo.OpenDirectory(ctx, "", sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	now := time.Now()
	c := cache.New(d, cache.Options{TTL: time.Minute, Now: func() time.Time { return now }})

	m, err := c.Authenticate(ctx, "alice", "alice-demo-1")
	aliceRoles := []string{"Board of Directors", "Member", "REG", "Regular Member"}
	if err != nil || !slices.Equal(m.Roles, aliceRoles) {
		t.Fatalf("Authenticate = %+v, %v", m, err)
	}
	if err := demo.SetRoles(ctx, db, "alice", "Member", "Volunteer"); err != nil {
		t.Fatal(err)
	}
	if err := demo.SetPassword(ctx, db, "alice", "rotated-1"); err != nil {
		t.Fatal(err)
	}
	// The password change is seen at once (never cached) ...
	if _, err := c.Authenticate(ctx, "alice", "alice-demo-1"); err == nil {
		t.Fatal("old password accepted from the cache")
	}
	m, err = c.Authenticate(ctx, "alice", "rotated-1")
	if err != nil {
		t.Fatal(err)
	}
	// ... the roles come from the cache until a change poll or the TTL.
	if !slices.Equal(m.Roles, aliceRoles) {
		t.Fatalf("roles not served from the cache: %v", m.Roles)
	}
	// ... and so do lookups, with the roles (issue 11: lookups used to come back without).
	if l, err := c.MemberByKey(ctx, m.Key); err != nil || !slices.Equal(l.Roles, aliceRoles) {
		t.Fatalf("MemberByKey from the cache: %v, %v", l, err)
	}
	if _, _, err := c.ChangedSince(ctx, now.Add(-time.Minute), 100); err != nil {
		t.Fatal(err)
	}
	m, err = c.Authenticate(ctx, "alice", "rotated-1")
	if err != nil || !slices.Equal(m.Roles, []string{"Board of Directors", "Member", "REG", "Regular Member", "Volunteer"}) {
		t.Fatalf("after the change poll: %v, %v", m, err)
	}
	hits, misses := c.Stats()
	if hits == 0 || misses == 0 {
		t.Fatalf("stats %d/%d", hits, misses)
	}
}
