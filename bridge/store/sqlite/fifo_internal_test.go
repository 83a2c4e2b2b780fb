package sqlite

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
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
