package provisioning_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
)

// memLister is a sorted in-memory member listing: it costs next to nothing, so that the
// benchmark measures the bridge's share of a pass (subjects, views, digests, the store).
type memLister struct {
	*bridgetest.Directory
	members []*legacy.Member // ascending Key
}

func (l *memLister) ListMembers(_ context.Context, after string, limit int) ([]*legacy.Member, error) {
	i := sort.Search(len(l.members), func(i int) bool { return l.members[i].Key > after })
	j := min(i+limit, len(l.members))
	out := make([]*legacy.Member, 0, j-i)
	for _, m := range l.members[i:j] {
		c := *m
		out = append(out, &c)
	}
	return out, nil
}

// BenchmarkReconcile100k: one complete pass over 100,000 listed members of whom some signed
// in and have a shadow user at one client (webhook), nothing changed since the previous pass
// (the steady state), with the rate limit out of the way. The AMS side of a pass (the listing
// through go-mssqldb) is measured by the directory's own benchmark.
func BenchmarkReconcile100k(b *testing.B) {
	for _, signedIn := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("signed_in=%d", signedIn), func(b *testing.B) {
			ctx := b.Context()
			st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "ssobridge.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			const n = 100_000
			l := &memLister{Directory: bridgetest.NewDirectory()}
			paid := time.Now().AddDate(1, 0, 0)
			for i := range n {
				l.members = append(l.members, &legacy.Member{Key: fmt.Sprintf("%08X-0000-4000-8000-%012X", i, i), MemberID: fmt.Sprint(10000 + i),
					Login: fmt.Sprintf("member%06d", i), Email: fmt.Sprintf("member%06d@example.org", i), FullName: fmt.Sprintf("Member %d", i),
					MemberType: "REG", Status: "A", PaidThrough: paid, Roles: []string{"Member"}, Standing: legacy.Standing{Approved: true}})
			}
			targets := map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}}
			cfg := provisioning.Defaults()
			cfg.ReconcileRate = 1 << 30
			svc := provisioning.New(withOutbox(provisioning.Options{Config: cfg, Targets: targets, Store: st, Directory: l, Viewer: viewer,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, clients{}, nil))
			step := n / signedIn
			for i := 0; i < n; i += step {
				m := l.members[i]
				sub := "sub-" + m.Key
				if err := st.PutSubject(ctx, &store.Subject{Subject: sub, MemberKey: m.Key, Login: m.Login}); err != nil {
					b.Fatal(err)
				}
				c := *m
				if err := svc.Provision(ctx, "portal", sub, &c); err != nil {
					b.Fatal(err)
				}
			}
			if res, err := svc.Reconcile(ctx); err != nil || res.Compared != signedIn {
				b.Fatalf("first pass = %+v, %v", res, err)
			}
			b.ResetTimer()
			for b.Loop() {
				res, err := svc.Reconcile(ctx)
				if err != nil || !res.Finished || res.Listed != n || res.Compared != signedIn {
					b.Fatalf("pass = %+v, %v", res, err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "members/s")
			if c, _ := st.OutboxCounts(ctx); c[store.OutboxPending] != signedIn {
				b.Fatalf("pending events %v: a pass without changes queued some", c)
			}
		})
	}
}
