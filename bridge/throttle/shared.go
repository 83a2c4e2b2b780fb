package throttle

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// ErrUnavailable: the shared counters could not be read or written. The attempt is refused
// (fail closed) and the person is asked to try again later.
var ErrUnavailable = errors.New("throttle: counters unavailable")

// counterKeys names counters in the store: a keyed hash (HMAC-SHA-256 under a per-installation
// secret) of the namespace and the in-memory key, so that neither a typed login nor a client
// address is kept, and two throttles (the sign-in's, the client authentications') or a throttle
// and a limiter never share a counter.
type counterKeys struct {
	secret    []byte
	namespace string
}

func (k counterKeys) hash(key string) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("ssobridge throttle\x00" + k.namespace + "\x00" + key))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// unavailable wraps a store error as ErrUnavailable.
func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

// NewShared builds a throttle whose counters are in counters (every replica on one store
// counts against the same limits). secret keys the counters' names; namespace keeps apart two
// throttles on one store.
func NewShared(cfg config.ThrottleConfig, counters store.CounterStore, secret []byte, namespace string) *Throttle {
	t := New(cfg)
	t.shared = &shared{cfg: cfg, counters: counters, keys: counterKeys{secret: secret, namespace: namespace},
		now: func() time.Time { return t.now() }}
	t.shared.steps, _ = counters.(store.CounterSteps)
	return t
}

// shared is the throttle on a CounterStore. A login's counter notes (store.Counter.Note) the
// member counter its last failure resolved to, as the in-memory throttle's members map does.
//
// On a store with store.CounterSteps each call sends what it needs at once: one statement (one
// round trip on PostgreSQL) per call, whatever the counters, so a sign-in costs two (Reserve,
// then MemberRetryAfterSucceed or MemberRetryAfterFail; Reserve and Succeed or FailMember once
// the login notes its member) instead of five to seven. The same calls, and
// so the same round trips, serve a login that names a member and one that does not.
type shared struct {
	cfg      config.ThrottleConfig
	counters store.CounterStore
	steps    store.CounterSteps // nil: the store has none; one call per counter
	keys     counterKeys
	now      func() time.Time
}

// counterHit is a hit of key at now.
func (s *shared) counterHit(key string, limit, delta int, now time.Time) store.CounterHit {
	return store.CounterHit{Key: key, Delta: delta, Limit: limit, Window: s.cfg.Window, Lockout: s.cfg.Lockout, Now: now}
}

// hit counts an attempt against key (hashed already) with limit.
func (s *shared) hit(ctx context.Context, key string, limit, delta int, now time.Time) (store.Counter, error) {
	return s.counters.HitCounter(ctx, s.counterHit(key, limit, delta, now))
}

// look reads a counter without counting and without locking it.
func (s *shared) look(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	return s.hit(ctx, key, math.MaxInt32, 0, now)
}

// check is Throttle.Check: one hit per counter (login, IP, and the member the login's counter
// notes); when one refuses, the hits that counted are taken back, so a refused attempt reserves
// nothing, as in memory.
func (s *shared) check(ctx context.Context, login, ip string) (Reservation, error) {
	if s.steps != nil {
		return s.checkSteps(ctx, login, ip)
	}
	now := s.now()
	hits := []counterHit{{key: s.keys.hash(loginKey(login)), limit: s.cfg.PerLogin}, {key: s.keys.hash(ipKeyFor(login, ip)), limit: s.cfg.PerIP}}
	var err error
	n := 0 // the hits that counted
	for ; n < len(hits); n++ {
		c, herr := s.hit(ctx, hits[n].key, hits[n].limit, 1, now)
		if herr != nil {
			err = unavailable("check", herr)
			break
		}
		hits[n].c = c
		if n == 0 && c.Note != "" {
			hits = append(hits, counterHit{key: c.Note, limit: s.cfg.PerLogin})
		}
	}
	counted, delay, retryAfter := tally(hits[:n], now)
	if err != nil || retryAfter > 0 {
		for _, k := range counted {
			if _, uerr := s.counters.UndoCounter(ctx, k, now); uerr != nil && err == nil {
				err = unavailable("check", uerr)
			}
		}
		if err != nil {
			return Reservation{}, err
		}
		return Reservation{RetryAfter: retryAfter, Member: len(hits) > 2}, nil
	}
	return Reservation{Delay: min(delay, maxDelay), Member: len(hits) > 2}, nil
}

// counterHit is a counter an attempt counts against, and what the hit found.
type counterHit struct {
	key   string
	limit int
	c     store.Counter
}

// tally is a reservation's answer from its hits: retryAfter the longest lock among those that
// refuse, delay the slowing of the fullest of the others, counted their keys (to be taken back
// when the attempt is refused).
func tally(hits []counterHit, now time.Time) (counted []string, delay, retryAfter time.Duration) {
	for _, h := range hits {
		if h.c.Refused(now) {
			retryAfter = max(retryAfter, h.c.LockedUntil.Sub(now))
			continue
		}
		counted = append(counted, h.key)
		delay = max(delay, slowing(h.c.Count-1, h.limit))
	}
	return counted, delay, retryAfter
}

// lockedFor is how long c refuses attempts from now (0: it does not).
func lockedFor(c store.Counter, now time.Time) time.Duration {
	if c.Refused(now) {
		return c.LockedUntil.Sub(now)
	}
	return 0
}

// checkSteps is check on CounterSteps: the hits in one step, and, when one refuses, the
// hits that counted taken back in a second.
func (s *shared) checkSteps(ctx context.Context, login, ip string) (Reservation, error) {
	now := s.now()
	lk, ik := s.keys.hash(loginKey(login)), s.keys.hash(ipKeyFor(login, ip))
	r, err := s.steps.ReserveCounters(ctx, store.CounterReserve{
		Hits:  []store.CounterHit{s.counterHit(lk, s.cfg.PerLogin, 1, now), s.counterHit(ik, s.cfg.PerIP, 1, now)},
		Noted: s.counterHit("", s.cfg.PerLogin, 1, now),
	})
	if err != nil {
		return Reservation{}, unavailable("check", err)
	}
	hits := []counterHit{{lk, s.cfg.PerLogin, r.Counters[0]}, {ik, s.cfg.PerIP, r.Counters[1]}}
	if r.NotedKey != "" {
		hits = append(hits, counterHit{r.NotedKey, s.cfg.PerLogin, r.Noted})
	}
	counted, delay, retryAfter := tally(hits, now)
	member := r.NotedKey != ""
	if retryAfter > 0 {
		if len(counted) > 0 {
			if err := s.steps.UndoCounters(ctx, counted, false, now); err != nil {
				return Reservation{}, unavailable("check", err)
			}
		}
		return Reservation{RetryAfter: retryAfter, Member: member}, nil
	}
	return Reservation{Delay: min(delay, maxDelay), Member: member}, nil
}

// knowsMember is Throttle.KnowsMember: the login's counter notes a member.
func (s *shared) knowsMember(ctx context.Context, login string) (bool, error) {
	c, err := s.look(ctx, s.keys.hash(loginKey(login)), s.now())
	if err != nil {
		return false, unavailable("knows member", err)
	}
	return c.Note != "", nil
}

// memberRetryAfter is Throttle.MemberRetryAfter: a look at the member's counter, which locks it
// when it has reached the limit.
func (s *shared) memberRetryAfter(ctx context.Context, member string) (time.Duration, error) {
	now := s.now()
	c, err := s.hit(ctx, s.keys.hash(memberKey(member)), s.cfg.PerLogin, 0, now)
	if err != nil {
		return 0, unavailable("member", err)
	}
	return lockedFor(c, now), nil
}

// failMember is Throttle.FailMember: the login's counter notes the member's, and the failure
// counts for the member unless Check counted it already (the login noted that member).
func (s *shared) failMember(ctx context.Context, login, member string) error {
	now := s.now()
	lk, mk := s.keys.hash(loginKey(login)), s.keys.hash(memberKey(member))
	if s.steps != nil {
		if _, err := s.steps.NoteHitCounter(ctx, lk, s.counterHit(mk, math.MaxInt32, 1, now), 0); err != nil {
			return unavailable("fail member", err)
		}
		return nil
	}
	c, err := s.look(ctx, lk, now)
	if err != nil {
		return unavailable("fail member", err)
	}
	if c.Note == mk {
		return nil // reserved by Check already
	}
	if err := s.counters.NoteCounter(ctx, lk, mk); err != nil {
		return unavailable("fail member", err)
	}
	if _, err := s.hit(ctx, mk, math.MaxInt32, 1, now); err != nil {
		return unavailable("fail member", err)
	}
	return nil
}

// memberRetryAfterFail is Throttle.MemberRetryAfterFail on counter steps (s.steps set): the
// look at the member's counter (which locks it at the limit) and the failure are one step.
func (s *shared) memberRetryAfterFail(ctx context.Context, login, member string) (time.Duration, error) {
	now := s.now()
	lk, mk := s.keys.hash(loginKey(login)), s.keys.hash(memberKey(member))
	c, err := s.steps.NoteHitCounter(ctx, lk, s.counterHit(mk, math.MaxInt32, 1, now), s.cfg.PerLogin)
	if err != nil {
		return 0, unavailable("member", err)
	}
	return lockedFor(c, now), nil
}

// memberRetryAfterSucceed is Throttle.MemberRetryAfterSucceed on counter steps (s.steps set):
// the look at the member's counter (which locks it at the limit) and, unless it refuses, the
// success are one step.
func (s *shared) memberRetryAfterSucceed(ctx context.Context, login, ip, member string) (time.Duration, error) {
	now := s.now()
	look := s.counterHit(s.keys.hash(memberKey(member)), s.cfg.PerLogin, 0, now)
	c, err := s.steps.ClearCounters(ctx, s.keys.hash(loginKey(login)), s.keys.hash(ipKeyFor(login, ip)), look, now)
	if err != nil {
		return 0, unavailable("member", err)
	}
	return lockedFor(c, now), nil
}

// succeed is Throttle.Succeed: the login's counter and the member's it notes are cleared, the
// IP's reservation taken back.
func (s *shared) succeed(ctx context.Context, login, ip string) error {
	now := s.now()
	if s.steps != nil {
		if _, err := s.steps.ClearCounters(ctx, s.keys.hash(loginKey(login)), s.keys.hash(ipKeyFor(login, ip)), store.CounterHit{}, now); err != nil {
			return unavailable("succeed", err)
		}
		return nil
	}
	note, err := s.counters.ResetCounter(ctx, s.keys.hash(loginKey(login)))
	if err != nil {
		return unavailable("succeed", err)
	}
	if note != "" {
		if _, err := s.counters.ResetCounter(ctx, note); err != nil {
			return unavailable("succeed", err)
		}
	}
	if _, err := s.counters.UndoCounter(ctx, s.keys.hash(ipKeyFor(login, ip)), now); err != nil {
		return unavailable("succeed", err)
	}
	return nil
}

// release is Throttle.Release: the reservations of the login, the member its counter notes and
// the IP are taken back.
func (s *shared) release(ctx context.Context, login, ip string) error {
	now := s.now()
	if s.steps != nil {
		if err := s.steps.UndoCounters(ctx, []string{s.keys.hash(loginKey(login)), s.keys.hash(ipKeyFor(login, ip))}, true, now); err != nil {
			return unavailable("release", err)
		}
		return nil
	}
	note, err := s.counters.UndoCounter(ctx, s.keys.hash(loginKey(login)), now)
	if err != nil {
		return unavailable("release", err)
	}
	for _, k := range []string{note, s.keys.hash(ipKeyFor(login, ip))} {
		if k == "" {
			continue
		}
		if _, err := s.counters.UndoCounter(ctx, k, now); err != nil {
			return unavailable("release", err)
		}
	}
	return nil
}
