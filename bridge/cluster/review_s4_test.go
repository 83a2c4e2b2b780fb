package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
)

// TestPostgresSilentHolderLosesLease (review s4): a replica whose host dies or is cut off (not
// only whose process dies) leaves its lease connection open and silent on the server's side;
// the server must end that session so that another replica takes the lease over, instead of
// waiting for TCP keepalive (two hours by default) while no replica polls, reconciles, rotates
// keys or purges.
func TestPostgresSilentHolderLosesLease(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := openPostgres(t, dsn, time.Hour), openPostgres(t, dsn, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if ok, err := a.HoldSilently(ctx, "poller"); err != nil || !ok {
		t.Fatalf("silent holder: ok %v err %v", ok, err)
	}
	in := make(chan struct{}, 1)
	go b.Lead(ctx, "poller", func(ctx context.Context) { in <- struct{}{}; <-ctx.Done() })
	select {
	case <-in:
	case <-time.After(60 * time.Second):
		t.Fatal("the lease of a silent holder was never taken over")
	}
}
