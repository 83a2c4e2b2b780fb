//go:build unix

package sqlite

import (
	"context"
	"net"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollTurnRunsPolledRequests: with one processor, a goroutine waiting for bytes that have
// arrived runs only once the runtime polls the network, which a Gosched does not make it do
// (the yielding goroutine is queued before the poll); pollTurn.wait and a Gosched (waitPoll)
// let it run first. Without the wait, the goroutine has not run (checked as well: a request
// that a leader's batch would miss).
func TestPollTurnRunsPolledRequests(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	var p pollTurn
	defer p.close()

	const rounds = 20
	var ranAfterYield, ranAfterWait int
	for i := range rounds {
		var ran atomic.Bool
		done := make(chan struct{})
		go func() { // a request: its bytes, then its work
			defer close(done)
			var b [1]byte
			if _, err := sc.Read(b[:]); err == nil {
				ran.Store(true)
			}
		}()
		time.Sleep(2 * time.Millisecond) // the request parks in its read; the runtime has polled just now
		if _, err := c.Write([]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		runtime.Gosched() // what a leader did before waitPoll
		if ran.Load() {
			ranAfterYield++
		}
		if err := p.wait(); err != nil {
			t.Fatal(err)
		}
		runtime.Gosched()
		if ran.Load() {
			ranAfterWait++
		}
		<-done
	}
	t.Logf("of %d requests, %d ran after a Gosched, %d after pollTurn.wait and a Gosched", rounds, ranAfterYield, ranAfterWait)
	// A loaded host may deliver a loopback write late (ksoftirqd): allow a few.
	if ranAfterWait < rounds*3/4 {
		t.Errorf("%d of %d requests ran after pollTurn.wait", ranAfterWait, rounds)
	}
	if ranAfterYield > rounds/4 {
		t.Errorf("%d of %d requests ran after a Gosched alone: this test does not show what pollTurn is for", ranAfterYield, rounds)
	}
}

// TestLeaderAloneDoesNotWait: a leader whose previous batch held one write does not wait for
// a poll (a store written to by one request at a time pays nothing), nor with more than one
// processor.
func TestLeaderAloneDoesNotWait(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "alone.db"))
	ctx := context.Background()
	q := s.writes
	for range 3 {
		if _, err := s.wexec(ctx, `INSERT OR REPLACE INTO revoked_access_tokens (id_hash, expires_at) VALUES ('x', 1)`); err != nil {
			t.Fatal(err)
		}
	}
	if runtime.GOMAXPROCS(0) > 1 {
		q.lastBatch.Store(2)
		if _, err := s.wexec(ctx, `INSERT OR REPLACE INTO revoked_access_tokens (id_hash, expires_at) VALUES ('x', 1)`); err != nil {
			t.Fatal(err)
		}
	}
	if n := q.polled.Load(); n != 0 {
		t.Errorf("%d polls waited for", n)
	}
}

// TestPollTurnClose: a wait on a closed pollTurn returns at once with an error; closing twice is fine.
func TestPollTurnClose(t *testing.T) {
	var p pollTurn
	if err := p.wait(); err != nil { // makes the pipe
		t.Fatal(err)
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(); err == nil {
		t.Error("wait after close: no error")
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
}

// TestPollTurnWaitsReturn (end-of-session review s13 RV1-1): every wait returns, with one
// processor and with several (where another processor's poll can find the byte before the
// leader parks). The byte is written after rc.Read has cleared the pipe's readiness, so a poll
// that finds it before the park is kept; written before (98a60f3, by a helper goroutine woken
// by the leader), such a poll was wiped and the leader parked for good holding the queue.
func TestPollTurnWaitsReturn(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		func() {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var p pollTurn
			defer p.close()
			done := make(chan error, 1)
			go func() {
				for range 2000 {
					if err := p.wait(); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("GOMAXPROCS=%d: %v", procs, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("GOMAXPROCS=%d: a wait did not return", procs)
			}
		}()
	}
}
