package throttle

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/identity"
)

// Throttle slows and then refuses sign-in attempts after repeated failures, per login and per
// client IP. It never touches the AMS account (read-only): the bridge rate-limits itself.
// New keeps its state in memory (a sliding window), which fits the single-binary sidecar;
// NewShared keeps it in the store (a fixed window from the first failure), where every replica
// counts against the same limits. Every method's error wraps ErrUnavailable (the shared
// counters could not be read or written); callers refuse the attempt then (fail closed).
type Throttle struct {
	// Logger logs what a method does not answer its caller (nil: slog.Default()).
	Logger *slog.Logger

	cfg config.ThrottleConfig
	now func() time.Time
	// shared, when set, holds the counters instead of the maps below.
	shared *shared

	mu      sync.Mutex
	entries map[string]*throttleEntry
	// members maps a login key to the member it resolved to on a failure, so that the member's
	// own counter is checked for every login that reaches it.
	members map[string]string
}

type throttleEntry struct {
	failures    []time.Time
	lockedUntil time.Time
}

// New builds a throttle from the config.
func New(cfg config.ThrottleConfig) *Throttle {
	return &Throttle{cfg: cfg, now: time.Now, entries: map[string]*throttleEntry{}, members: map[string]string{}}
}

// throttleKey is a counter an attempt touches, its key built in a buffer of the caller's (the
// map is read through string(key), which does not allocate: only a new entry's key does).
type throttleKey struct {
	key   []byte
	limit int
}

// keyBuf is the stack buffer a counter key is built in (a longer key grows onto the heap).
type keyBuf [128]byte

// steps reports whether the throttle's counters are in a store with counter steps
// (store.CounterSteps): its calls that stand for several then take one step.
func (t *Throttle) steps() bool { return t.shared != nil && t.shared.steps != nil }

// loginKey is the login's counter: its canonical form (NFKC, case folded).
func loginKey(login string) string {
	var b keyBuf
	return string(appendLoginKey(b[:0], login))
}

// appendLoginKey appends loginKey(login) to dst (nothing allocated for an ASCII login without
// capitals or surrounding spaces, such as the client-authentication throttle's).
func appendLoginKey(dst []byte, login string) []byte {
	return append(append(dst, "login:"...), identity.CanonicalLogin(login)...)
}

// memberKey is the member's counter (the AMS's key of the member a login belongs to).
func memberKey(key string) string {
	var b keyBuf
	return string(appendMemberKey(b[:0], key))
}

// appendMemberKey appends memberKey(key) to dst.
func appendMemberKey(dst []byte, key string) []byte { return append(append(dst, "member:"...), key...) }

// FailMember counts a failed attempt of login against the member it resolved to (the attempt
// already counts for the login and IP); the next attempts of login check the member's counter.
func (t *Throttle) FailMember(ctx context.Context, login, member string) error {
	if t.shared != nil {
		return t.shared.failMember(ctx, login, member)
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	lk := loginKey(login)
	if m, known := t.members[lk]; known && m == member {
		return nil // reserved by Check already
	}
	t.members[lk] = member
	e := t.entries[memberKey(member)]
	if e == nil {
		e = &throttleEntry{}
		t.entries[memberKey(member)] = e
	}
	e.failures = append(e.failures, now)
	return nil
}

// MemberRetryAfterFail is MemberRetryAfter(member) and then FailMember(login, member), the
// member check and the failure of a wrong password whose login did not note its member yet: on
// a store with counter steps one statement for both instead of two (in memory and on a store
// without them, the two calls).
func (t *Throttle) MemberRetryAfterFail(ctx context.Context, login, member string) (time.Duration, error) {
	if t.steps() {
		return t.shared.memberRetryAfterFail(ctx, login, member)
	}
	wait, err := t.MemberRetryAfter(ctx, member)
	if err != nil {
		return 0, err
	}
	return wait, t.FailMember(ctx, login, member)
}

// MemberRetryAfterSucceed is MemberRetryAfter(member) and then, when the member's counter does
// not refuse, Succeed(login, ip): the member check and the success of a right password whose
// login did not note its member: on a store with counter steps one statement for both instead
// of two (in memory and on a store without them, the two calls). An error (ErrUnavailable)
// says the member's counter could not be checked (the caller refuses the attempt); with the
// steps nothing was cleared then.
//
// A success that cannot be recorded once the member's counter let it through is not an error:
// the attempt's reservations stay counted (the safe side), the failure is logged, and the
// member is in, as callers answer Succeed's error (signin.Checker after a Reserve that checked
// the member). Before, this two-call fallback refused that attempt as unavailable while the
// same failure of Succeed let the member in there.
func (t *Throttle) MemberRetryAfterSucceed(ctx context.Context, login, ip, member string) (time.Duration, error) {
	if t.steps() {
		return t.shared.memberRetryAfterSucceed(ctx, login, ip, member)
	}
	wait, err := t.MemberRetryAfter(ctx, member)
	if err != nil || wait > 0 {
		return wait, err
	}
	if err := t.Succeed(ctx, login, ip); err != nil {
		t.logger().WarnContext(ctx, "sign-in throttle could not clear a success", "err", err)
	}
	return 0, nil
}

// logger is Logger, or slog.Default().
func (t *Throttle) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// KnowsMember reports whether Check of login also checks a member's counter (the login
// resolved to a member on an earlier failure).
func (t *Throttle) KnowsMember(ctx context.Context, login string) (bool, error) {
	if t.shared != nil {
		return t.shared.knowsMember(ctx, login)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.members[loginKey(login)]
	return ok, nil
}

// MemberRetryAfter reports whether the member's own counter refuses attempts now (> 0: for how
// long), whatever login reached it. Asked after the password check, for right and wrong
// passwords alike, so the answer says nothing about the password.
func (t *Throttle) MemberRetryAfter(ctx context.Context, member string) (time.Duration, error) {
	if t.shared != nil {
		return t.shared.memberRetryAfter(ctx, member)
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[memberKey(member)]
	if e == nil {
		return 0, nil
	}
	if now.Before(e.lockedUntil) {
		return e.lockedUntil.Sub(now), nil
	}
	if e.recent(now, t.cfg.Window) >= t.cfg.PerLogin {
		e.lockedUntil, e.failures = now.Add(t.cfg.Lockout), nil
		return t.cfg.Lockout, nil
	}
	return 0, nil
}

// secondFactorPrefix starts the logins of second-factor attempts (SecondFactorLogin): a NUL,
// which no typed login has.
const secondFactorPrefix = "\x00mfa:"

// SecondFactorLogin is the login under which a member's second-factor attempts (TOTP,
// recovery and passkey steps) are counted: the member's own counter (throttle.per_login), and a
// client-IP counter of their own (throttle.per_ip), apart from the IP's password attempts. A
// member mistyping codes then does not lock the password sign-ins of everyone behind the same
// address (an office, a carrier's NAT), and the codes guessed from one address stay bounded.
func SecondFactorLogin(subject string) string { return secondFactorPrefix + subject }

// ipKeyFor is the IP counter an attempt of login counts against: the client address's counter
// for passwords ("ip:" and the IPv4 address, or the IPv6 /64: AddressKey, one host usually holds
// a whole /64 and could take a fresh address for every attempt), the second factors' own
// ("ip-2f:") for a SecondFactorLogin.
func ipKeyFor(login, ip string) string {
	var b keyBuf
	return string(appendIPKeyFor(b[:0], login, ip))
}

// appendIPKeyFor appends ipKeyFor(login, ip) to dst.
func appendIPKeyFor(dst []byte, login, ip string) []byte {
	if strings.HasPrefix(login, secondFactorPrefix) {
		return appendAddressKey(append(dst, "ip-2f:"...), ip)
	}
	return appendAddressKey(append(dst, "ip:"...), ip)
}

// Check reserves an attempt for the login and the IP. It returns a retryAfter > 0 when the
// attempt must be refused outright (nothing is reserved then), else a delay to apply before
// verifying (slowing). The reserved attempt counts as a failure from now on, until Succeed or
// Release takes it back, so attempts running in parallel count against the limits before any of
// them is verified.
func (t *Throttle) Check(ctx context.Context, login, ip string) (delay, retryAfter time.Duration, err error) {
	r, err := t.Reserve(ctx, login, ip)
	return r.Delay, r.RetryAfter, err
}

// Reservation is Reserve's answer: Check's delay and retryAfter, and whether the login's
// member counter was checked too (KnowsMember at the time of the check).
type Reservation struct {
	Delay, RetryAfter time.Duration
	Member            bool
}

// Reserve is Check, also telling whether it checked the member counter of the login.
func (t *Throttle) Reserve(ctx context.Context, login, ip string) (Reservation, error) {
	if t.shared != nil {
		return t.shared.check(ctx, login, ip)
	}
	now := t.now()
	var lb, ib, mb keyBuf
	lk := appendLoginKey(lb[:0], login)
	keys := [3]throttleKey{{lk, t.cfg.PerLogin}, {appendIPKeyFor(ib[:0], login, ip), t.cfg.PerIP}}
	t.mu.Lock()
	defer t.mu.Unlock()
	// The counters one attempt touches: its login, its client IP, and the member the login
	// resolved to before (when known).
	n := 2
	if m, ok := t.members[string(lk)]; ok {
		keys[2], n = throttleKey{appendMemberKey(mb[:0], m), t.cfg.PerLogin}, 3
	}
	var delay, retryAfter time.Duration
	member := n > 2
	for _, k := range keys[:n] {
		e := t.entries[string(k.key)]
		if e == nil {
			continue
		}
		if now.Before(e.lockedUntil) {
			retryAfter = max(retryAfter, e.lockedUntil.Sub(now))
			continue
		}
		n := e.recent(now, t.cfg.Window)
		if n >= k.limit {
			e.lockedUntil, e.failures = now.Add(t.cfg.Lockout), nil
			retryAfter = max(retryAfter, t.cfg.Lockout)
			continue
		}
		delay = max(delay, slowing(n, k.limit))
	}
	if retryAfter > 0 {
		return Reservation{RetryAfter: retryAfter, Member: member}, nil
	}
	for _, k := range keys[:n] {
		e := t.entries[string(k.key)]
		if e == nil {
			e = &throttleEntry{}
			t.entries[string(k.key)] = e
		}
		e.failures = append(e.failures, now)
	}
	return Reservation{Delay: min(delay, maxDelay), Member: member}, nil
}

// maxDelay bounds the slowing of an attempt.
const maxDelay = 3 * time.Second

// slowing is the delay before verifying an attempt that finds n failures of a counter with
// the limit counted already: none below half the limit, then half a second more per failure.
func slowing(n, limit int) time.Duration {
	if slow := limit / 2; n >= slow && slow > 0 {
		return time.Duration(n-slow+1) * 500 * time.Millisecond
	}
	return 0
}

// Succeed takes back a reserved attempt that verified: the login's failures are cleared and the
// IP's reservation is removed.
func (t *Throttle) Succeed(ctx context.Context, login, ip string) error {
	if t.shared != nil {
		return t.shared.succeed(ctx, login, ip)
	}
	var lb, ib, mb keyBuf
	lk, ik := appendLoginKey(lb[:0], login), appendIPKeyFor(ib[:0], login, ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, string(lk))
	if m, ok := t.members[string(lk)]; ok {
		delete(t.entries, string(appendMemberKey(mb[:0], m)))
		delete(t.members, string(lk))
	}
	t.unreserve(ik)
	return nil
}

// Release takes back a reserved attempt that could not be verified (the AMS was unavailable).
func (t *Throttle) Release(ctx context.Context, login, ip string) error {
	if t.shared != nil {
		return t.shared.release(ctx, login, ip)
	}
	var lb, ib, mb keyBuf
	lk, ik := appendLoginKey(lb[:0], login), appendIPKeyFor(ib[:0], login, ip)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.unreserve(lk)
	if m, ok := t.members[string(lk)]; ok {
		t.unreserve(appendMemberKey(mb[:0], m))
	}
	t.unreserve(ik)
	return nil
}

func (t *Throttle) unreserve(key []byte) {
	if e := t.entries[string(key)]; e != nil && len(e.failures) > 0 {
		e.failures = e.failures[:len(e.failures)-1]
	}
}

func (e *throttleEntry) recent(now time.Time, window time.Duration) int {
	i := 0
	for i < len(e.failures) && now.Sub(e.failures[i]) > window {
		i++
	}
	e.failures = e.failures[i:]
	return len(e.failures)
}

// Run drops stale entries until ctx ends (the store's purge drops shared counters).
func (t *Throttle) Run(ctx context.Context) {
	if t.shared != nil {
		return
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			now := t.now()
			t.mu.Lock()
			for k, e := range t.entries {
				if e.recent(now, t.cfg.Window) == 0 && now.After(e.lockedUntil) {
					delete(t.entries, k)
				}
			}
			for lk, m := range t.members {
				if t.entries[lk] == nil && t.entries[memberKey(m)] == nil {
					delete(t.members, lk)
				}
			}
			t.mu.Unlock()
		}
	}
}
