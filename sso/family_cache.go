package sso

import (
	"sync"
	"time"
)

// familyCache remembers the refresh-token families this process last issued, rotated or read,
// so that the refresh grant does not read its family again before writing it. It never decides
// anything: the rotation in IssueTokens is a compare-and-set on (generation, current hash, not
// revoked, not expired) in the grant's one transaction, so an entry gone stale (the family
// rotated on another replica, revoked by a sign-out or an administrator, expired) costs a failed
// write and an invalid_grant, never a token. Only the refresh grant's fast path reads it; an
// entry that does not say "current" sends the grant to the store, which then says why.
//
// It is bounded: beyond max entries one arbitrary entry is dropped per insert.
// familyCacheSize bounds the cache: 1024 families of 500-700 bytes each (the entry, its
// strings and slices), at most 0.7 MB live (TestFamilyCacheFootprint) and about twice that in
// heap under the garbage collector's default goal. Every sign-in puts its new family here, so a sign-in burst fills it with
// families that may never be refreshed: at 4096 the login load run held 1.9 MB in it (peak
// RSS about 3-4 MB higher). A family forgotten costs its refresh one indexed read. The map
// grows with use: made for the bound up front it held 17-22 KB of live heap in every process,
// also in one that never refreshes (TestFamilyCacheFootprint's empty case).
const familyCacheSize = 1024

type familyCache struct {
	mu  sync.Mutex
	m   map[string]RefreshToken
	max int
}

func newFamilyCache(max int) *familyCache {
	return &familyCache{m: make(map[string]RefreshToken), max: max}
}

// current copies the cached family to dst and reports true when it says the token of
// generation gen hashing to hash is the family's current, unrevoked, unexpired token at now
// (dst is the caller's: the refresh grant's request, no copy of its own on the heap).
func (c *familyCache) current(familyID string, gen int64, hash string, now time.Time, dst *RefreshToken) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	f, ok := c.m[familyID]
	c.mu.Unlock()
	if !ok || f.Generation != gen || f.Revoked || !now.Before(f.ExpiresAt) || !equalHashes(f.Hash, hash) {
		return false
	}
	*dst = f
	return true
}

// put remembers f (a copy), unless a newer generation of it is remembered already.
func (c *familyCache) put(f *RefreshToken) {
	if c == nil || f == nil || f.FamilyID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[f.FamilyID]; ok && old.Generation > f.Generation {
		return
	}
	if _, ok := c.m[f.FamilyID]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[f.FamilyID] = *f
}

// rotated records a committed rotation of familyID from generation gen to gen+1.
func (c *familyCache) rotated(familyID string, gen int64, newHash string, at time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[familyID]
	if !ok || f.Generation != gen {
		delete(c.m, familyID)
		return
	}
	f.Generation, f.Hash, f.RotatedAt = gen+1, newHash, at
	c.m[familyID] = f
}

// forget drops familyID (revoked, failed to rotate, or otherwise not to be trusted).
func (c *familyCache) forget(familyID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, familyID)
	c.mu.Unlock()
}
