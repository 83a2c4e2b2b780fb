package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// counterTests share one store (one schema, not ten, for the PostgreSQL suite): each runs on
// its own key prefix (prefixed), and Purge, which sees every counter, runs last.
var counterTests = []test{{"All", func(t *testing.T, h *H) {
	for _, tc := range []test{
		{"LimitThenLockout", testCounterLimitThenLockout},
		{"WindowExpires", testCounterWindowExpires},
		{"LockUntilWindowEnd", testCounterLockUntilWindowEnd},
		{"Reset", testCounterReset},
		{"Undo", testCounterUndo},
		{"LookCreatesNothing", testCounterLook},
		{"Note", testCounterNote},
		{"KeysIsolated", testCounterKeysIsolated},
		{"Steps", testCounterSteps},
		{"ConcurrentHits", func(t *testing.T, h *H) { ConcurrentHits(t, []store.CounterStore{h.S}, h.Now) }},
		{"Purge", testCounterPurge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, &H{T: t, S: prefixed{Store: h.S, prefix: tc.name + "/"}, Ctx: h.Ctx, Now: h.Now})
		})
	}
}}}

// prefixed is a store whose counter keys get a prefix.
type prefixed struct {
	store.Store
	prefix string
}

func (p prefixed) HitCounter(ctx context.Context, h store.CounterHit) (store.Counter, error) {
	h.Key = p.prefix + h.Key
	return p.Store.HitCounter(ctx, h)
}

func (p prefixed) UndoCounter(ctx context.Context, key string, now time.Time) (string, error) {
	return p.Store.UndoCounter(ctx, p.prefix+key, now)
}

func (p prefixed) NoteCounter(ctx context.Context, key, note string) error {
	return p.Store.NoteCounter(ctx, p.prefix+key, note)
}

func (p prefixed) ResetCounter(ctx context.Context, key string) (string, error) {
	return p.Store.ResetCounter(ctx, p.prefix+key)
}

// hit counts one event of key at at (limit 3, window 1 min, lockout 5 min unless changed).
func (h *H) hit(key string, at time.Time, mod ...func(*store.CounterHit)) store.Counter {
	h.T.Helper()
	ch := store.CounterHit{Key: key, Delta: 1, Limit: 3, Window: time.Minute, Lockout: 5 * time.Minute, Now: at}
	for _, f := range mod {
		f(&ch)
	}
	c, err := h.S.HitCounter(h.Ctx, ch)
	ssotest.NoErr(h.T, err, "HitCounter %s", key)
	return c
}

func look(ch *store.CounterHit)        { ch.Delta = 0 }
func untilWindow(ch *store.CounterHit) { ch.Lockout = 0 }

// The limit's events count (1, 2, 3); the next is refused and locks the counter for the
// lockout, during which every event is refused and nothing counts; after it, counting starts
// again.
func testCounterLimitThenLockout(t *testing.T, h *H) {
	for i := 1; i <= 3; i++ {
		c := h.hit("k", h.Now)
		if c.Refused(h.Now) || c.Count != i {
			t.Fatalf("hit %d: %+v", i, c)
		}
	}
	at := h.Now.Add(time.Second)
	c := h.hit("k", at)
	if !c.Refused(at) || !c.LockedUntil.Equal(at.Add(5*time.Minute)) {
		t.Fatalf("4th hit: %+v, want locked until %v", c, at.Add(5*time.Minute))
	}
	later := at.Add(2 * time.Minute) // the window ended, the lock has not
	if c := h.hit("k", later); !c.Refused(later) || !c.LockedUntil.Equal(at.Add(5*time.Minute)) {
		t.Fatalf("hit while locked: %+v", c)
	}
	after := at.Add(5 * time.Minute)
	if c := h.hit("k", after); c.Refused(after) || c.Count != 1 {
		t.Fatalf("hit after the lockout: %+v, want a new window's first", c)
	}
}

// A window opens at its first event and lasts Window: at its end the count starts afresh.
func testCounterWindowExpires(t *testing.T, h *H) {
	h.hit("k", h.Now)
	if c := h.hit("k", h.Now.Add(59*time.Second)); c.Count != 2 || !c.WindowEnd.Equal(h.Now.Add(time.Minute)) {
		t.Fatalf("within the window: %+v", c)
	}
	at := h.Now.Add(time.Minute)
	if c := h.hit("k", at); c.Refused(at) || c.Count != 1 || !c.WindowEnd.Equal(at.Add(time.Minute)) {
		t.Fatalf("at the window's end: %+v, want a new window", c)
	}
}

// Lockout 0 (a rate limit): the refusal lasts until the window ends, then a new one opens.
func testCounterLockUntilWindowEnd(t *testing.T, h *H) {
	for range 3 {
		h.hit("k", h.Now, untilWindow)
	}
	at := h.Now.Add(10 * time.Second)
	c := h.hit("k", at, untilWindow)
	if !c.Refused(at) || !c.LockedUntil.Equal(h.Now.Add(time.Minute)) {
		t.Fatalf("over the limit: %+v, want refused until the window's end", c)
	}
	end := h.Now.Add(time.Minute)
	if c := h.hit("k", end, untilWindow); c.Refused(end) || c.Count != 1 {
		t.Fatalf("next window: %+v", c)
	}
}

// Reset deletes a counter, locked or not; resetting an unknown one is no error.
func testCounterReset(t *testing.T, h *H) {
	for range 4 {
		h.hit("k", h.Now)
	}
	_, err := h.S.ResetCounter(h.Ctx, "k")
	ssotest.NoErr(t, err, "ResetCounter")
	note, err := h.S.ResetCounter(h.Ctx, "unknown")
	ssotest.NoErr(t, err, "ResetCounter unknown")
	if note != "" {
		t.Fatalf("note of an unknown counter: %q", note)
	}
	if c := h.hit("k", h.Now); c.Refused(h.Now) || c.Count != 1 {
		t.Fatalf("after reset: %+v", c)
	}
}

// Undo takes back one counted event within the window, never below zero, and not from a locked
// counter or a finished window.
func testCounterUndo(t *testing.T, h *H) {
	h.hit("k", h.Now)
	h.hit("k", h.Now)
	ssotest.NoErr(t, h.S.NoteCounter(h.Ctx, "k", "m"), "NoteCounter")
	for i := range 3 {
		note, err := h.S.UndoCounter(h.Ctx, "k", h.Now)
		ssotest.NoErr(t, err, "UndoCounter")
		if want := map[bool]string{true: "m", false: ""}[i < 2]; note != want {
			t.Fatalf("undo %d: note %q, want %q", i+1, note, want)
		}
	}
	if c := h.hit("k", h.Now); c.Count != 1 {
		t.Fatalf("after undoing 2 (and once more): count %d, want 1", c.Count)
	}
	_, err := h.S.UndoCounter(h.Ctx, "unknown", h.Now)
	ssotest.NoErr(t, err, "UndoCounter unknown")
	for range 3 {
		h.hit("k", h.Now)
	}
	_, err = h.S.UndoCounter(h.Ctx, "k", h.Now)
	ssotest.NoErr(t, err, "UndoCounter locked")
	if c := h.hit("k", h.Now.Add(time.Minute)); !c.Refused(h.Now.Add(time.Minute)) {
		t.Fatalf("undo unlocked a counter: %+v", c)
	}
}

// A look (Delta 0) counts nothing and creates no counter, but locks a counter at its limit.
func testCounterLook(t *testing.T, h *H) {
	if c := h.hit("k", h.Now, look); c != (store.Counter{}) {
		t.Fatalf("look at no counter: %+v", c)
	}
	if c := h.hit("k", h.Now); c.Count != 1 {
		t.Fatalf("look created a counter: %+v", c)
	}
	if c := h.hit("k", h.Now, look); c.Count != 1 || c.Refused(h.Now) {
		t.Fatalf("look counted: %+v", c)
	}
	h.hit("k", h.Now)
	h.hit("k", h.Now)
	if c := h.hit("k", h.Now, look); !c.Refused(h.Now) {
		t.Fatalf("look at a full counter: %+v, want locked", c)
	}
}

// A note stays with its counter and goes with it.
func testCounterNote(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.NoteCounter(h.Ctx, "k", "m"), "NoteCounter unknown")
	if c := h.hit("k", h.Now); c.Note != "" {
		t.Fatalf("note on a counter that did not exist: %+v", c)
	}
	ssotest.NoErr(t, h.S.NoteCounter(h.Ctx, "k", "member-hash"), "NoteCounter")
	if c := h.hit("k", h.Now); c.Note != "member-hash" {
		t.Fatalf("note: %+v", c)
	}
	note, err := h.S.ResetCounter(h.Ctx, "k")
	ssotest.NoErr(t, err, "ResetCounter")
	if note != "member-hash" {
		t.Fatalf("ResetCounter returned note %q", note)
	}
	if c := h.hit("k", h.Now); c.Note != "" {
		t.Fatalf("note after reset: %+v", c)
	}
}

// Counters of different keys do not touch each other.
func testCounterKeysIsolated(t *testing.T, h *H) {
	for range 4 {
		h.hit("a", h.Now)
	}
	if c := h.hit("b", h.Now); c.Refused(h.Now) || c.Count != 1 {
		t.Fatalf("b after a locked: %+v", c)
	}
	_, err := h.S.ResetCounter(h.Ctx, "b")
	ssotest.NoErr(t, err, "ResetCounter b")
	if c := h.hit("a", h.Now); !c.Refused(h.Now) {
		t.Fatalf("a after b reset: %+v", c)
	}
}

// Purge deletes counters whose window and lock are over, and keeps the others.
func testCounterPurge(t *testing.T, h *H) {
	h.hit("short", h.Now, untilWindow)
	for range 4 {
		h.hit("locked", h.Now)
	}
	_, err := h.S.Purge(h.Ctx, h.Now.Add(2*time.Minute))
	ssotest.NoErr(t, err, "Purge")
	at := h.Now.Add(2 * time.Minute)
	if c := h.hit("locked", at); !c.Refused(at) {
		t.Fatalf("purge deleted a locked counter: %+v", c)
	}
	// "short" ended: purged, so a look finds nothing.
	if c := h.hit("short", at, look); c != (store.Counter{}) {
		t.Fatalf("purge kept a finished counter: %+v", c)
	}
}

// ConcurrentHits: 40 hits on one counter with room for 7, spread over stores (one store, or
// several replicas' connection pools on one database) at the same moment: exactly 7 count and
// the others are refused; a second counter hit at the same time counts its own.
func ConcurrentHits(t *testing.T, stores []store.CounterStore, now time.Time) {
	const n, limit = 40, 7
	errs := ssotest.Parallel(n, func(i int) error {
		key := "shared"
		if i%5 == 4 {
			key = "other"
		}
		c, err := stores[i%len(stores)].HitCounter(t.Context(), store.CounterHit{Key: key, Delta: 1, Limit: limit,
			Window: time.Minute, Lockout: time.Minute, Now: now})
		if err != nil {
			return err
		}
		if c.Refused(now) {
			return errRefused
		}
		return nil
	})
	counted := map[bool]int{}
	for i, err := range errs {
		switch {
		case err == nil:
			counted[i%5 == 4]++
		case err != errRefused:
			t.Fatalf("hit %d: %v", i, err)
		}
	}
	if counted[false] != limit || counted[true] != limit {
		t.Fatalf("%d hits of one counter and %d of another counted, want %d each", counted[false], counted[true], limit)
	}
}

var errRefused = fmt.Errorf("refused")

// The steps (store.CounterSteps), on a store that has them, do what their calls would do one
// after another: the noted counter is the one the first counter's note names, a refusal is a
// hit's, an undo through the note only follows an undo of the first counter, a clear resets
// the noted counter too, a note and hit counts once per member.
func testCounterSteps(t *testing.T, h *H) {
	p, ok := h.S.(prefixed)
	if !ok {
		t.Fatalf("store %T: not prefixed", h.S)
	}
	st, ok := p.Store.(store.CounterSteps)
	if !ok {
		t.Skipf("%T has no counter steps", p.Store)
	}
	k := func(name string) string { return p.prefix + name }
	hit := func(key string, limit int) store.CounterHit {
		return store.CounterHit{Key: key, Delta: 1, Limit: limit, Window: time.Minute, Lockout: 5 * time.Minute, Now: h.Now}
	}
	reserve := func(want ...int) store.CounterReserved {
		t.Helper()
		r, err := st.ReserveCounters(h.Ctx, store.CounterReserve{Hits: []store.CounterHit{hit(k("login"), 3), hit(k("ip"), 5)},
			Noted: hit("", 3)})
		ssotest.NoErr(t, err, "ReserveCounters")
		got := []int{r.Counters[0].Count, r.Counters[1].Count}
		if r.NotedKey != "" {
			got = append(got, r.Noted.Count)
		}
		ssotest.Equal(t, got, want, "counts after ReserveCounters")
		return r
	}
	count := func(key string) int { // a look
		t.Helper()
		c, err := p.Store.HitCounter(h.Ctx, store.CounterHit{Key: key, Limit: 1 << 30, Window: time.Minute, Now: h.Now})
		ssotest.NoErr(t, err, "HitCounter look")
		return c.Count
	}
	if r := reserve(1, 1); r.NotedKey != "" || r.Counters[0].Refused(h.Now) || r.Counters[0].WindowEnd.IsZero() {
		t.Fatalf("first reservation: %+v", r)
	}
	ssotest.NoErr(t, p.Store.NoteCounter(h.Ctx, k("login"), k("member")), "NoteCounter")
	if r := reserve(2, 2, 1); r.NotedKey != k("member") || r.Counters[0].Note != k("member") {
		t.Fatalf("reservation through the note: %+v", r)
	}
	ssotest.NoErr(t, st.UndoCounters(h.Ctx, []string{k("login"), k("ip")}, true, h.Now), "UndoCounters")
	if a, b, c := count(k("login")), count(k("ip")), count(k("member")); a != 1 || b != 1 || c != 0 {
		t.Fatalf("after undo through the note: %d %d %d, want 1 1 0", a, b, c)
	}
	reserve(2, 2, 1)
	reserve(3, 3, 2)
	// The login is full: its hit is refused and locks it, the others count.
	r := reserve(0, 4, 3) // a hit that locks a counter empties it
	if !r.Counters[0].Refused(h.Now) || r.Counters[1].Refused(h.Now) || r.Noted.Refused(h.Now) {
		t.Fatalf("reservation at the login's limit: %+v", r)
	}
	// The login's undo does nothing (locked), so nothing is undone through its note.
	ssotest.NoErr(t, st.UndoCounters(h.Ctx, []string{k("login"), k("ip")}, true, h.Now), "UndoCounters locked")
	if b, c := count(k("ip")), count(k("member")); b != 3 || c != 3 {
		t.Fatalf("after undo of a locked login: ip %d, member %d; want 3 3", b, c)
	}
	// A clear resets the login and its member, and takes one back from the address.
	_, err := st.ClearCounters(h.Ctx, k("login"), k("ip"), store.CounterHit{}, h.Now)
	ssotest.NoErr(t, err, "ClearCounters")
	if a, b, c := count(k("login")), count(k("ip")), count(k("member")); a != 0 || b != 2 || c != 0 {
		t.Fatalf("after clear: %d %d %d, want 0 2 0", a, b, c)
	}
	_, err = st.ClearCounters(h.Ctx, k("none"), k("none-ip"), store.CounterHit{}, h.Now)
	ssotest.NoErr(t, err, "ClearCounters of no counter")
	// Note and hit: counts the member once per login that does not note it yet.
	reserve(1, 3)
	for range 2 {
		_, err = st.NoteHitCounter(h.Ctx, k("login"), hit(k("member2"), 1<<30), 0)
		ssotest.NoErr(t, err, "NoteHitCounter")
	}
	if c := count(k("member2")); c != 1 {
		t.Fatalf("member after two note-and-hits of one login: %d, want 1", c)
	}
	if r := reserve(2, 4, 2); r.NotedKey != k("member2") {
		t.Fatalf("noted key after NoteHitCounter: %q", r.NotedKey)
	}
	_, err = st.NoteHitCounter(h.Ctx, k("no-login"), hit(k("member3"), 1<<30), 0)
	ssotest.NoErr(t, err, "NoteHitCounter without a login counter")
	if c := count(k("member3")); c != 1 {
		t.Fatalf("member of a login without a counter: %d, want 1", c)
	}
	testNoteHitLook(t, h, p, st)
	testClearLook(t, h, p, st)
}

// testNoteHitLook: NoteHitCounter with a look (a failed sign-in's member check and failure in
// one step) does what its calls would do one after another, a look at the member's counter
// (HitCounter, Delta 0, the look's limit) and then the note and hit (a look at the login's
// counter, NoteCounter and HitCounter unless it notes the member), and answers the counter
// after them: the same counters (on another key prefix) and the same answers, in each case:
// no member counter yet, a look that changes nothing and a hit that counts (one change of a
// row), a login that notes the member already (the look alone), a look that locks the counter
// and a hit that then does not count, a locked counter, a window that ended.
func testNoteHitLook(t *testing.T, h *H, p prefixed, st store.CounterSteps) {
	type op struct {
		login, member string
		look          int
		at            time.Duration // after h.Now
		// the answer: count, locked
		count  int
		locked bool
	}
	ops := []op{
		{"a", "m1", 2, 0, 1, false},                // no member counter: the hit creates it
		{"a", "m1", 2, 0, 1, false},                // a notes m1: the look alone
		{"b", "m1", 2, 0, 2, false},                // b has no counter, notes nothing: the look, then the hit
		{"b", "m1", 2, time.Second, 0, true},       // the look finds the limit and locks; the hit does not count
		{"a", "m2", 0, time.Second, 1, false},      // no look; a notes m1: notes m2, counts it
		{"a", "m2", 0, time.Second, 0, false},      // notes m2 already, no look: nothing (zero counter)
		{"a", "m1", 3, 2 * time.Second, 0, true},   // m1 locked: the look and the hit leave it
		{"b", "m1", 2, 10 * time.Minute, 1, false}, // lock and window over: the look opens a window, the hit counts
		{"c", "m3", 1, 10 * time.Minute, 1, false}, // c notes nothing: m3 created
		{"c", "m3", 1, 10 * time.Minute, 0, true},  // the look locks m3 at 1
	}
	hitOf := func(key string, at time.Time) store.CounterHit {
		return store.CounterHit{Key: key, Delta: 1, Limit: 1 << 30, Window: time.Minute, Lockout: 5 * time.Minute, Now: at}
	}
	// calls is the step done with the calls it stands for.
	calls := func(login string, hc store.CounterHit, look int) (store.Counter, error) {
		var out store.Counter
		if look > 0 {
			l := hc
			l.Delta, l.Limit = 0, look
			c, err := p.Store.HitCounter(h.Ctx, l)
			if err != nil {
				return store.Counter{}, err
			}
			out = c
		}
		lc, err := p.Store.HitCounter(h.Ctx, store.CounterHit{Key: login, Limit: 1 << 30, Window: hc.Window, Lockout: hc.Lockout, Now: hc.Now})
		if err != nil || lc.Note == hc.Key {
			return out, err
		}
		if err := p.Store.NoteCounter(h.Ctx, login, hc.Key); err != nil {
			return store.Counter{}, err
		}
		return p.Store.HitCounter(h.Ctx, hc)
	}
	// The logins a and c have a counter (a reservation's), b none.
	for _, prefix := range []string{"steps/", "calls/"} {
		for _, l := range []string{"a", "c"} {
			_, err := p.Store.HitCounter(h.Ctx, hitOf(p.prefix+prefix+l, h.Now))
			ssotest.NoErr(t, err, "HitCounter")
		}
	}
	strip := func(c store.Counter, prefix string) store.Counter {
		c.Note = strings.TrimPrefix(c.Note, p.prefix+prefix)
		return c
	}
	for i, o := range ops {
		at := h.Now.Add(o.at)
		got, err := st.NoteHitCounter(h.Ctx, p.prefix+"steps/"+o.login, hitOf(p.prefix+"steps/"+o.member, at), o.look)
		ssotest.NoErr(t, err, "NoteHitCounter")
		want, err := calls(p.prefix+"calls/"+o.login, hitOf(p.prefix+"calls/"+o.member, at), o.look)
		ssotest.NoErr(t, err, "the calls")
		if g, w := strip(got, "steps/"), strip(want, "calls/"); g != w {
			t.Errorf("op %d %+v: NoteHitCounter answered %+v, its calls %+v", i, o, g, w)
		}
		if got.Count != o.count || got.Refused(at) != o.locked {
			t.Errorf("op %d %+v: NoteHitCounter answered %+v", i, o, got)
		}
		for _, key := range []string{"a", "b", "c", "m1", "m2", "m3"} {
			look := func(prefix string) store.Counter {
				c, err := p.Store.HitCounter(h.Ctx, store.CounterHit{Key: p.prefix + prefix + key, Limit: 1 << 30, Window: time.Minute, Now: at})
				ssotest.NoErr(t, err, "HitCounter look")
				return strip(c, prefix)
			}
			if g, w := look("steps/"), look("calls/"); g != w {
				t.Errorf("op %d %+v: counter %s after NoteHitCounter %+v, after its calls %+v", i, o, key, g, w)
			}
		}
	}

}

// testClearLook: ClearCounters with a look (a first successful sign-in's member check and its
// success in one step) does what its calls would do one after another, a look at the member's
// counter (HitCounter, Delta 0, the look's limit) and, unless the counter then refuses,
// ResetCounter of the login's, UndoCounter of the address's and ResetCounter of the counter the
// login's noted, and answers the looked-at counter when it refuses (else the zero Counter): the
// same counters (on another key prefix) and the same answers, in each case: no member counter,
// one below the limit, at the limit (the look locks it), locked already, the member the login
// notes itself (cleared, or locked and the login kept), a window that ended, no look.
func testClearLook(t *testing.T, h *H, p prefixed, st store.CounterSteps) {
	type op struct {
		hits    map[string]int // counted (limit 3) before the clear
		note    string         // the member the login notes before the clear ("": none)
		member  string         // the look's counter ("": no look)
		at      time.Duration  // the clear's time after h.Now
		refused bool
	}
	ops := []op{
		{hits: map[string]int{"a": 1, "ip": 2}, member: "m"},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 2, "m2": 1}, note: "m2", member: "m"},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 3, "m2": 1}, note: "m2", member: "m", refused: true},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 4}, member: "m", refused: true},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 2}, note: "m", member: "m"},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 3}, note: "m", member: "m", refused: true},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 3}, note: "m", member: "m", at: 2 * time.Minute},
		{hits: map[string]int{"a": 1, "ip": 2, "m": 3}, note: "m"},
	}
	const limit = 3
	hitOf := func(key string, at time.Time) store.CounterHit {
		return store.CounterHit{Key: key, Delta: 1, Limit: limit, Window: time.Minute, Lockout: 5 * time.Minute, Now: at}
	}
	lookOf := func(key string, at time.Time) store.CounterHit {
		if key == "" {
			return store.CounterHit{}
		}
		l := hitOf(key, at)
		l.Delta = 0
		return l
	}
	// calls is the step done with the calls it stands for.
	calls := func(key, undo string, look store.CounterHit, now time.Time) (store.Counter, error) {
		if look.Key != "" {
			c, err := p.Store.HitCounter(h.Ctx, look)
			if err != nil || c.Refused(look.Now) {
				return c, err
			}
		}
		note, err := p.Store.ResetCounter(h.Ctx, key)
		if err != nil {
			return store.Counter{}, err
		}
		if _, err := p.Store.UndoCounter(h.Ctx, undo, now); err != nil {
			return store.Counter{}, err
		}
		if note != "" {
			_, err = p.Store.ResetCounter(h.Ctx, note)
		}
		return store.Counter{}, err
	}
	for i, o := range ops {
		at := h.Now.Add(o.at)
		prefix := func(kind string) string { return fmt.Sprintf("%sclear-%s/%d/", p.prefix, kind, i) }
		answers := map[string]store.Counter{}
		for _, kind := range []string{"steps", "calls"} {
			k := func(name string) string { return prefix(kind) + name }
			for key, n := range o.hits {
				for range n {
					_, err := p.Store.HitCounter(h.Ctx, hitOf(k(key), h.Now))
					ssotest.NoErr(t, err, "HitCounter")
				}
			}
			if o.note != "" {
				ssotest.NoErr(t, p.Store.NoteCounter(h.Ctx, k("a"), k(o.note)), "NoteCounter")
			}
			look := lookOf("", at)
			if o.member != "" {
				look = lookOf(k(o.member), at)
			}
			var c store.Counter
			var err error
			if kind == "steps" {
				c, err = st.ClearCounters(h.Ctx, k("a"), k("ip"), look, at)
			} else {
				c, err = calls(k("a"), k("ip"), look, at)
			}
			ssotest.NoErr(t, err, "ClearCounters (%s)", kind)
			c.Note = strings.TrimPrefix(c.Note, prefix(kind))
			answers[kind] = c
		}
		if g, w := answers["steps"], answers["calls"]; g != w {
			t.Errorf("op %d %+v: ClearCounters answered %+v, its calls %+v", i, o, g, w)
		}
		if got := answers["steps"]; got.Refused(at) != o.refused {
			t.Errorf("op %d %+v: ClearCounters answered %+v, refused %v", i, o, got, !o.refused)
		}
		for _, key := range []string{"a", "ip", "m", "m2"} {
			look := func(kind string) store.Counter {
				c, err := p.Store.HitCounter(h.Ctx, store.CounterHit{Key: prefix(kind) + key, Limit: 1 << 30, Window: time.Minute, Now: at})
				ssotest.NoErr(t, err, "HitCounter look")
				c.Note = strings.TrimPrefix(c.Note, prefix(kind))
				return c
			}
			if g, w := look("steps"), look("calls"); g != w {
				t.Errorf("op %d %+v: counter %s after ClearCounters %+v, after its calls %+v", i, o, key, g, w)
			}
		}
	}
}
