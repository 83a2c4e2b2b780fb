package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// waitWaiters waits until n goroutines are queued at g.
func waitWaiters(t *testing.T, g *fifoGate, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; {
		g.mu.Lock()
		k := len(g.waiters)
		g.mu.Unlock()
		if k == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", k, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFIFOGateOrder: waiters get the place in the order they came, whatever the scheduler does
// (database/sql's pool hands a connection to a random waiter).
func TestFIFOGateOrder(t *testing.T) {
	g := newFIFOGate(1)
	ctx := t.Context()
	if err := g.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 50
	served := make(chan int, n)
	var released sync.WaitGroup // every goroutine's release done before the gate is read
	for i := range n {
		released.Add(1)
		go func() {
			defer released.Done()
			if err := g.acquire(ctx); err != nil {
				t.Error(err)
				return
			}
			served <- i
			g.release()
		}()
		waitWaiters(t, g, i+1) // i is queued before i+1 starts
	}
	g.release()
	var order []int
	for range n {
		order = append(order, <-served)
	}
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(order, want) {
		t.Fatalf("served in order %v", order)
	}
	released.Wait()
	if g.free != 1 || len(g.waiters) != 0 {
		t.Fatalf("gate after all released: free %d, %d waiters", g.free, len(g.waiters))
	}
}

// TestFIFOGateCancel: a waiter whose context ends leaves the queue and the place goes to the
// next one.
func TestFIFOGateCancel(t *testing.T) {
	g := newFIFOGate(1)
	if err := g.acquire(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	gone := make(chan error)
	go func() { gone <- g.acquire(ctx) }()
	waitWaiters(t, g, 1)
	next := make(chan error)
	go func() { next <- g.acquire(t.Context()) }()
	waitWaiters(t, g, 2)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	g.release()
	if err := <-next; err != nil {
		t.Fatalf("next waiter: %v", err)
	}
	g.release()
	if g.free != 1 || len(g.waiters) != 0 {
		t.Fatalf("gate after all released: free %d, %d waiters", g.free, len(g.waiters))
	}
}

// goroutinesCreated is the process's count of goroutines started so far.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestSingleRowReadsStartNoGoroutine: a sign-in's single-row reads (the auth request at the
// form post, by code at the token endpoint, the member's factors) start no goroutine, even
// under a cancellable request context. Before, database/sql (Rows.awaitDone) and the driver
// (interruptOnDone) each started one per read to watch the context.
func TestSingleRowReadsStartNoGoroutine(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "reads.db"), WithCheckpointInterval(time.Hour))
	ctx, cancel := context.WithCancel(t.Context()) // a request's context: cancellable
	defer cancel()
	now := time.Now()
	ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", RedirectURI: "https://app.example/cb",
		Scopes: []string{"openid"}, ResponseType: "code", CreatedAt: now, ExpiresAt: now.Add(time.Hour), Browser: "b"}
	if err := s.CreateAuthRequest(ctx, ar); err != nil {
		t.Fatal(err)
	}
	const n = 200
	before := goroutinesCreated()
	for range n {
		if _, err := s.AuthRequest(ctx, ar.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CodeRequest(ctx, ar.ID); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("code request of a request without a code: %v, want ErrNotFound", err)
		}
		if _, err := s.FactorPresence(ctx, "subject"); err != nil {
			t.Fatal(err)
		}
	}
	// A few may be the store's own background work; one per read would be 3n, two 6n.
	if got := goroutinesCreated() - before; got > n/10 {
		t.Errorf("%d goroutines started by %d reads, want none", got, 3*n)
	}
}
