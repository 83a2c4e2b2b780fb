package throttle

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
)

func TestThrottle(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	th := New(config.ThrottleConfig{PerLogin: 4, PerIP: 10, Window: time.Minute, Lockout: 5 * time.Minute})
	th.now = func() time.Time { return now }
	fail := func(login, ip string) time.Duration { _, r := th.Check(login, ip); return r }
	if d, r := th.Check("alice", "1.2.3.4"); d != 0 || r != 0 {
		t.Fatalf("fresh: %v %v", d, r)
	}
	fail("Alice ", "1.2.3.4") // the same login, spelled differently
	if d, r := th.Check("alice", "1.2.3.4"); d == 0 || r != 0 {
		t.Fatalf("after 2 of 4 attempts want slowing, got %v %v", d, r)
	}
	fail("alice", "5.6.7.8")
	if r := fail("alice", "8.8.8.8"); r <= 0 {
		t.Fatal("login not refused after 4 failed attempts from several IPs")
	}
	if _, r := th.Check("bob", "1.2.3.4"); r != 0 {
		t.Fatal("another login refused")
	}
	now = now.Add(6 * time.Minute)
	if _, r := th.Check("alice", "1.2.3.4"); r != 0 {
		t.Fatal("still refused after the lockout")
	}
	// A verified attempt is taken back; one the AMS could not verify too.
	for range 10 {
		th.Check("carol", "9.9.9.9")
		th.Succeed("carol", "9.9.9.9")
	}
	if _, r := th.Check("carol", "9.9.9.9"); r != 0 {
		t.Fatal("successes counted as failures")
	}
	for range 10 {
		th.Check("dan", "7.7.7.7")
		th.Release("dan", "7.7.7.7")
	}
	if _, r := th.Check("dan", "7.7.7.7"); r != 0 {
		t.Fatal("unverifiable attempts counted as failures")
	}
	// Per IP: many logins from one address.
	for i := range 10 {
		fail("user"+string(rune('a'+i)), "6.6.6.6")
	}
	if _, r := th.Check("someone-new", "6.6.6.6"); r <= 0 {
		t.Fatal("IP not refused after 10 failures")
	}
}

// TestThrottleParallelAttempts: attempts in flight count before they are verified, so parallel
// guesses cannot all pass the check.
func TestThrottleParallelAttempts(t *testing.T) {
	th := New(config.ThrottleConfig{PerLogin: 5, PerIP: 1000, Window: time.Minute, Lockout: time.Minute})
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, r := th.Check("alice", fmt.Sprint("10.0.0.", i)); r == 0 {
				passed.Add(1)
			}
		}()
	}
	wg.Wait()
	if passed.Load() != 5 {
		t.Fatalf("%d of 40 parallel attempts passed, want 5", passed.Load())
	}
}
