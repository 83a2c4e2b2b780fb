package cluster_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/cluster/clustertest"
)

func openPostgres(t *testing.T, dsn string, fallback time.Duration) *cluster.Postgres {
	t.Helper()
	n, err := cluster.OpenPostgres(context.Background(), cluster.PostgresOptions{DSN: dsn, Retry: 50 * time.Millisecond, Fallback: fallback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func TestPostgresConformance(t *testing.T) {
	clustertest.Run(t, func(t *testing.T, o clustertest.Options) clustertest.Join {
		dsn := pgtest.NewDatabase(t)
		return func(t *testing.T) cluster.Node { return openPostgres(t, dsn, o.Fallback) }
	})
}

// terminate ends the database sessions whose application_name is app (what a network failure
// or a restarted server does to a replica's connection).
func terminate(t *testing.T, dsn, app string) int {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A lease whose session ends is lost: the holder's fn is cancelled and another node takes it.
func TestPostgresSessionLossIsLeaseLoss(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := openPostgres(t, dsn, time.Hour), openPostgres(t, dsn, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan string, 4)
	lostA := make(chan struct{}, 4)
	go a.Lead(ctx, "poller", func(ctx context.Context) { in <- "a"; <-ctx.Done(); lostA <- struct{}{} })
	if got := <-in; got != "a" {
		t.Fatal(got)
	}
	go b.Lead(ctx, "poller", func(ctx context.Context) { in <- "b"; <-ctx.Done() })
	// Every lease connection of that name is ended (a's and b's, which both reconnect); a
	// learns at its next ping that its session is gone.
	if n := terminate(t, dsn, "ssobridge lease poller"); n == 0 {
		t.Fatal("no lease session to end")
	}
	select {
	case <-lostA:
	case <-time.After(30 * time.Second):
		t.Fatal("the holder kept running after its session ended")
	}
	select {
	case got := <-in:
		if got != "b" && got != "a" {
			t.Fatal(got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("nobody took the lease over")
	}
}

// A notification sent while a node's listener was cut off is not lost for the cache: the
// listener reconnects and calls every subscriber (which checks its version).
func TestPostgresListenerReconnects(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	a, b := openPostgres(t, dsn, time.Hour), openPostgres(t, dsn, time.Hour)
	ctx := context.Background()
	calls := make(chan struct{}, 64)
	b.Subscribe(cluster.TopicClients, func(context.Context) error { calls <- struct{}{}; return nil })
	waitCall := func(what string) {
		t.Helper()
		select {
		case <-calls:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: subscriber not called", what)
		}
	}
	waitCall("start-up") // the first connection calls every subscriber
	for terminate(t, dsn, "ssobridge listen") == 0 {
		time.Sleep(10 * time.Millisecond) // not connected yet
	}
	waitCall("reconnection")
	if err := a.Notify(ctx, cluster.TopicClients); err != nil {
		t.Fatal(err)
	}
	waitCall("notification after the reconnection")
}

func TestOpenPostgresUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cluster.OpenPostgres(ctx, cluster.PostgresOptions{DSN: "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"})
	if err == nil {
		t.Fatal("opened a cluster on no database")
	}
}

// countingHandler counts log records by message.
type countingHandler struct {
	mu sync.Mutex
	n  map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n[r.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(prefix string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for m, c := range h.n {
		if strings.HasPrefix(m, prefix) {
			n += c
		}
	}
	return n
}

// While the database refuses connections, a lease and the listener log the outage once (not
// at every retry) and its end once.
func TestPostgresOutageLoggedOnce(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	logs := &countingHandler{n: map[string]int{}}
	n, err := cluster.OpenPostgres(context.Background(), cluster.PostgresOptions{DSN: dsn, Retry: 20 * time.Millisecond,
		Fallback: time.Hour, Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	in := make(chan struct{}, 8)
	go n.Lead(ctx, "purge", func(ctx context.Context) { in <- struct{}{}; <-ctx.Done() })
	<-in
	db := databaseOf(t, dsn)
	admin := os.Getenv(pgtest.EnvDSN)
	exec := func(sql string) {
		t.Helper()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`ALTER DATABASE ` + db + ` ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + db + `' AND pid <> pg_backend_pid()`)
	// Many retries fail (20 ms apart) ...
	for start := time.Now(); logs.count("cluster: lease: cannot reach") == 0; {
		if time.Since(start) > 30*time.Second {
			t.Fatal("the outage was not logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	exec(`ALTER DATABASE ` + db + ` ALLOW_CONNECTIONS true`)
	select {
	case <-in:
	case <-time.After(30 * time.Second):
		t.Fatal("the lease was not taken again after the database came back")
	}
	if got := logs.count("cluster: lease: cannot reach"); got != 1 {
		t.Fatalf("the outage was logged %d times, want once", got)
	}
	if got := logs.count("cluster: lease: the database is reachable again"); got != 1 {
		t.Fatalf("the recovery was logged %d times, want once", got)
	}
}

func databaseOf(t *testing.T, dsn string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}
