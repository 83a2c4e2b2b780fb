package sso

import (
	"sync"
	"time"
)

// codeCache remembers the requests this process has just completed with a code in the
// completion's own write (Provider.CodeCommitted: the login form's one-write sign-in), or has
// just attached a code to in op's authorize callback (storage.SaveAuthCode, for the request the
// bridge's guard read: one completed from a live SSO session), so that the code's first token
// request does not read its request back. Both keep the request as that write left it in the
// store (storage.keepCode), neither the device flow's own requests. It never decides anything:
// the exchange's IssueTokens consumes the code by a compare-and-set on (request id, code hash,
// not consumed, not expired, session held and live) in the grant's one transaction, so an
// entry gone stale (the code exchanged on another replica, its session ended, its client
// removed with its requests, its code expired) costs a refused write, answered and recorded as
// the read would have been (storage.issue: code_replay revoking what the code issued,
// code_session_ended, invalid_grant), never a token. Every check of the code grant runs on the
// entry in the same order as on a read (codeRequest, codeGrant.validate).
//
// An entry is taken by the first token request whose code opens to its request and holds its
// hash, whatever that request's outcome: a second presentation of the code reads the store,
// which says whether it was consumed. Only a CodeRequestReader store's codes are remembered
// (codes found by hash are not opened to a request id).
//
// It is bounded: beyond max entries one arbitrary entry is dropped per insert (its code's
// exchange then reads its request, as on a replica that did not sign the member in). A code
// is exchanged within a few milliseconds of its redirect, so codeCacheSize entries are more
// than the sign-ins in flight at any rate the process can sign; an entry holds 0.5-1 KB.
const codeCacheSize = 256

type codeCache struct {
	mu  sync.Mutex
	m   map[string]*AuthRequest
	max int
}

func newCodeCache(max int) *codeCache {
	return &codeCache{m: make(map[string]*AuthRequest), max: max}
}

// put remembers ar (the caller's, never changed after) under its id.
func (c *codeCache) put(ar *AuthRequest) {
	if c == nil || ar == nil || ar.ID == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[ar.ID]; !ok && len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[ar.ID] = ar
}

// take returns and forgets the request remembered under id when its code hashes to hash and
// has not expired at now; nil otherwise (also forgotten when its hash differs: the request
// holds one code only, so that entry can serve no other).
func (c *codeCache) take(id, hash string, now time.Time) *AuthRequest {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	ar, ok := c.m[id]
	if ok {
		delete(c.m, id)
	}
	c.mu.Unlock()
	if !ok || ar.CodeConsumed || !now.Before(ar.CodeExpiresAt) || !equalHashes(ar.CodeHash, hash) {
		return nil
	}
	return ar
}
