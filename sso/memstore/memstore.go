package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var (
	_ sso.Store             = (*Store)(nil)
	_ sso.DeviceStore       = (*Store)(nil)
	_ sso.CodeRequestReader = (*Store)(nil)
)

// Store is an in-memory sso.Store. The zero value is not ready: use New.
type Store struct {
	clock func() time.Time

	mu         sync.Mutex
	authReqs   map[string]*sso.AuthRequest  // by id
	codes      map[string]string            // code hash -> auth request id
	revoked    map[string]time.Time         // revoked access token id hash -> its expiry
	families   map[string]*sso.RefreshToken // by family id
	sessions   map[string]*sso.Session
	keys       map[string]*sso.StoredKey
	clients    map[string]*sso.StoredClient
	clientsVer int64
	secrets    map[string][]byte
	devices    map[string]*sso.DeviceAuthorization // by device code hash
	userCodes  map[string]string                   // user code -> device code hash
}

// Option configures a Store.
type Option func(*Store)

// WithClock replaces the clock that decides what has expired (default time.Now).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.clock = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{
		clock:    time.Now,
		authReqs: map[string]*sso.AuthRequest{}, codes: map[string]string{},
		revoked: map[string]time.Time{}, families: map[string]*sso.RefreshToken{},
		sessions: map[string]*sso.Session{}, keys: map[string]*sso.StoredKey{},
		clients: map[string]*sso.StoredClient{}, secrets: map[string][]byte{},
		devices: map[string]*sso.DeviceAuthorization{}, userCodes: map[string]string{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func errf(op string, err error) error { return fmt.Errorf("memstore: %s: %w", op, err) }

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// insertNew adds v under key, or answers ErrConflict when the key is taken. Callers hold mu.
func insertNew[V any](m map[string]V, key string, v V, op string) error {
	if _, ok := m[key]; ok {
		return errf(op, sso.ErrConflict)
	}
	m[key] = v
	return nil
}

// oldestFirst sorts l by creation time, then key (the SQL store's ORDER BY created_at, id).
func oldestFirst[T any](l []T, key func(T) (time.Time, string)) {
	sort.Slice(l, func(i, j int) bool {
		ti, ki := key(l[i])
		tj, kj := key(l[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return ki < kj
	})
}

// live reports whether a row expiring at exp is still live at now.
func live(exp, now time.Time) bool { return exp.After(now) }

// ---- auth requests ----

func cloneAuthRequest(r *sso.AuthRequest) *sso.AuthRequest {
	c := *r
	c.Scopes, c.Prompt, c.UILocales, c.AMR = slices.Clone(r.Scopes), slices.Clone(r.Prompt), slices.Clone(r.UILocales), slices.Clone(r.AMR)
	c.ACRValues, c.Resources = slices.Clone(r.ACRValues), slices.Clone(r.Resources)
	if r.MaxAge != nil {
		d := *r.MaxAge
		c.MaxAge = &d
	}
	return &c
}

// CreateAuthRequest stores a new auth request; ErrConflict when the id exists. Code fields are
// ignored: a code is attached by SaveCode.
func (s *Store) CreateAuthRequest(_ context.Context, r *sso.AuthRequest) error {
	if r == nil || r.ID == "" {
		return errors.New("memstore: create auth request: empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := cloneAuthRequest(r)
	c.CreatedAt = orNow(c.CreatedAt, s.clock())
	c.CodeHash, c.CodeExpiresAt, c.CodeConsumed = "", time.Time{}, false
	return insertNew(s.authReqs, c.ID, c, "create auth request")
}

// liveAuthRequest returns the stored request when it is known and not expired. Callers hold mu.
func (s *Store) liveAuthRequest(id string) (*sso.AuthRequest, bool) {
	r, ok := s.authReqs[id]
	if !ok || !live(r.ExpiresAt, s.clock()) {
		return nil, false
	}
	return r, true
}

// AuthRequest returns the request by id; ErrNotFound when unknown or expired.
func (s *Store) AuthRequest(_ context.Context, id string) (*sso.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveAuthRequest(id)
	if !ok {
		return nil, errf("auth request", sso.ErrNotFound)
	}
	return cloneAuthRequest(r), nil
}

// BindAuthRequest binds a pending request to a browser, once.
func (s *Store) BindAuthRequest(_ context.Context, id, browser string) error {
	if browser == "" {
		return errors.New("memstore: bind auth request: empty browser")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveAuthRequest(id)
	switch {
	case !ok:
		return errf("bind auth request", sso.ErrNotFound)
	case r.Done:
		return errf("bind auth request", sso.ErrAuthRequestUsed)
	case r.Browser == "":
		r.Browser = browser
		return nil
	case r.Browser != browser:
		return errf("bind auth request", sso.ErrAuthRequestElsewhere)
	}
	return nil
}

// CompleteAuthRequest moves a pending request bound to c.Browser to completed, once.
func (s *Store) CompleteAuthRequest(_ context.Context, id string, c sso.Completion) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveAuthRequest(id)
	switch {
	case !ok:
		return errf("complete auth request", sso.ErrNotFound)
	case r.Done:
		return errf("complete auth request", sso.ErrAuthRequestUsed)
	case r.Browser != c.Browser:
		return errf("complete auth request", sso.ErrAuthRequestElsewhere)
	}
	r.Done, r.Subject, r.AuthTime, r.AMR, r.SessionID = true, c.Subject, c.AuthTime, slices.Clone(c.AMR), c.SessionID
	return nil
}

// SaveCode attaches a code hash to a done request, once. ErrNotFound when the request is
// unknown, expired, not done or already has a code; ErrConflict when the hash is in use.
func (s *Store) SaveCode(_ context.Context, id, codeHash string, expiresAt time.Time) error {
	if codeHash == "" {
		return errors.New("memstore: save code: empty code hash")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.liveAuthRequest(id)
	if !ok || !r.Done || r.CodeHash != "" {
		return errf("save code", sso.ErrNotFound)
	}
	if _, taken := s.codes[codeHash]; taken {
		return errf("save code", sso.ErrConflict)
	}
	r.CodeHash, r.CodeExpiresAt, r.CodeConsumed = codeHash, expiresAt, false
	s.codes[codeHash] = id
	return nil
}

// AuthRequestByCode finds the request by code hash, consumed or not; ErrNotFound when unknown or
// the code has expired.
func (s *Store) AuthRequestByCode(_ context.Context, codeHash string) (*sso.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authReqs[s.codes[codeHash]]
	if !ok || !live(r.CodeExpiresAt, s.clock()) {
		return nil, errf("auth request by code", sso.ErrNotFound)
	}
	return cloneAuthRequest(r), nil
}

// CodeRequest returns the request id with its code, consumed or not, and whether its session is
// live (sso.CodeRequestReader); ErrNotFound when unknown, without a code, or the code expired.
func (s *Store) CodeRequest(_ context.Context, id string) (*sso.AuthRequest, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.authReqs[id]
	if !ok || r.CodeHash == "" || !live(r.CodeExpiresAt, s.clock()) {
		return nil, false, errf("code request", sso.ErrNotFound)
	}
	_, sessionLive := s.liveSession(r.SessionID)
	return cloneAuthRequest(r), sessionLive && r.SessionID != "", nil
}

// DeleteAuthRequest deletes the request and its code (idempotent).
func (s *Store) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteAuthRequest(id)
	return nil
}

func (s *Store) deleteAuthRequest(id string) {
	if r, ok := s.authReqs[id]; ok {
		if r.CodeHash != "" {
			delete(s.codes, r.CodeHash)
		}
		delete(s.authReqs, id)
	}
}
