package postgres_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestClaimEventsAllOrNothing: a claim that fails after it has chosen some events leases none
// of them (review s17 R2-3). The claim leases one event per statement; run outside a
// transaction, the events leased before the failure stayed leased (attempts counted) while the
// caller got only the error, and sat undelivered until their lease ran out. A trigger fails the
// second event's lease here.
func TestClaimEventsAllOrNothing(t *testing.T) {
	ctx := t.Context()
	now := time.Now().Truncate(time.Second).UTC()
	s, dsn := openTest(t, postgres.WithClock(func() time.Time { return now }))
	ev := func(id, client string) *store.OutboxEvent {
		return &store.OutboxEvent{ID: id, Key: client + "/m", Type: "user.updated", Channel: "webhook",
			ClientID: client, Subject: "m", Payload: []byte(`{}`), NextAttempt: now, CreatedAt: now}
	}
	ssotest.NoErr(t, s.Enqueue(ctx, ev("first", "a"), ev("boom", "b")), "Enqueue")
	conn, err := pgx.Connect(ctx, dsn)
	ssotest.NoErr(t, err, "connect")
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.id = 'boom' AND NEW.lease_until > 0 THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER boom BEFORE UPDATE ON outbox FOR EACH ROW EXECUTE FUNCTION boom()`); err != nil {
		t.Fatal(err)
	}

	at := now.Add(time.Second)
	l, err := s.ClaimEvents(ctx, store.Claim{Now: at, Lease: time.Minute, Limit: 2})
	if err == nil {
		t.Fatalf("ClaimEvents with the second lease failing = %d events, no error", len(l))
	}
	first, err := s.OutboxEvent(ctx, "first")
	ssotest.NoErr(t, err, "OutboxEvent(first)")
	if !first.LeaseUntil.IsZero() || first.Attempts != 0 {
		t.Fatalf("after a failed claim the first event is leased until %v with %d attempts; want neither", first.LeaseUntil, first.Attempts)
	}

	if _, err := conn.Exec(ctx, `DROP TRIGGER boom ON outbox`); err != nil {
		t.Fatal(err)
	}
	l, err = s.ClaimEvents(ctx, store.Claim{Now: at, Lease: time.Minute, Limit: 2})
	ssotest.NoErr(t, err, "ClaimEvents")
	if len(l) != 2 {
		t.Fatalf("claimed %d events after the failure, want both at once", len(l))
	}
}
