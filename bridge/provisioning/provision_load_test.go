package provisioning_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/legacy"
)

// slowAMS answers the member and roles look-ups after a delay: the AMS's round trip (SQL
// Server on another machine), during which a just-in-time provisioning holds its lock.
type slowAMS struct {
	*bridgetest.Directory
	delay time.Duration
}

func (d *slowAMS) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	time.Sleep(d.delay)
	return d.Directory.MemberByKey(ctx, key)
}

func (d *slowAMS) Roles(ctx context.Context, key string) ([]string, error) {
	time.Sleep(d.delay)
	return d.Directory.Roles(ctx, key)
}

// countingLock counts the job lock's tries and the ones that found it held (each one a
// syncLockRetry sleep for the caller).
type countingLock struct {
	provisioning.JobLock
	tries, busy atomic.Int64
}

func (l *countingLock) TryLock(ctx context.Context, name string) (func(), bool, error) {
	l.tries.Add(1)
	release, ok, err := l.JobLock.TryLock(ctx, name)
	if err == nil && !ok {
		l.busy.Add(1)
	}
	return release, ok, err
}

// BenchmarkProvisionReplicas: many members signing in at once to an app with a provisioning
// target (webhook, not sync: the delivery is queued), on two replicas sharing one PostgreSQL
// (store and cluster locks, as deployed): each op is one sign-in's Provision (a member's first:
// the shadow user created), spread over the replicas by c goroutines. Reported: provisions/s,
// latency p50 and p99 (ms), and lock_busy/op (tries of a job lock that another holder had:
// each one a 50 ms wait). ams is the delay of each AMS look-up (member, roles). Run with
// SSOBRIDGE_TEST_POSTGRES_DSN set, e.g. -bench ProvisionReplicas -benchtime 400x.
func BenchmarkProvisionReplicas(b *testing.B) {
	for _, ams := range []time.Duration{0, 2 * time.Millisecond} {
		for _, c := range []int{1, 16} {
			b.Run(fmt.Sprintf("ams=%s/c=%d", ams, c), func(b *testing.B) { benchProvisionReplicas(b, ams, c) })
		}
	}
}

func benchProvisionReplicas(b *testing.B, ams time.Duration, c int) {
	ctx := b.Context()
	dsn := pgtest.NewDatabase(b)
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	dir := bridgetest.NewDirectory()
	paid := time.Now().AddDate(1, 0, 0)
	subjects := make([]string, b.N)
	for i := range b.N {
		key := fmt.Sprintf("%08X-0000-4000-8000-%012X", i, i)
		dir.Add(&legacy.Member{Key: key, MemberID: fmt.Sprint(10000 + i), Login: fmt.Sprintf("member%06d", i),
			Email: fmt.Sprintf("member%06d@example.org", i), FullName: fmt.Sprintf("Member %d", i), MemberType: "REG", Status: "A",
			PaidThrough: paid, Roles: []string{"Member"}, Standing: legacy.Standing{Approved: true}}, "pw")
		subjects[i] = "sub-" + key
		if err := st.PutSubject(ctx, &store.Subject{Subject: subjects[i], MemberKey: key, Login: fmt.Sprintf("member%06d", i)}); err != nil {
			b.Fatal(err)
		}
	}
	targets := map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}}
	var locks []*countingLock
	var replicas []*provisioning.Service
	for range 2 {
		node, err := cluster.OpenPostgres(ctx, cluster.PostgresOptions{DSN: dsn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = node.Close() })
		l := &countingLock{JobLock: node}
		locks = append(locks, l)
		replicas = append(replicas, provisioning.New(withOutbox(provisioning.Options{Config: provisioning.Defaults(), Targets: targets,
			Store: st, Directory: &slowAMS{Directory: dir, delay: ams}, Viewer: viewer, Lock: l,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, clients{}, nil)))
	}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := replicas[i%2].Provision(ctx, "portal", subjects[i], nil); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	var busy int64
	for _, l := range locks {
		busy += l.busy.Load()
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "provisions/s")
	b.ReportMetric(float64(lat[b.N/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[b.N*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(busy)/float64(b.N), "lock_busy/op")
	users, err := st.ShadowUsers(ctx, "portal", "")
	if err == nil && len(users) != b.N {
		b.Errorf("%d shadow users, want %d", len(users), b.N)
	}
}
