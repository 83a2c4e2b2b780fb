package cache

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
	"golang.org/x/text/unicode/norm"

	"github.com/ssobridge/ssobridge/legacy"
)

// Defaults for zero Options.
const (
	DefaultTTL          = 2 * time.Minute
	DefaultSize         = 10_000
	DefaultFetchTimeout = 30 * time.Second
)

// RolelessAuthenticator is implemented by directories that can verify a password without
// loading roles (sqldir.Directory): the cache then supplies roles it holds and saves a query.
type RolelessAuthenticator interface {
	AuthenticateWithoutRoles(ctx context.Context, login, password string) (*legacy.Member, error)
}

// GrantLister is implemented by directories that report the source of each role
// (sqldir.Directory); the cache keeps the grants, not only the role names.
type GrantLister interface {
	Grants(ctx context.Context, key string) ([]legacy.Grant, error)
}

// Options configure a Directory.
type Options struct {
	// TTL is how long a member or role list stays fresh (default 2m).
	TTL time.Duration
	// Size bounds each index (members by key, login and member id; role lists) to this many
	// entries, least recently used evicted first (default 10000; see Wrap for negative).
	Size int
	// FetchTimeout bounds a fetch shared by concurrent callers, which runs detached from any
	// single caller's cancellation (default 30s).
	FetchTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Directory is a legacy.Directory that caches member profiles and roles of another one.
// Authenticate always asks the wrapped directory (passwords are never checked from the
// cache), then fills the cache; ChangedSince and ListMembers are never cached, and refresh
// the members they return. A cached member keeps its roles and grants: every lookup returns
// them, as the wrapped directory does. Concurrent misses for the same member share one fetch.
// Errors are not cached.
type Directory struct {
	next         legacy.Directory
	ttl          time.Duration
	fetchTimeout time.Duration
	now          func() time.Time

	byKey     *lru[*legacy.Member]
	byLogin   *lru[string] // normalised login → key
	byID      *lru[string] // member id → key
	grantsIdx *lru[[]legacy.Grant]

	members flight[*legacy.Member]
	roleSF  flight[[]legacy.Grant]

	hits, misses atomic.Int64
}

var _ legacy.Directory = (*Directory)(nil)

// New wraps next.
func New(next legacy.Directory, opts Options) *Directory {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Size <= 0 {
		opts.Size = DefaultSize
	}
	if opts.FetchTimeout <= 0 {
		opts.FetchTimeout = DefaultFetchTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Directory{
		next: next, ttl: opts.TTL, fetchTimeout: opts.FetchTimeout, now: opts.Now,
		byKey: newLRU[*legacy.Member](opts.Size), byLogin: newLRU[string](opts.Size),
		byID: newLRU[string](opts.Size), grantsIdx: newLRU[[]legacy.Grant](opts.Size),
	}
}

// Wrap returns New(next, opts), or next itself when opts.Size is negative (caching disabled,
// as sqldir's cache_size: -1 asks).
func Wrap(next legacy.Directory, opts Options) legacy.Directory {
	if opts.Size < 0 {
		return next
	}
	return New(next, opts)
}

// Unwrap returns the wrapped directory.
func (c *Directory) Unwrap() legacy.Directory { return c.next }

// Stats reports cache hits and misses since New.
func (c *Directory) Stats() (hits, misses int64) { return c.hits.Load(), c.misses.Load() }

// Authenticate verifies the password with the wrapped directory, every time. When that
// directory can skip roles (RolelessAuthenticator), roles come from the cache when fresh.
func (c *Directory) Authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	if ra, ok := c.next.(RolelessAuthenticator); ok {
		m, err := ra.AuthenticateWithoutRoles(ctx, login, password)
		if err != nil {
			return nil, err
		}
		g, until, err := c.grants(ctx, m.Key)
		if err != nil {
			return nil, err
		}
		m.SetGrants(g)
		// Cached until the roles expire, not for a new TTL: roles from the cache keep their age,
		// else a member signing in more often than the TTL would keep them forever.
		c.putMemberUntil(m, until)
		return m, nil
	}
	m, err := c.next.Authenticate(ctx, login, password)
	if err != nil {
		return nil, err
	}
	c.putMember(m)
	return m, nil
}

// MemberByLogin returns the cached member or asks the wrapped directory.
func (c *Directory) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	nl := normLogin(login)
	if key, ok := c.byLogin.get(nl, c.now()); ok {
		if m, ok := c.byKey.get(key, c.now()); ok && normLogin(m.Login) == nl {
			c.hits.Add(1)
			return clone(m), nil
		}
	}
	c.misses.Add(1)
	return c.fetchMember(ctx, "login\x00"+nl, func(ctx context.Context) (*legacy.Member, error) {
		return c.next.MemberByLogin(ctx, login)
	})
}

// FreshMemberByLogin asks the wrapped directory, never the cache, and leaves the cache as it is.
// It is the look-up after a wrong password: from the cache a login that exists (cached by an
// earlier failure or by the member's own sign-in) would cost one AMS round trip less than a
// login that does not (never cached), and the response time would tell which logins exist.
func (c *Directory) FreshMemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	return c.next.MemberByLogin(ctx, login)
}

// MemberByKey returns the cached member or asks the wrapped directory.
func (c *Directory) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	m, err := c.SharedMemberByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return clone(m), nil
}

// FreshMemberByKey asks the wrapped directory, never the cache (nor a fetch already in flight,
// which may have begun before the AMS's last commit), and puts what it read in the cache; a
// member the AMS no longer knows leaves it. It is the second read that confirms a refusal before
// provisioning ends a member's sessions and tokens (review s25 Y-7): from the cache it would
// only repeat the read it is meant to check. When the wrapped directory has its own
// FreshMemberByKey (sqldir: member_by_key_committed), that is the read.
func (c *Directory) FreshMemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	read := c.next.MemberByKey
	if f, ok := c.next.(interface {
		FreshMemberByKey(ctx context.Context, key string) (*legacy.Member, error)
	}); ok {
		read = f.FreshMemberByKey // the committed read (sqldir, review s26 R3-4)
	}
	m, err := read(ctx, key)
	if errors.Is(err, legacy.ErrNotFound) {
		c.Invalidate(key)
	}
	if err != nil {
		return nil, err
	}
	c.putMember(m)
	return m, nil
}

// SharedMemberByKey is MemberByKey without the copy: on a hit the member is the cached value
// itself, shared with every other caller until it is replaced, so it must never be modified
// (nor its roles, grants or extra fields). For a reader that only looks (the hooks' member
// re-check of every refresh grant: about 1 KB less garbage per grant); anyone else calls
// MemberByKey.
func (c *Directory) SharedMemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	k := normKey(key)
	if m, ok := c.byKey.get(k, c.now()); ok {
		c.hits.Add(1)
		return m, nil
	}
	c.misses.Add(1)
	return c.fetchShared(ctx, "key\x00"+k, func(ctx context.Context) (*legacy.Member, error) {
		return c.next.MemberByKey(ctx, key)
	})
}

// MemberByID returns the cached member or asks the wrapped directory.
func (c *Directory) MemberByID(ctx context.Context, memberID string) (*legacy.Member, error) {
	id := strings.TrimSpace(memberID)
	if key, ok := c.byID.get(id, c.now()); ok {
		if m, ok := c.byKey.get(key, c.now()); ok && m.MemberID == id {
			c.hits.Add(1)
			return clone(m), nil
		}
	}
	c.misses.Add(1)
	return c.fetchMember(ctx, "id\x00"+id, func(ctx context.Context) (*legacy.Member, error) {
		return c.next.MemberByID(ctx, memberID)
	})
}

// fetchMember is fetchShared's member, copied for the caller.
func (c *Directory) fetchMember(ctx context.Context, flightKey string, fetch func(context.Context) (*legacy.Member, error)) (*legacy.Member, error) {
	m, err := c.fetchShared(ctx, flightKey, fetch)
	if err != nil {
		return nil, err
	}
	return clone(m), nil
}

// fetchShared fetches a member from the wrapped directory (one fetch for concurrent callers
// of the same flightKey) and caches a copy of it. The member returned is the wrapped
// directory's own value, shared by the callers of that fetch: fetchMember copies it.
func (c *Directory) fetchShared(ctx context.Context, flightKey string, fetch func(context.Context) (*legacy.Member, error)) (*legacy.Member, error) {
	return c.members.do(ctx, flightKey, c.fetchTimeout, func(ctx context.Context) (*legacy.Member, error) {
		m, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		c.putMember(m)
		return m, nil
	})
}

// Roles returns the cached role names or asks the wrapped directory.
func (c *Directory) Roles(ctx context.Context, key string) ([]string, error) {
	g, err := c.Grants(ctx, key)
	if err != nil {
		return nil, err
	}
	return legacy.RolesOf(g), nil
}

// Grants returns the cached grants (roles with their sources) or asks the wrapped directory
// (its Grants when it has them, else its Roles, with no source).
func (c *Directory) Grants(ctx context.Context, key string) ([]legacy.Grant, error) {
	g, _, err := c.grants(ctx, key)
	return g, err
}

// grants is Grants, also returning when the grants expire from the cache.
func (c *Directory) grants(ctx context.Context, key string) ([]legacy.Grant, time.Time, error) {
	k := normKey(key)
	if g, until, ok := c.grantsIdx.getUntil(k, c.now()); ok {
		c.hits.Add(1)
		return slices.Clone(g), until, nil
	}
	c.misses.Add(1)
	g, err := c.roleSF.do(ctx, k, c.fetchTimeout, func(ctx context.Context) ([]legacy.Grant, error) {
		var g []legacy.Grant
		if gl, ok := c.next.(GrantLister); ok {
			var err error
			if g, err = gl.Grants(ctx, key); err != nil {
				return nil, err
			}
		} else {
			roles, err := c.next.Roles(ctx, key)
			if err != nil {
				return nil, err
			}
			for _, r := range roles {
				g = append(g, legacy.Grant{Role: r})
			}
		}
		if g == nil {
			g = []legacy.Grant{}
		}
		c.grantsIdx.put(k, slices.Clone(g), c.now().Add(c.ttl))
		return g, nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	// Fetched now (or by a concurrent caller moments ago): fresh for a whole TTL.
	return slices.Clone(g), c.now().Add(c.ttl), nil
}

// DatabaseNow reads the AMS's clock through the wrapped directory (legacy.ClockReader), never
// from the cache; legacy.ErrNoClock when the wrapped directory cannot.
func (c *Directory) DatabaseNow(ctx context.Context) (time.Time, error) {
	if r, ok := c.next.(legacy.ClockReader); ok {
		return r.DatabaseNow(ctx)
	}
	return time.Time{}, legacy.ErrNoClock
}

// ChangedSince always asks the wrapped directory. The members it returns (with their roles)
// replace cached ones.
func (c *Directory) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := c.next.ChangedSince(ctx, since, limit)
	if err != nil {
		return ms, next, err
	}
	for _, m := range ms {
		if m.Standing.Deleted && m.Login == "" {
			c.Invalidate(m.Key) // a key reported gone (legacy.ChangeLister): not a member to keep
			continue
		}
		c.putMember(m)
	}
	return ms, next, nil
}

// ListMembers always asks the wrapped directory. The members it returns replace cached ones.
func (c *Directory) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	ms, err := c.next.ListMembers(ctx, afterKey, limit)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		c.putMember(m)
	}
	return ms, nil
}

// Ping asks the wrapped directory.
func (c *Directory) Ping(ctx context.Context) error { return c.next.Ping(ctx) }

// Invalidate drops everything cached about the member with this key.
func (c *Directory) Invalidate(key string) {
	k := normKey(key)
	c.byKey.remove(k)
	c.grantsIdx.remove(k)
}

// Purge empties the cache.
func (c *Directory) Purge() {
	c.byKey.purge()
	c.byLogin.purge()
	c.byID.purge()
	c.grantsIdx.purge()
}

// putMember stores a copy of m, with its roles and grants, under its key, login and member
// id; its grants also answer Roles and Grants. A member without roles (Roles nil: a wrapped
// directory that breaks the contract) is not cached.
func (c *Directory) putMember(m *legacy.Member) { c.putMemberUntil(m, c.now().Add(c.ttl)) }

// putMemberUntil caches m (with its roles) until exp.
func (c *Directory) putMemberUntil(m *legacy.Member, exp time.Time) {
	if m == nil || m.Key == "" || m.Roles == nil {
		return
	}
	cp := clone(m)
	k := normKey(m.Key)
	c.byKey.put(k, cp, exp)
	g := slices.Clone(m.Grants)
	if g == nil {
		g = make([]legacy.Grant, 0, len(m.Roles))
		for _, r := range m.Roles {
			g = append(g, legacy.Grant{Role: r})
		}
	}
	c.grantsIdx.put(k, g, exp)
	if m.Login != "" {
		c.byLogin.put(normLogin(m.Login), k, exp)
	}
	if m.MemberID != "" {
		c.byID.put(m.MemberID, k, exp)
	}
}

func clone(m *legacy.Member) *legacy.Member {
	cp := *m
	cp.Roles = slices.Clone(m.Roles)
	cp.Grants = slices.Clone(m.Grants)
	cp.Extra = maps.Clone(m.Extra)
	return &cp
}

func normLogin(s string) string { return strings.ToLower(norm.NFC.String(strings.TrimSpace(s))) }

func normKey(s string) string {
	return strings.ToUpper(strings.Trim(strings.TrimSpace(s), "{}"))
}

// --- a small LRU with per-entry expiry ---

type lruEntry[V any] struct {
	key     string
	val     V
	expires time.Time
}

type lru[V any] struct {
	mu   sync.Mutex
	size int
	ll   *list.List
	m    map[string]*list.Element
}

func newLRU[V any](size int) *lru[V] {
	return &lru[V]{size: size, ll: list.New(), m: make(map[string]*list.Element)}
}

// getUntil is get, also returning when the entry expires.
func (l *lru[V]) getUntil(key string, now time.Time) (V, time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var zero V
	e, ok := l.m[key]
	if !ok {
		return zero, time.Time{}, false
	}
	ent := e.Value.(*lruEntry[V])
	if !now.Before(ent.expires) {
		l.ll.Remove(e)
		delete(l.m, key)
		return zero, time.Time{}, false
	}
	l.ll.MoveToFront(e)
	return ent.val, ent.expires, true
}

func (l *lru[V]) get(key string, now time.Time) (V, bool) {
	v, _, ok := l.getUntil(key, now)
	return v, ok
}

func (l *lru[V]) put(key string, v V, expires time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[key]; ok {
		ent := e.Value.(*lruEntry[V])
		ent.val, ent.expires = v, expires
		l.ll.MoveToFront(e)
		return
	}
	l.m[key] = l.ll.PushFront(&lruEntry[V]{key: key, val: v, expires: expires})
	for l.ll.Len() > l.size {
		last := l.ll.Back()
		l.ll.Remove(last)
		delete(l.m, last.Value.(*lruEntry[V]).key)
	}
}

func (l *lru[V]) remove(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.m[key]; ok {
		l.ll.Remove(e)
		delete(l.m, key)
	}
}

func (l *lru[V]) purge() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ll.Init()
	clear(l.m)
}

func (l *lru[V]) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ll.Len()
}

// --- de-duplication of concurrent fetches ---

// flight runs one fetch for concurrent callers with the same key (singleflight.Group with a
// typed result).
type flight[V any] struct{ g singleflight.Group }

// do runs fn once for concurrent callers with the same key. fn runs detached from the
// callers' cancellation (bounded by timeout) so that one caller giving up does not fail the
// others; each caller stops waiting when its own context ends.
func (f *flight[V]) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (V, error)) (V, error) {
	ch := f.g.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		return fn(fctx)
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(V)
		return v, r.Err
	case <-ctx.Done():
		var zero V
		return zero, legacy.Unavailable("cache: waiting for the directory", ctx.Err())
	}
}

// MembersByEmail asks the directory behind the cache (uncached: a sign-in through an upstream
// provider that links by e-mail must see the AMS as it is); it fails when that directory cannot
// find members by e-mail.
func (c *Directory) MembersByEmail(ctx context.Context, email string, limit int) ([]*legacy.Member, error) {
	f, ok := c.next.(legacy.EmailFinder)
	if !ok {
		return nil, fmt.Errorf("cache: the directory cannot find members by e-mail: %w", errors.ErrUnsupported)
	}
	return f.MembersByEmail(ctx, email, limit)
}
