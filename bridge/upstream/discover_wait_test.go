package upstream

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestDiscoveryDoesNotQueueCallers (review s11 Z8): while the provider's discovery hangs, a
// sign-in whose request ends gets ErrUnavailable at once instead of waiting behind the fetch
// in front of it (the lock was held across the fetch), the fetch is shared (one request to the
// provider), and its result serves the callers after it.
func TestDiscoveryDoesNotQueueCallers(t *testing.T) {
	f := newFakeOP(t)
	release := make(chan struct{})
	var hits atomic.Int32
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			hits.Add(1)
			<-release
		}
		inner.ServeHTTP(w, r)
	})
	p := f.provider(nil)

	first := make(chan error, 1)
	go func() { _, err := p.discover(context.Background()); first <- err }()
	for hits.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	second := make(chan error, 1)
	go func() { _, err := p.discover(short); second <- err }()
	select {
	case err := <-second:
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("a caller whose request ended during the fetch: %v, want ErrUnavailable", err)
		}
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("a caller whose request ended waited for the fetch in front of it")
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the first caller: %v", err)
	}
	if _, err := p.discover(context.Background()); err != nil {
		t.Fatalf("after the fetch: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("discovery fetched %d times, want 1 (shared by the callers that waited, kept after)", n)
	}
}
