package throttle

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// recordingCounters records the keys it is given (and counts nothing).
type recordingCounters struct {
	mu   sync.Mutex
	keys []string
}

func (r *recordingCounters) add(ks ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.keys = append(r.keys, ks...)
}

func (r *recordingCounters) HitCounter(_ context.Context, h store.CounterHit) (store.Counter, error) {
	r.add(h.Key)
	return store.Counter{Count: h.Delta}, nil
}
func (r *recordingCounters) UndoCounter(_ context.Context, key string, _ time.Time) (string, error) {
	r.add(key)
	return "", nil
}
func (r *recordingCounters) NoteCounter(_ context.Context, key, note string) error {
	r.add(key, note)
	return nil
}
func (r *recordingCounters) ResetCounter(_ context.Context, key string) (string, error) {
	r.add(key)
	return "", nil
}

// failingCounters fails every call, as a store that is down does.
type failingCounters struct{}

var errDown = errors.New("store down")

func (failingCounters) HitCounter(context.Context, store.CounterHit) (store.Counter, error) {
	return store.Counter{}, errDown
}
func (failingCounters) UndoCounter(context.Context, string, time.Time) (string, error) {
	return "", errDown
}
func (failingCounters) NoteCounter(context.Context, string, string) error    { return errDown }
func (failingCounters) ResetCounter(context.Context, string) (string, error) { return "", errDown }

func isUnavailable(err error) bool { return errors.Is(err, ErrUnavailable) && errors.Is(err, errDown) }

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
