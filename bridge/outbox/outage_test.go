package outbox_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// claimDownStore is the SQLite store whose claims fail as an unreachable store's do while
// down is set; every claim reports whether it failed on claimed.
type claimDownStore struct {
	*sqlite.Store
	down    atomic.Bool
	claimed chan bool
}

func (s *claimDownStore) ClaimEvents(ctx context.Context, c store.Claim) ([]*store.OutboxEvent, error) {
	down := s.down.Load()
	var (
		evs []*store.OutboxEvent
		err error
	)
	if down {
		err = fmt.Errorf("postgres: claim events: %w: connection refused", sso.ErrUnavailable)
	} else {
		evs, err = s.Store.ClaimEvents(ctx, c)
	}
	select {
	case s.claimed <- down:
	case <-ctx.Done():
	}
	return evs, err
}

type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuilder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuilder) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestClaimOutageSaidOnce: the delivery loop's claims failing while the store is away is a
// transient failure it retries every second, like the other background jobs: one warning when
// it starts (not an error), one information line when claims work again, nothing in between.
func TestClaimOutageSaidOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	st := &claimDownStore{Store: sq, claimed: make(chan bool, 16)}
	st.down.Store(true)
	var out syncBuilder
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	done := make(chan struct{})
	go func() { defer close(done); q.Run(ctx) }()
	for range 5 { // five failed claims
		<-st.claimed
		q.Wake()
	}
	st.down.Store(false)
	for failed := true; failed; {
		q.Wake()
		failed = <-st.claimed
	}
	cancel()
	<-done
	var levels []string
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if _, rest, ok := strings.Cut(l, "level="); ok {
			levels = append(levels, strings.Fields(rest)[0])
		}
	}
	if fmt.Sprint(levels) != "[WARN INFO]" {
		t.Fatalf("a claim outage logged %v, want one warning and one information line:\n%s", levels, out.String())
	}
	if !strings.Contains(out.String(), "claim failed") || !strings.Contains(out.String(), "claims work again") {
		t.Fatalf("unexpected lines:\n%s", out.String())
	}
}
