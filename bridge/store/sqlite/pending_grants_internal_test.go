package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestClosePendingGrantsSearchesIndex (session 23, left by s22 H3): RevokeGrants' closing of a
// member's grants not yet redeemed (closePendingGrants) searches the partial indexes of the rows
// that can still be redeemed (migration 33) for a subject, with or without a client, instead of
// scanning every sign-in request and device authorization under the one writer. A client's
// alone (an administrator's revocation, a client's removal) may walk the partial indexes, which
// hold only those rows, but not the tables.
func TestClosePendingGrantsSearchesIndex(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	for _, c := range []struct{ subject, client string }{{"alice", "app"}, {"alice", ""}, {"", "app"}} {
		where, _ := pendingWhere(c.subject, c.client)
		for _, st := range []struct{ q, table, index string }{
			{denyApprovedDevices, "device_authorizations", "device_authorizations_approved"},
			{consumeUnexchangedCodes, "auth_requests", "auth_requests_unexchanged"},
		} {
			plan := queryPlan(t, s, st.q+where)
			want := "SEARCH " + st.table + " USING INDEX " + st.index + " (subject=?"
			if c.subject == "" {
				want = "SCAN " + st.table + " USING INDEX " + st.index
			}
			if !strings.Contains(plan, want) {
				t.Errorf("subject %q, client %q: %s\nplan: %s\nwant %q", c.subject, c.client, st.q+where, plan, want)
			}
		}
	}
}

// fillPendingGrants stores n password sign-ins (loginWrites: their codes exchanged), n/10
// sign-ins whose codes are not exchanged and n device authorizations (pending, approved,
// consumed, denied in turn) for client-a, each of its own member: the rows RevokeGrants'
// closing of the grants not yet redeemed has to search. It returns one member with an
// unexchanged code.
func fillPendingGrants(t testing.TB, s *Store, n int, now time.Time) string {
	ctx := t.Context()
	for range n {
		loginWrites(t, s, now, nil)
	}
	var sub string
	for i := range n / 10 {
		ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(time.Now()), ClientID: "client-a", RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid"}, ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute)}
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			t.Fatal(err)
		}
		sub = fmt.Sprintf("unexchanged-%d", i)
		if err := s.CompleteAuthRequest(ctx, ar.ID, sso.Completion{Subject: sub, AuthTime: now}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveCode(ctx, ar.ID, sso.HashToken(sso.RandomToken()), now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	states := []sso.DeviceState{sso.DevicePending, sso.DeviceApproved, sso.DeviceConsumed, sso.DeviceDenied}
	for i := range n {
		d := ssotest.NewDevice(now)
		d.ClientID, d.State, d.UserCode = "client-a", states[i%len(states)], fmt.Sprintf("U%07d", i)
		if d.State != sso.DevicePending {
			d.Subject = fmt.Sprintf("device-%d", i)
		}
		if err := s.CreateDeviceAuthorization(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	return sub
}

// BenchmarkRevokeGrantsPending is RevokeGrants of one member at one app ("Sign out of <app>")
// on a file database holding 50,000 sign-ins and 50,000 device authorizations
// (fillPendingGrants), with the partial indexes of migration 33 ("indexed") and without them
// ("scan", the indexes dropped: what closePendingGrants did before), in the same run.
func BenchmarkRevokeGrantsPending(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "revoke.db"))
	now := time.Now()
	sub := fillPendingGrants(b, s, 50000, now)
	run := func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.RevokeGrants(ctx, sub, "client-a"); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("indexed", run)
	for _, ix := range []string{"auth_requests_unexchanged", "device_authorizations_approved"} {
		if _, err := s.w.ExecContext(b.Context(), `DROP INDEX IF EXISTS `+ix); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("scan", run)
}

// BenchmarkLoginWritesPendingIndex is BenchmarkLoginWrites with the partial indexes of
// migration 33 ("indexed") and without them ("dropped"): what the indexes cost a sign-in
// (instruction counts: valgrind --tool=callgrind --toggle-collect='*timedLoginWrites*', one
// sub-benchmark per run).
func BenchmarkLoginWritesPendingIndex(b *testing.B) {
	for _, drop := range []bool{false, true} {
		name := "indexed"
		if drop {
			name = "dropped"
		}
		b.Run(name, func(b *testing.B) {
			s := openTest(b, filepath.Join(b.TempDir(), "login.db"))
			if drop {
				for _, ix := range []string{"auth_requests_unexchanged", "device_authorizations_approved"} {
					if _, err := s.w.ExecContext(b.Context(), `DROP INDEX `+ix); err != nil {
						b.Fatal(err)
					}
				}
			}
			now := time.Now()
			for range 5000 {
				loginWrites(b, s, now, nil)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				timedLoginWrites(b, s, now)
			}
		})
	}
}

// TestSignOutOfClientAllOrNothing (session 23, left by s22 H3): when SignOutOfClient's
// revocation fails (a trigger refuses the families' update here), the app stays in the member's
// sessions, so the account page still offers "Sign out of <app>" to try again; the three writes
// it replaces (LeaveClient, then RevokeGrants) left the app unlisted with its grants live.
func TestSignOutOfClientAllOrNothing(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := t.Context()
	h := &ssotest.H{T: t, S: s, Ctx: ctx, Now: ssotest.Now()}
	sess := h.CreateSession("alice", "portal")
	f := h.Grant("alice", "portal")
	if _, err := s.w.ExecContext(ctx, `CREATE TRIGGER refuse_revoke BEFORE UPDATE OF revoked ON families
		BEGIN SELECT RAISE(ABORT, 'revocation refused'); END`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SignOutOfClient(ctx, "alice", "portal"); err == nil {
		t.Fatal("SignOutOfClient succeeded with its revocation refused")
	}
	got, err := s.Session(ctx, sess.ID)
	ssotest.NoErr(t, err, "Session")
	if !slices.Equal(got.Clients, []string{"portal"}) || h.Revoked(f.FamilyID) {
		t.Fatalf("after a failed SignOutOfClient the session lists %q (want [portal]), family revoked %t (want false)", got.Clients, h.Revoked(f.FamilyID))
	}
	if _, err := s.w.ExecContext(ctx, `DROP TRIGGER refuse_revoke`); err != nil {
		t.Fatal(err)
	}
	if left, families, err := s.SignOutOfClient(ctx, "alice", "portal"); err != nil || left != 1 || families != 1 {
		t.Fatalf("SignOutOfClient again = %d, %d, %v; want 1, 1, nil", left, families, err)
	}
}
