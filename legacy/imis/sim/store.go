package sim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// maxEntries bounds each in-memory table, so that a client hammering the SSO page or the
// token endpoint cannot exhaust memory.
const maxEntries = 10000

// purgeEvery is how often expired entries are swept (on the next write).
const purgeEvery = time.Minute

var errFull = errors.New("imis/sim: too many outstanding sessions or tokens; try again later")

// session is an AMS sign-in.
type session struct {
	login    string
	fullName string
	expires  time.Time
}

// grant is an outstanding refresh token.
type grant struct {
	login    string
	clientID string
	expires  time.Time
}

// store keeps sessions and refresh tokens in memory, keyed by the SHA-256 of the secret, so
// that the maps never hold a usable token. It is safe for concurrent use.
type store struct {
	now func() time.Time

	mu        sync.Mutex
	sessions  map[[32]byte]session
	grants    map[[32]byte]grant
	lastPurge time.Time
}

func newStore(now func() time.Time) *store {
	return &store{now: now, sessions: map[[32]byte]session{}, grants: map[[32]byte]grant{}}
}

func key(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// randomHex returns n random bytes as lower-case hex (iMIS refresh tokens: 16 bytes).
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

// purgeLocked sweeps expired entries at most once per purgeEvery, or when forced.
func (s *store) purgeLocked(now time.Time, force bool) {
	if !force && now.Sub(s.lastPurge) < purgeEvery {
		return
	}
	s.lastPurge = now
	for k, v := range s.sessions {
		if !now.Before(v.expires) {
			delete(s.sessions, k)
		}
	}
	for k, v := range s.grants {
		if !now.Before(v.expires) {
			delete(s.grants, k)
		}
	}
}

func (s *store) newSession(login, fullName string, life time.Duration) (string, error) {
	id := randomHex(32)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now, false)
	if len(s.sessions) >= maxEntries {
		if s.purgeLocked(now, true); len(s.sessions) >= maxEntries {
			return "", errFull
		}
	}
	s.sessions[key(id)] = session{login: login, fullName: fullName, expires: now.Add(life)}
	return id, nil
}

func (s *store) session(id string) (session, bool) {
	if id == "" {
		return session{}, false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.sessions[key(id)]
	if !ok || !now.Before(v.expires) {
		return session{}, false
	}
	return v, true
}

func (s *store) endSession(id string) (session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(id)
	v, ok := s.sessions[k]
	delete(s.sessions, k)
	return v, ok
}

// newGrant issues a refresh token: 32 hex characters, like iMIS.
func (s *store) newGrant(login, clientID string, life time.Duration) (string, time.Time, error) {
	tok := randomHex(16)
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgeLocked(now, false)
	if len(s.grants) >= maxEntries {
		if s.purgeLocked(now, true); len(s.grants) >= maxEntries {
			return "", time.Time{}, errFull
		}
	}
	exp := now.Add(life)
	s.grants[key(tok)] = grant{login: login, clientID: clientID, expires: exp}
	return tok, exp, nil
}

// takeGrant removes a refresh token and returns it if it had not expired: every
// presentation uses the token up, valid or not.
func (s *store) takeGrant(tok string) (grant, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(tok)
	g, ok := s.grants[k]
	delete(s.grants, k)
	if !ok || !now.Before(g.expires) {
		return grant{}, false
	}
	return g, true
}

// counts reports the table sizes (for tests).
func (s *store) counts() (sessions, grants int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions), len(s.grants)
}
