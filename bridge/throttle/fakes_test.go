package throttle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/store/storetest"
)

// The fakes below wrap a whole store and pass the store conformance suite (TestFakesConformance)
// in the state the tests use them in, as every fake must: recordingCounters records the counter
// keys it passes on, downCounters fails the counters while down (the suite runs it up), and
// callsOnly hides the store's counter steps.

// recordingCounters is a store that records the counter keys it is given, in its calls and in
// its counter steps (store.CounterSteps), and passes them on to the store it wraps.
type recordingCounters struct {
	store.Store
	steps store.CounterSteps
	mu    sync.Mutex
	keys  []string
}

var _ store.CounterSteps = (*recordingCounters)(nil)

func newRecordingCounters(s store.Store) *recordingCounters {
	return &recordingCounters{Store: s, steps: s.(store.CounterSteps)}
}

func (r *recordingCounters) add(ks ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, ks...)
}

func (r *recordingCounters) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	r.add(h.Key)
	return r.Store.HitCounter(ctx, h)
}

func (r *recordingCounters) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	r.add(key)
	return r.Store.UndoCounter(ctx, key, now)
}

func (r *recordingCounters) NoteCounter(ctx context.Context, key, note string) error {
	r.add(key, note)
	return r.Store.NoteCounter(ctx, key, note)
}

func (r *recordingCounters) ResetCounter(ctx context.Context, key string) (string, error) {
	r.add(key)
	return r.Store.ResetCounter(ctx, key)
}

func (r *recordingCounters) ReserveCounters(ctx context.Context, res store.CounterReserve) (store.CounterReserved, error) {
	for _, h := range res.Hits {
		r.add(h.Key)
	}
	return r.steps.ReserveCounters(ctx, res)
}

func (r *recordingCounters) UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error {
	r.add(keys...)
	return r.steps.UndoCounters(ctx, keys, viaNote, now)
}

func (r *recordingCounters) ClearCounters(ctx context.Context, key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
	r.add(key, undo, look.Key)
	return r.steps.ClearCounters(ctx, key, undo, look, now)
}

func (r *recordingCounters) NoteHitCounter(ctx context.Context, key string, h store.CounterHit, look int) (store.Counter, error) {
	r.add(key, h.Key)
	return r.steps.NoteHitCounter(ctx, key, h, look)
}

// downCounters is a store whose counters, calls and steps, fail while down is set, as a store
// that is down does (the rest of the store works).
type downCounters struct {
	store.Store
	steps store.CounterSteps
	down  atomic.Bool
}

var _ store.CounterSteps = (*downCounters)(nil)

// newDownCounters wraps s with its counters down.
func newDownCounters(s store.Store) *downCounters {
	d := &downCounters{Store: s, steps: s.(store.CounterSteps)}
	d.down.Store(true)
	return d
}

var errDown = errors.New("store down")

func (d *downCounters) err() error {
	if d.down.Load() {
		return errDown
	}
	return nil
}

func (d *downCounters) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	if err := d.err(); err != nil {
		return store.Counter{}, err
	}
	return d.Store.HitCounter(ctx, h)
}

func (d *downCounters) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	if err := d.err(); err != nil {
		return "", err
	}
	return d.Store.UndoCounter(ctx, key, now)
}

func (d *downCounters) NoteCounter(ctx context.Context, key, note string) error {
	if err := d.err(); err != nil {
		return err
	}
	return d.Store.NoteCounter(ctx, key, note)
}

func (d *downCounters) ResetCounter(ctx context.Context, key string) (string, error) {
	if err := d.err(); err != nil {
		return "", err
	}
	return d.Store.ResetCounter(ctx, key)
}

func (d *downCounters) ReserveCounters(ctx context.Context, r store.CounterReserve) (store.CounterReserved, error) {
	if err := d.err(); err != nil {
		return store.CounterReserved{}, err
	}
	return d.steps.ReserveCounters(ctx, r)
}

func (d *downCounters) UndoCounters(ctx context.Context, keys []string, viaNote bool, now time.Time) error {
	if err := d.err(); err != nil {
		return err
	}
	return d.steps.UndoCounters(ctx, keys, viaNote, now)
}

func (d *downCounters) ClearCounters(ctx context.Context, key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
	if err := d.err(); err != nil {
		return store.Counter{}, err
	}
	return d.steps.ClearCounters(ctx, key, undo, look, now)
}

func (d *downCounters) NoteHitCounter(ctx context.Context, key string, h store.CounterHit, look int) (store.Counter, error) {
	if err := d.err(); err != nil {
		return store.Counter{}, err
	}
	return d.steps.NoteHitCounter(ctx, key, h, look)
}

// callsOnly is a store without its counter steps (the throttle then makes one call per
// counter, as on a store that has none).
type callsOnly struct{ store.Store }

// openSQLite is an empty in-memory SQLite store, closed when t ends.
func openSQLite(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(t.Context(), sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// downStores are the counters that are down: with the store's steps and with calls only.
var downStores = []struct {
	name string
	wrap func(store.Store) store.Store
}{
	{"steps", func(s store.Store) store.Store { return newDownCounters(s) }},
	{"calls", func(s store.Store) store.Store { return callsOnly{newDownCounters(s)} }},
}

// TestFakesConformance: the throttle tests' fakes pass the store conformance suite over SQLite
// in the state the tests use them in (downCounters up, as its tests start it down only to see
// the throttle fail closed): they change nothing of what the store they wrap does.
func TestFakesConformance(t *testing.T) {
	for _, fake := range []struct {
		name string
		wrap func(store.Store) store.Store
	}{
		{"recordingCounters", func(s store.Store) store.Store { return newRecordingCounters(s) }},
		{"downCounters", func(s store.Store) store.Store {
			d := newDownCounters(s)
			d.down.Store(false)
			return d
		}},
		{"callsOnly", func(s store.Store) store.Store { return callsOnly{s} }},
	} {
		t.Run(fake.name, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store { return fake.wrap(openSQLite(t)) })
		})
	}
}

func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) && errors.Is(err, errDown) }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
