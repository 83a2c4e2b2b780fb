package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestClientRemovalDeletesByKey (session 24, left by s23 H4): the statements DeleteClientCounted
// runs under the one writer on the tables no index finds by client (consents, outbox,
// session_clients, auth_requests, device_authorizations: clientRowSets) find each row by its
// key. Before, each was a DELETE ... WHERE client_id = ?: "SCAN <table>", every row of the
// five tables read while every other write (sign-ins included) waited. The walks that find
// the keys run on the read pool.
func TestClientRemovalDeletesByKey(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	tables := map[string]bool{}
	for _, set := range clientRowSets {
		table := strings.Fields(set.del)[2] // DELETE FROM <table>
		tables[table] = true
		for _, n := range []int{1, 3, removalChunk} {
			plan := queryPlan(t, s, set.delFor(n))
			if strings.Contains(plan, "SCAN") || !strings.Contains(plan, "SEARCH "+table+" USING ") {
				t.Errorf("%s (%d keys)\nplan %q: want %s searched by its keys", set.del, n, plan, table)
			}
		}
		if !strings.HasPrefix(set.keys, "SELECT ") || !strings.Contains(set.keys, " FROM "+table+" WHERE client_id = ?1") {
			t.Errorf("%s: not the walk of %s's rows of a client", set.keys, table)
		}
	}
	for _, table := range []string{"consents", "outbox", "session_clients", "auth_requests", "device_authorizations"} {
		if !tables[table] {
			t.Errorf("DeleteClientCounted deletes the client's rows of %s, which no index finds by client, without a walk (clientRowSets)", table)
		}
	}
}

// TestClientRemovalSweepsRowsOfItsWalk: the rows the client gets while DeleteClientCounted
// walks the tables on the read pool (a sign-in at the app during the removal: a request, a
// device authorization, a session listing it, a consent, an outbox event) are not in the walk;
// they are deleted right after the removal's transaction, and counted with it. Another
// client's rows written meanwhile stay.
func TestClientRemovalSweepsRowsOfItsWalk(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := t.Context()
	h := &ssotest.H{T: t, S: s, Ctx: ctx, Now: ssotest.Now()}
	ssotest.NoErr(t, s.CreateClient(ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient")
	before := h.NewAuthRequest()
	before.ClientID = "gone"
	ssotest.NoErr(t, s.CreateAuthRequest(ctx, before), "CreateAuthRequest")

	var late, kept *sso.AuthRequest
	var lateDevice *sso.DeviceAuthorization
	var lateSession *sso.Session
	s.testAfterClientWalk = func() {
		s.testAfterClientWalk = nil
		late, kept = h.NewAuthRequest(), h.NewAuthRequest()
		late.ClientID, kept.ClientID = "gone", "stays"
		ssotest.NoErr(t, s.CreateAuthRequest(ctx, late), "CreateAuthRequest during the walk")
		ssotest.NoErr(t, s.CreateAuthRequest(ctx, kept), "CreateAuthRequest (another client) during the walk")
		lateDevice = ssotest.NewDevice(h.Now)
		lateDevice.ClientID = "gone"
		ssotest.NoErr(t, s.CreateDeviceAuthorization(ctx, lateDevice), "CreateDeviceAuthorization during the walk")
		lateSession = h.CreateSession("alice", "gone", "stays")
		ssotest.NoErr(t, s.PutConsent(ctx, &store.Consent{Subject: "alice", ClientID: "gone", Scopes: []string{"openid"}, GrantedAt: h.Now}), "PutConsent during the walk")
		ssotest.NoErr(t, s.Enqueue(ctx, &store.OutboxEvent{ID: ssotest.RandomID(), Key: "gone/alice", Type: "user.updated", Channel: "scim",
			ClientID: "gone", Subject: "alice", Payload: []byte(`{}`), NextAttempt: h.Now, CreatedAt: h.Now}), "Enqueue during the walk")
	}
	r, err := s.DeleteClientCounted(ctx, "gone")
	ssotest.NoErr(t, err, "DeleteClientCounted")
	ssotest.Equal(t, r, store.ClientRemoval{Existed: true, Consents: 1, Events: 1, Sessions: 1, Requests: 2, Devices: 1}, "what the removal deleted")
	for _, ar := range []*sso.AuthRequest{before, late} {
		if _, err := s.AuthRequest(ctx, ar.ID); !errors.Is(err, sso.ErrNotFound) {
			t.Errorf("the client's request is still there after its removal: %v", err)
		}
	}
	if _, err := s.AuthRequest(ctx, kept.ID); err != nil {
		t.Errorf("another client's request written during the removal: %v", err)
	}
	if _, err := s.DeviceAuthorizationByUserCode(ctx, lateDevice.UserCode); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("the client's device authorization written during the walk is still there: %v", err)
	}
	got, err := s.Session(ctx, lateSession.ID)
	ssotest.NoErr(t, err, "Session")
	ssotest.Equal(t, got.Clients, []string{"stays"}, "the clients of a session that listed the removed client")
	if _, err := s.Consent(ctx, "alice", "gone"); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("the consent given during the walk is still there: %v", err)
	}
	var events int
	ssotest.NoErr(t, s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE client_id = 'gone'`).Scan(&events), "count events")
	ssotest.Equal(t, events, 0, "the removed client's events")
}

// TestClientRemovalInChunks: a client owning more rows than one statement deletes
// (removalChunk) loses them all, counted, and another client's rows stay (review s24 X-8: the
// rows are deleted a chunk of keys a statement, not one statement a row).
func TestClientRemovalInChunks(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	ctx := t.Context()
	h := &ssotest.H{T: t, S: s, Ctx: ctx, Now: ssotest.Now()}
	ssotest.NoErr(t, s.CreateClient(ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient")
	const n = 2*removalChunk + 7
	for i := range n + 1 {
		ar := h.NewAuthRequest()
		ar.ClientID = "gone"
		if i == n {
			ar.ClientID = "stays"
		}
		ssotest.NoErr(t, s.CreateAuthRequest(ctx, ar), "CreateAuthRequest")
	}
	r, err := s.DeleteClientCounted(ctx, "gone")
	ssotest.NoErr(t, err, "DeleteClientCounted")
	ssotest.Equal(t, r, store.ClientRemoval{Existed: true, Requests: n}, "what the removal deleted")
	var left, other int
	ssotest.NoErr(t, s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_requests WHERE client_id = 'gone'`).Scan(&left), "count")
	ssotest.NoErr(t, s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM auth_requests WHERE client_id = 'stays'`).Scan(&other), "count")
	ssotest.Equal(t, [2]int{left, other}, [2]int{0, 1}, "the removed client's requests left, and the other's")
}

// BenchmarkDeleteClient is a client's removal on a file database holding 55,000 sign-in
// requests, 50,000 device authorizations and 50,000 sessions of another client
// (fillPendingGrants), in the same run:
//   - "scan": the removal's old statements on the five tables (DELETE ... WHERE client_id = ?)
//     in one write transaction: how long they held the writer;
//   - "walk": the walk of the five tables on the read pool (clientRowKeys), which holds no
//     writer;
//   - "by-key": the deletions by key that replace the old statements in the write transaction
//     (the walk left out): how long they hold the writer now;
//   - "removal": DeleteClientCounted, its two walks and its indexed statements included.
func BenchmarkDeleteClient(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "remove.db"))
	now := time.Now()
	fillPendingGrants(b, s, 50000, now)
	ctx := context.Background()
	setup := func(b *testing.B) {
		b.StopTimer()
		defer b.StartTimer()
		if err := s.CreateClient(ctx, &sso.StoredClient{ID: "gone", Config: []byte(`{}`), CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		d := ssotest.NewDevice(now)
		d.ClientID = "gone"
		if err := s.CreateDeviceAuthorization(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			setup(b)
			err := s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				for _, q := range []string{
					`DELETE FROM consents WHERE client_id = ?`,
					`DELETE FROM outbox WHERE client_id = ? AND state <> 'delivered'`,
					`DELETE FROM session_clients WHERE client_id = ?`,
					`DELETE FROM auth_requests WHERE client_id = ?`,
					`DELETE FROM device_authorizations WHERE client_id = ?`,
					`DELETE FROM clients WHERE id = ?`,
				} {
					if _, err := tx.ExecContext(ctx, q, "gone"); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.clientRowKeys(ctx, "gone"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("by-key", func(b *testing.B) {
		for b.Loop() {
			setup(b)
			b.StopTimer()
			keys, _, err := s.clientRowKeys(ctx, "gone")
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			err = s.writeTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				var r store.ClientRemoval
				if err := deleteClientRows(ctx, tx, "gone", keys, &r); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `DELETE FROM clients WHERE id = ?`, "gone")
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("removal", func(b *testing.B) {
		for b.Loop() {
			setup(b)
			if r, err := s.DeleteClientCounted(ctx, "gone"); err != nil || !r.Existed || r.Devices != 1 {
				b.Fatal(r, err)
			}
		}
	})
}
