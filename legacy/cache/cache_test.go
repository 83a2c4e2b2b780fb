package cache

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func setup(t *testing.T) (*fake, *Directory, *clock) {
	t.Helper()
	f := newFake()
	clk := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return f, New(f, Options{TTL: time.Minute, Size: 100, Now: clk.now}), clk
}

var ctx = context.Background()

func TestLookupsAreCachedAcrossIndexes(t *testing.T) {
	f, c, clk := setup(t)
	m, err := c.MemberByLogin(ctx, "alice")
	if err != nil || m.Key != "K1" {
		t.Fatalf("MemberByLogin = %v, %v", m, err)
	}
	// same member under another spelling, by key and (not yet) by id
	for _, login := range []string{"ALICE", " Alice "} {
		if _, err := c.MemberByLogin(ctx, login); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.MemberByKey(ctx, "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MemberByID(ctx, "1001"); err != nil {
		t.Fatal(err)
	}
	if f.n("login") != 1 || f.n("key") != 0 || f.n("id") != 0 {
		t.Fatalf("calls = %v", f.calls)
	}
	// NFC: "zoe\u0308" is "zoë"
	if _, err := c.MemberByLogin(ctx, "zoë"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.MemberByLogin(ctx, "zoe\u0308"); err != nil {
		t.Fatal(err)
	}
	if f.n("login") != 2 {
		t.Fatalf("NFC forms not shared: %v", f.calls)
	}
	hits, misses := c.Stats()
	if hits != 5 || misses != 2 {
		t.Fatalf("stats = %d hits %d misses", hits, misses)
	}
	clk.add(time.Minute)
	if _, err := c.MemberByKey(ctx, "K1"); err != nil {
		t.Fatal(err)
	}
	if f.n("key") != 1 {
		t.Fatal("expired entry served")
	}
}

func TestReturnedMembersAreCopies(t *testing.T) {
	_, c, _ := setup(t)
	m, _ := c.MemberByKey(ctx, "K1")
	m.FullName = "mutated"
	m.Extra["chapter"] = "mutated"
	again, _ := c.MemberByKey(ctx, "K1")
	if again.FullName != "Alice A" || again.Extra["chapter"] != "N" {
		t.Fatalf("cache entry was mutated through a returned member: %+v", again)
	}
	r, _ := c.Roles(ctx, "K1")
	r[0] = "mutated"
	if r2, _ := c.Roles(ctx, "K1"); r2[0] != "Member" {
		t.Fatal("roles mutated")
	}
}

// TestSharedMemberByKey: SharedMemberByKey answers from the same cache as MemberByKey (one
// fetch for both), returns the cached member itself on a hit (no copy: the caller only reads),
// never a member MemberByKey's callers can reach (they get copies), and does not cache errors.
func TestSharedMemberByKey(t *testing.T) {
	f, c, _ := setup(t)
	fetched, err := c.SharedMemberByKey(ctx, "K1")
	if err != nil || fetched.FullName != "Alice A" || fetched.Extra["chapter"] != "N" || len(fetched.Roles) != 1 {
		t.Fatalf("%+v %v", fetched, err)
	}
	a, _ := c.SharedMemberByKey(ctx, "k1")
	b, _ := c.SharedMemberByKey(ctx, "{K1}")
	if a != b || a == fetched {
		t.Fatal("a hit is not the cached member itself")
	}
	cp, _ := c.MemberByKey(ctx, "K1")
	if cp == a || !reflect.DeepEqual(cp, a) {
		t.Fatalf("MemberByKey returned the shared member or a different one: %+v", cp)
	}
	cp.Extra["chapter"] = "mutated"
	cp.Roles[0] = "mutated"
	if a.Extra["chapter"] != "N" || a.Roles[0] != "Member" {
		t.Fatal("the shared member changed through a copy")
	}
	if f.n("key") != 1 {
		t.Fatalf("key lookups = %d, want 1", f.n("key"))
	}
	f.fail = legacy.Unavailable("test", errors.New("down"))
	if _, err := c.SharedMemberByKey(ctx, "K2"); !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatal(err)
	}
	f.fail = nil
	if m, err := c.SharedMemberByKey(ctx, "K2"); err != nil || m.Login != "zoë" {
		t.Fatalf("%+v %v", m, err)
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	f, c, _ := setup(t)
	if _, err := c.MemberByLogin(ctx, "nobody"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := c.MemberByLogin(ctx, "nobody"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatal(err)
	}
	f.fail = legacy.Unavailable("test", errors.New("down"))
	if _, err := c.MemberByKey(ctx, "K1"); !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatal(err)
	}
	f.fail = nil
	if _, err := c.MemberByKey(ctx, "K1"); err != nil {
		t.Fatal(err)
	}
	if f.n("login") != 2 || f.n("key") != 2 {
		t.Fatalf("calls = %v", f.calls)
	}
}

func TestAuthenticateAlwaysAsksAndSkipsCachedRoles(t *testing.T) {
	f, c, _ := setup(t)
	for i := 0; i < 3; i++ {
		m, err := c.Authenticate(ctx, "alice", "pw")
		if err != nil || len(m.Roles) != 1 || m.Roles[0] != "Member" {
			t.Fatalf("Authenticate = %+v, %v", m, err)
		}
	}
	if _, err := c.Authenticate(ctx, "alice", "wrong"); !errors.Is(err, legacy.ErrBadCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if f.n("auth-noroles") != 4 {
		t.Fatalf("password checks = %d, want 4 (never cached)", f.n("auth-noroles"))
	}
	if f.n("roles") != 1 {
		t.Fatalf("roles queries = %d, want 1 (cached after the first)", f.n("roles"))
	}
	// Authenticate filled the member cache.
	if _, err := c.MemberByKey(ctx, "K1"); err != nil || f.n("key") != 0 {
		t.Fatalf("member not cached by Authenticate: %v %v", err, f.calls)
	}
	// Cached lookups carry the roles, as the wrapped lookups do (issue 11: the cache used to
	// strip them, and every app got roles: []).
	if m, _ := c.MemberByKey(ctx, "K1"); len(m.Roles) != 1 || m.Roles[0] != "Member" {
		t.Fatalf("cached lookup lost the roles: %v", m.Roles)
	}
}

// TestSignInsDoNotExtendCachedRoles: roles read from the cache at a sign-in keep the age they
// have. A member who signs in more often than the TTL used to keep the roles of the first
// sign-in forever (each sign-in put them back with a new TTL, in the role and member
// indexes): a role taken away in the AMS was never seen.
func TestSignInsDoNotExtendCachedRoles(t *testing.T) {
	f, c, clk := setup(t) // TTL 1m
	if m, err := c.Authenticate(ctx, "alice", "pw"); err != nil || len(m.Roles) != 1 {
		t.Fatalf("Authenticate = %+v, %v", m, err)
	}
	f.mu.Lock()
	f.roles["K1"] = []string{} // the role is taken away in the AMS
	f.mu.Unlock()
	for range 5 { // sign-ins every 20 s, for 100 s
		clk.add(20 * time.Second)
		m, err := c.Authenticate(ctx, "alice", "pw")
		if err != nil {
			t.Fatal(err)
		}
		if clk.t.Sub(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) >= time.Minute && len(m.Roles) != 0 {
			t.Fatalf("after %v the sign-in still carries the roles of the first: %v", clk.t.Sub(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), m.Roles)
		}
		if mk, _ := c.MemberByKey(ctx, "K1"); len(mk.Roles) != len(m.Roles) {
			t.Fatalf("cached member's roles %v, the sign-in's %v", mk.Roles, m.Roles)
		}
	}
	if f.n("roles") != 2 {
		t.Fatalf("roles queries = %d, want 2 (the first sign-in, then once the roles expired)", f.n("roles"))
	}
}

func TestAuthenticateWithoutRolelessDirectory(t *testing.T) {
	f := newFake()
	c := New(plain{f}, Options{})
	for i := 0; i < 2; i++ {
		if m, err := c.Authenticate(ctx, "alice", "pw"); err != nil || len(m.Roles) != 1 {
			t.Fatalf("Authenticate = %+v, %v", m, err)
		}
	}
	if f.n("auth") != 2 {
		t.Fatalf("auth calls = %d", f.n("auth"))
	}
	if r, err := c.Roles(ctx, "K1"); err != nil || len(r) != 1 || f.n("roles") != 0 {
		t.Fatalf("roles not filled from Authenticate: %v %v %v", r, err, f.calls)
	}
}

func TestChangedSinceRefreshesAndDropsRoles(t *testing.T) {
	f, c, _ := setup(t)
	c.Roles(ctx, "K1")
	c.MemberByKey(ctx, "K1")
	f.mu.Lock()
	f.members["K1"].FullName = "Alice Changed"
	f.roles["K1"] = []string{"Board"}
	f.mu.Unlock()
	for i := 0; i < 2; i++ {
		if _, _, err := c.ChangedSince(ctx, time.Time{}, 10); err != nil {
			t.Fatal(err)
		}
	}
	if f.n("changes") != 2 {
		t.Fatal("ChangedSince cached")
	}
	m, _ := c.MemberByKey(ctx, "K1")
	if m.FullName != "Alice Changed" || f.n("key") != 1 {
		t.Fatalf("member not refreshed: %+v %v", m, f.calls)
	}
	if r, _ := c.Roles(ctx, "K1"); len(r) != 1 || r[0] != "Board" {
		t.Fatalf("roles not dropped: %v", r)
	}
}

func TestInvalidateAndPurge(t *testing.T) {
	f, c, _ := setup(t)
	c.MemberByLogin(ctx, "alice")
	c.Roles(ctx, "K1")
	c.Invalidate("k1")
	c.MemberByLogin(ctx, "alice")
	c.Roles(ctx, "K1")
	// The lookups bring the roles: Roles is answered from them.
	if f.n("login") != 2 || f.n("roles") != 0 {
		t.Fatalf("Invalidate: %v", f.calls)
	}
	c.Purge()
	c.MemberByKey(ctx, "K1")
	if f.n("key") != 1 {
		t.Fatalf("Purge: %v", f.calls)
	}
}

func TestRenamedLoginIsNotServedStale(t *testing.T) {
	f, c, _ := setup(t)
	c.MemberByLogin(ctx, "alice")
	f.mu.Lock()
	f.members["K1"].Login = "alice2"
	f.mu.Unlock()
	c.MemberByKey(ctx, "K1") // cached: still alice
	c.Invalidate("K1")
	if _, err := c.MemberByKey(ctx, "K1"); err != nil { // refetched as alice2
		t.Fatal(err)
	}
	if _, err := c.MemberByLogin(ctx, "alice"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("old login served from cache: %v", err)
	}
}

func TestSizeBound(t *testing.T) {
	l := newLRU[int](3)
	now := time.Now()
	for i, k := range []string{"a", "b", "c", "d"} {
		l.put(k, i, now.Add(time.Hour))
	}
	if l.len() != 3 {
		t.Fatalf("len = %d", l.len())
	}
	if _, ok := l.get("a", now); ok {
		t.Fatal("oldest entry kept")
	}
	l.get("b", now) // b becomes most recent
	l.put("e", 5, now.Add(time.Hour))
	if _, ok := l.get("b", now); !ok {
		t.Fatal("recently used entry evicted")
	}
	if _, ok := l.get("c", now); ok {
		t.Fatal("least recently used entry kept")
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	f, c, _ := setup(t)
	f.block = make(chan struct{})
	var wg sync.WaitGroup
	var errs atomic.Int32
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.MemberByKey(ctx, "K1"); err != nil {
				errs.Add(1)
			}
		}()
	}
	// let the goroutines pile up on the one in-flight fetch
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if _, misses := c.Stats(); misses == 20 {
			break
		}
	}
	close(f.block)
	wg.Wait()
	if errs.Load() != 0 {
		t.Fatal("errors")
	}
	if n := f.n("key"); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
}

func TestCancelledWaiterDoesNotFailOthers(t *testing.T) {
	f, c, _ := setup(t)
	f.block = make(chan struct{})
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := c.MemberByKey(cctx, "K1")
		done <- err
	}()
	for f.n("key") == 0 {
		time.Sleep(time.Millisecond)
	}
	other := make(chan error, 1)
	go func() {
		_, err := c.MemberByKey(ctx, "K1")
		other <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(f.block)
	if err := <-other; err != nil {
		t.Fatalf("other caller failed: %v", err)
	}
}

// TestFlightDetachedFromCallers: the shared fetch runs under a context of its own, bounded by
// the fetch timeout: the caller that started it giving up ends neither the fetch nor the wait
// of the callers that share it, and they get its value.
func TestFlightDetachedFromCallers(t *testing.T) {
	var f flight[string]
	started, release := make(chan context.Context, 1), make(chan struct{})
	fetch := func(fctx context.Context) (string, error) {
		started <- fctx
		select {
		case <-release:
			return "v", nil
		case <-fctx.Done():
			return "", fctx.Err()
		}
	}
	first, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := f.do(first, "k", time.Hour, fetch)
		done <- err
	}()
	fctx := <-started
	if d, ok := fctx.Deadline(); !ok || time.Until(d) > time.Hour {
		t.Errorf("the fetch's deadline %v (set %v), want within the fetch timeout", d, ok)
	}
	cancel()
	if err := <-done; !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v, want ErrUnavailable wrapping its cancellation", err)
	}
	if err := fctx.Err(); err != nil {
		t.Fatalf("the shared fetch ended with the caller that started it: %v", err)
	}
	close(release)
	if v, err := f.do(ctx, "k", time.Hour, fetch); err != nil || v != "v" {
		t.Fatalf("after the release: %q %v", v, err)
	}
}

func TestPing(t *testing.T) {
	f, c, _ := setup(t)
	if err := c.Ping(ctx); err != nil || f.n("ping") != 1 {
		t.Fatal(err)
	}
	if c.Unwrap() != legacy.Directory(f) {
		t.Fatal("Unwrap")
	}
}

func TestWrap(t *testing.T) {
	f := newFake()
	if d := Wrap(f, Options{Size: -1}); d != legacy.Directory(f) {
		t.Fatal("negative size did not disable the cache")
	}
	if _, ok := Wrap(f, Options{}).(*Directory); !ok {
		t.Fatal("Wrap did not cache")
	}
}

// BenchmarkMemberByKeyHit: a cached member as every refresh grant's member re-check reads it:
// a copy (MemberByKey) or the cached member itself (SharedMemberByKey, the hooks' way).
func BenchmarkMemberByKeyHit(b *testing.B) {
	f := newFake()
	f.members["K1"].Extra = map[string]string{"chapter": "N", "level": "Gold", "region": "West", "company_id": "77"}
	f.roles["K1"] = []string{"Board", "Member", "Staff"}
	c := New(f, Options{})
	for _, bc := range []struct {
		name   string
		lookup func(context.Context, string) (*legacy.Member, error)
	}{{"copy", c.MemberByKey}, {"shared", c.SharedMemberByKey}} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := bc.lookup(ctx, "K1"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.lookup(ctx, "K1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestFreshMemberByKey (session 26, review s25 Y-7): the confirming read asks the wrapped
// directory even when the member is cached, and what it read replaces the cached member; a
// member the AMS no longer knows is dropped from the cache, not served from it.
func TestFreshMemberByKey(t *testing.T) {
	f, c, _ := setup(t)
	if _, err := c.MemberByKey(ctx, "K1"); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.members["K1"].FullName = "Alice Changed"
	f.mu.Unlock()
	for i := 1; i <= 2; i++ {
		m, err := c.FreshMemberByKey(ctx, "K1")
		if err != nil || m.FullName != "Alice Changed" || f.n("key") != 1+i {
			t.Fatalf("FreshMemberByKey #%d = %+v, %v; %d reads of the directory, want %d", i, m, err, f.n("key"), 1+i)
		}
	}
	if m, _ := c.MemberByKey(ctx, "K1"); m.FullName != "Alice Changed" || f.n("key") != 3 {
		t.Fatalf("cached after the fresh read: %+v, %d reads; want the fresh member from the cache", m, f.n("key"))
	}
	f.mu.Lock()
	delete(f.members, "K1")
	f.mu.Unlock()
	if _, err := c.FreshMemberByKey(ctx, "K1"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("FreshMemberByKey of a member gone: %v, want ErrNotFound", err)
	}
	if _, err := c.MemberByKey(ctx, "K1"); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("MemberByKey after the fresh read found it gone: %v, want ErrNotFound (not the cached member)", err)
	}
}

// committedDir is the fake with its own FreshMemberByKey (as sqldir's, which runs
// member_by_key_committed), counted apart from MemberByKey so the test sees which ran. It
// answers what MemberByKey answers, as the directory contract asks of a confirming read on
// unchanged data (legacy/directorytest).
type committedDir struct{ *fake }

func (c committedDir) FreshMemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	c.count("fresh")
	return c.find(ctx, func(m *legacy.Member) bool { return m.Key == key })
}

// TestFreshMemberByKeyReadsCommitted (session 26, review s26 R3-4): when the wrapped directory
// has its own FreshMemberByKey (the committed read), the cache's confirming read is that one,
// not member_by_key (which reads WITH (NOLOCK)).
func TestFreshMemberByKeyReadsCommitted(t *testing.T) {
	f := newFake()
	c := New(committedDir{f}, Options{TTL: time.Minute, Size: 100})
	m, err := c.FreshMemberByKey(ctx, "K1")
	if err != nil || m.Key != "K1" || f.n("fresh") != 1 || f.n("key") != 0 {
		t.Fatalf("FreshMemberByKey = %+v, %v, %d committed reads, %d by member_by_key; want the wrapped directory's FreshMemberByKey only", m, err, f.n("fresh"), f.n("key"))
	}
}
