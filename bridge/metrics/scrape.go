package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ssobridge/ssobridge/bridge/logging"
)

// CacheStats registers the AMS profile cache's hit and miss counters, read at scrape time
// from stats (legacy/cache's Directory.Stats). The hit ratio is
// rate(hits) / (rate(hits) + rate(misses)).
func (m *Metrics) CacheStats(stats func() (hits, misses int64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "ams_cache", Name: "hits_total",
			Help: "Member lookups the AMS profile cache answered."}, func() float64 { h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "ams_cache", Name: "misses_total",
			Help: "Member lookups the AMS profile cache passed to the AMS."}, func() float64 { _, mi := stats(); return float64(mi) }),
	)
}

// Key is the key that signs now for one algorithm.
type Key struct {
	Algorithm          string
	Created, SignUntil time.Time
}

// Keys registers the signing keys' age and time to the next rotation, per algorithm, read at
// scrape time from current (sso.KeyManager.Current).
func (m *Metrics) Keys(current func() []Key, now func() time.Time) {
	m.reg.MustRegister(&keyCollector{current: current, now: now,
		age: prometheus.NewDesc(Namespace+"_signing_key_age_seconds",
			"Age of the key that signs now, per algorithm.", []string{"alg"}, nil),
		next: prometheus.NewDesc(Namespace+"_signing_key_next_rotation_seconds",
			"Seconds until the key that signs now is replaced, per algorithm (negative: overdue).", []string{"alg"}, nil),
	})
}

type keyCollector struct {
	current   func() []Key
	now       func() time.Time
	age, next *prometheus.Desc
}

func (c *keyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.age; ch <- c.next }

func (c *keyCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, k := range c.current() {
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, now.Sub(k.Created).Seconds(), k.Algorithm)
		ch <- prometheus.MustNewConstMetric(c.next, prometheus.GaugeValue, k.SignUntil.Sub(now).Seconds(), k.Algorithm)
	}
}

// OutboxTarget is the outbox's state for one channel and client.
type OutboxTarget struct {
	Channel, Client string
	// Pending events, the oldest pending one's creation time (zero: none), dead letters.
	Pending    int
	Oldest     time.Time
	DeadLetter int
	// Superseded events: a newer event of the same member and app stands for them, so they are
	// never sent nor retried (kept until purged with the delivered ones).
	Superseded int
}

// Outbox registers the outbox's depth, oldest pending age, dead letters and superseded events
// per target, read at scrape time from read (bounded by timeout). A failed read leaves the
// series out of that scrape, the rest of the scrape is answered; during an outage (the store
// down) only its first failure is logged, as a warning, and its end as an information line,
// not every scrape.
func (m *Metrics) Outbox(read func(ctx context.Context) ([]OutboxTarget, error), now func() time.Time, timeout time.Duration, log *slog.Logger) {
	lbl := []string{"channel", "client"}
	m.reg.MustRegister(&outboxCollector{read: read, now: now, timeout: timeout, m: m,
		log: log,
		depth: prometheus.NewDesc(Namespace+"_outbox_pending",
			"Outbox events waiting for delivery, per channel and client.", lbl, nil),
		oldest: prometheus.NewDesc(Namespace+"_outbox_oldest_pending_age_seconds",
			"Age of the oldest outbox event waiting for delivery, per channel and client.", lbl, nil),
		dead: prometheus.NewDesc(Namespace+"_outbox_dead_letters",
			"Outbox events in the dead-letter state (ssobridge shadow retry re-queues them), per channel and client.", lbl, nil),
		superseded: prometheus.NewDesc(Namespace+"_outbox_superseded",
			"Outbox events a newer event of the same member and app superseded (never sent nor retried; kept until purged with the delivered ones), per channel and client.", lbl, nil),
	})
}

type outboxCollector struct {
	read                func(ctx context.Context) ([]OutboxTarget, error)
	now                 func() time.Time
	timeout             time.Duration
	log                 *slog.Logger
	down                logging.Outage
	m                   *Metrics
	depth, oldest, dead *prometheus.Desc
	superseded          *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.depth
	ch <- c.oldest
	ch <- c.dead
	ch <- c.superseded
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	ts, err := c.read(ctx)
	now := c.now()
	if err != nil {
		c.down.Fail(ctx, c.log, now, "metrics: cannot read the outbox; its series are left out until it can be read", err)
		return
	}
	c.down.OK(ctx, c.log, now, "metrics: the outbox can be read again")
	// Several clients past the bound fold into one "other" series.
	type acc struct {
		pending, dead, superseded int
		oldest                    time.Time
	}
	sum := map[pair]*acc{}
	var order []pair
	for _, t := range ts {
		c.m.mu.Lock()
		client := c.m.clientLabel(t.Client)
		c.m.mu.Unlock()
		k := pair{t.Channel, client}
		a := sum[k]
		if a == nil {
			a = &acc{}
			sum[k] = a
			order = append(order, k)
		}
		a.pending += t.Pending
		a.dead += t.DeadLetter
		a.superseded += t.Superseded
		if !t.Oldest.IsZero() && (a.oldest.IsZero() || t.Oldest.Before(a.oldest)) {
			a.oldest = t.Oldest
		}
	}
	for _, k := range order {
		a := sum[k]
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(a.pending), k.a, k.b)
		age := 0.0
		if !a.oldest.IsZero() {
			age = now.Sub(a.oldest).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, k.a, k.b)
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(a.dead), k.a, k.b)
		ch <- prometheus.MustNewConstMetric(c.superseded, prometheus.GaugeValue, float64(a.superseded), k.a, k.b)
	}
}

// StoreWrites is what the SQLite store's group commit counted (sqlite.Store.WriteStats).
type StoreWrites struct {
	// Commits[i] is how many commits held at most Bounds[i] writes (and more than Bounds[i-1]);
	// Writes is how many writes they held.
	Bounds  []float64
	Commits []int64
	Writes  int64
	// Failed is how many transactions could not commit; RetriedAfterWrite and
	// RetriedAfterCommit how many of several writes ran them again in smaller ones, after a
	// write's error (SQLITE_FULL ...) ended the transaction or after its COMMIT failed.
	Failed                                int64
	RetriedAfterWrite, RetriedAfterCommit int64
}

// StoreWrites registers the group commit's writes per commit (a histogram) and its failed and
// retried transactions, read at scrape time from read.
func (m *Metrics) StoreWrites(read func() StoreWrites) {
	m.reg.MustRegister(&storeWritesCollector{read: read,
		perCommit: prometheus.NewDesc(Namespace+"_store_writes_per_commit",
			"Writes the store's group commit applied per committed transaction (a write alone counts as one).", nil, nil),
		failed: prometheus.NewDesc(Namespace+"_store_write_transactions_failed_total",
			"Store transactions that could not commit (a write's error such as a full disk ended it, or its COMMIT failed); their writes are not committed.", nil, nil),
		retried: prometheus.NewDesc(Namespace+"_store_write_batch_retries_total",
			"Failed store transactions of several writes whose writes ran again in smaller ones (each write then gets its own outcome), by cause: write (a write's error ended the transaction) or commit (the COMMIT failed).",
			[]string{"cause"}, nil),
	})
}

type storeWritesCollector struct {
	read                       func() StoreWrites
	perCommit, failed, retried *prometheus.Desc
}

func (c *storeWritesCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.perCommit
	ch <- c.failed
	ch <- c.retried
}

func (c *storeWritesCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.read()
	buckets := make(map[float64]uint64, len(st.Bounds))
	var n uint64
	for i, b := range st.Bounds {
		n += uint64(st.Commits[i])
		buckets[b] = n // cumulative
	}
	ch <- prometheus.MustNewConstHistogram(c.perCommit, n, float64(st.Writes), buckets)
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(st.Failed))
	ch <- prometheus.MustNewConstMetric(c.retried, prometheus.CounterValue, float64(st.RetriedAfterWrite), "write")
	ch <- prometheus.MustNewConstMetric(c.retried, prometheus.CounterValue, float64(st.RetriedAfterCommit), "commit")
}
