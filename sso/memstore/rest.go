package memstore

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"

	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// ---- sessions ----

func cloneSession(ss *sso.Session) *sso.Session {
	c := *ss
	c.AMR, c.Clients = slices.Clone(ss.AMR), slices.Clone(ss.Clients)
	return &c
}

// CreateSession stores a new session and its clients; ErrConflict when the id exists.
func (s *Store) CreateSession(_ context.Context, ss *sso.Session) error {
	if ss == nil || ss.ID == "" {
		return errors.New("memstore: create session: empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	c := cloneSession(ss)
	c.CreatedAt, c.LastSeen, c.Clients = orNow(c.CreatedAt, now), orNow(c.LastSeen, now), nil
	for _, id := range ss.Clients {
		if !slices.Contains(c.Clients, id) {
			c.Clients = append(c.Clients, id)
		}
	}
	return insertNew(s.sessions, c.ID, c, "create session")
}

func (s *Store) liveSession(id string) (*sso.Session, bool) {
	ss, ok := s.sessions[id]
	if !ok || ss.Ended || !live(ss.ExpiresAt, s.clock()) {
		return nil, false
	}
	return ss, true
}

// Session returns a live session; ErrNotFound when unknown, expired or ended.
func (s *Store) Session(_ context.Context, id string) (*sso.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.liveSession(id)
	if !ok {
		return nil, errf("session", sso.ErrNotFound)
	}
	return cloneSession(ss), nil
}

// AddSessionClient records that the live session signed into clientID (idempotent) and moves
// LastSeen forward to at. ErrNotFound when the session is unknown, expired or ended.
func (s *Store) AddSessionClient(_ context.Context, id, clientID string, at time.Time) error {
	if clientID == "" {
		return errors.New("memstore: add session client: empty client id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.liveSession(id)
	if !ok {
		return errf("add session client", sso.ErrNotFound)
	}
	if at.After(ss.LastSeen) {
		ss.LastSeen = at
	}
	if !slices.Contains(ss.Clients, clientID) {
		ss.Clients = append(ss.Clients, clientID)
	}
	return nil
}

// EndSession ends one session (idempotent), and its session-bound families.
func (s *Store) EndSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.sessions[id]; ok && !ss.Ended {
		ss.Ended = true
		s.revokeSessionBound(id)
	}
	return nil
}

// revokeSessionBound revokes the families of session id without a refresh token (granted
// without offline_access: they last as long as the session). Callers hold mu.
func (s *Store) revokeSessionBound(id string) {
	for _, f := range s.families {
		if f.SessionID == id && f.Hash == "" {
			f.Revoked = true
		}
	}
}

// liveSessions returns the live sessions of subject (all when empty), oldest first. Callers hold mu.
func (s *Store) liveSessions(subject string) []*sso.Session {
	var out []*sso.Session
	for id := range s.sessions {
		if ss, ok := s.liveSession(id); ok && (subject == "" || ss.Subject == subject) {
			out = append(out, ss)
		}
	}
	oldestFirst(out, func(ss *sso.Session) (time.Time, string) { return ss.CreatedAt, ss.ID })
	return out
}

// Sessions lists live sessions, oldest first, filtered by subject when not empty.
func (s *Store) Sessions(_ context.Context, subject string) ([]*sso.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sso.Session
	for _, ss := range s.liveSessions(subject) {
		out = append(out, cloneSession(ss))
	}
	return out, nil
}

// EndSubjectSessions ends every live session of subject and returns them (Ended set), oldest first.
func (s *Store) EndSubjectSessions(_ context.Context, subject string) ([]*sso.Session, error) {
	if subject == "" {
		return nil, errors.New("memstore: end subject sessions: empty subject")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sso.Session
	for _, ss := range s.liveSessions(subject) {
		ss.Ended = true
		s.revokeSessionBound(ss.ID)
		out = append(out, cloneSession(ss))
	}
	return out, nil
}

// ---- signing keys ----

func cloneKey(k *sso.StoredKey) *sso.StoredKey {
	c := *k
	c.PublicJWK, c.PrivateEnc = bytes.Clone(k.PublicJWK), bytes.Clone(k.PrivateEnc)
	return &c
}

// SigningKeys returns every key not yet past ExpiresAt, oldest first.
func (s *Store) SigningKeys(context.Context) ([]*sso.StoredKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var out []*sso.StoredKey
	for _, k := range s.keys {
		if live(k.ExpiresAt, now) {
			out = append(out, cloneKey(k))
		}
	}
	oldestFirst(out, func(k *sso.StoredKey) (time.Time, string) { return k.CreatedAt, k.ID })
	return out, nil
}

// checkNewKey refuses a key to be stored without an id or key material.
func checkNewKey(k *sso.StoredKey) error {
	if k == nil || k.ID == "" {
		return errors.New("memstore: add signing key: empty id")
	}
	if len(k.PublicJWK) == 0 || len(k.PrivateEnc) == 0 {
		return errors.New("memstore: add signing key: missing key material")
	}
	return nil
}

// AddSigningKey stores a key; ErrConflict when the id exists.
func (s *Store) AddSigningKey(_ context.Context, k *sso.StoredKey) error {
	if err := checkNewKey(k); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := cloneKey(k)
	c.CreatedAt = orNow(c.CreatedAt, s.clock())
	return insertNew(s.keys, c.ID, c, "add signing key")
}

// AddSigningKeySuccessor stores k unless a key of its algorithm signs past k.CreatedAt
// (ErrConflict then; see sso.KeyStore).
func (s *Store) AddSigningKeySuccessor(_ context.Context, k *sso.StoredKey) error {
	if err := checkNewKey(k); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := cloneKey(k)
	c.CreatedAt = orNow(c.CreatedAt, s.clock())
	for _, o := range s.keys {
		if o.Algorithm == c.Algorithm && o.SignUntil.After(c.CreatedAt) {
			return errf("add signing key successor", sso.ErrConflict)
		}
	}
	return insertNew(s.keys, c.ID, c, "add signing key successor")
}

// ExtendSigningKey moves a live key's ExpiresAt to expiresAt when that is later (see
// sso.KeyStore); ErrNotFound for an unknown or expired key.
func (s *Store) ExtendSigningKey(_ context.Context, id string, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[id]
	if !ok || !live(k.ExpiresAt, s.clock()) || k.Withdrawn() {
		return errf("extend signing key", sso.ErrNotFound)
	}
	if expiresAt.After(k.ExpiresAt) {
		k.ExpiresAt = expiresAt
	}
	return nil
}

// RetireSigningKey withdraws a live key now and stores its successor, if any, at once (see
// sso.KeyStore).
func (s *Store) RetireSigningKey(_ context.Context, id string, successor *sso.StoredKey) error {
	if successor != nil {
		if err := checkNewKey(successor); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	k, ok := s.keys[id]
	if !ok || !live(k.ExpiresAt, now) || k.Withdrawn() {
		return errf("retire signing key", sso.ErrNotFound)
	}
	if successor != nil {
		c := cloneKey(successor)
		c.CreatedAt = orNow(c.CreatedAt, now)
		if err := insertNew(s.keys, c.ID, c, "retire signing key"); err != nil {
			return err
		}
	}
	if now.Before(k.SignUntil) {
		k.SignUntil = now
	}
	k.ExpiresAt = k.SignUntil
	return nil
}

// ---- clients ----

func cloneClient(c *sso.StoredClient) *sso.StoredClient {
	o := *c
	o.Config = bytes.Clone(c.Config)
	if o.Config == nil {
		o.Config = []byte{}
	}
	return &o
}

// Client returns a dynamic client; ErrNotFound when unknown.
func (s *Store) Client(_ context.Context, id string) (*sso.StoredClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errf("client", sso.ErrNotFound)
	}
	return cloneClient(c), nil
}

// Clients returns every dynamic client ordered by id.
func (s *Store) Clients(context.Context) ([]*sso.StoredClient, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sso.StoredClient
	for _, c := range s.clients {
		out = append(out, cloneClient(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// CreateClient stores a client and bumps ClientsVersion; ErrConflict when the id exists.
func (s *Store) CreateClient(_ context.Context, c *sso.StoredClient) error {
	if c == nil || c.ID == "" {
		return errors.New("memstore: create client: empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := cloneClient(c)
	n.CreatedAt = orNow(n.CreatedAt, s.clock())
	n.UpdatedAt = orNow(n.UpdatedAt, n.CreatedAt)
	if err := insertNew(s.clients, n.ID, n, "create client"); err != nil {
		return err
	}
	s.clientsVer++
	return nil
}

// UpdateClient replaces a client's config (CreatedAt is kept) and bumps ClientsVersion;
// ErrNotFound when the id does not exist.
func (s *Store) UpdateClient(_ context.Context, c *sso.StoredClient) error {
	if c == nil {
		return errors.New("memstore: update client: nil client")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return errf("update client", sso.ErrNotFound)
	}
	n := cloneClient(c)
	n.CreatedAt, n.UpdatedAt = old.CreatedAt, orNow(n.UpdatedAt, s.clock())
	s.clients[n.ID] = n
	s.clientsVer++
	return nil
}

// DeleteClient deletes a client (idempotent) with its place in every session, its sign-in
// requests and device authorizations, revokes its families, and bumps ClientsVersion when it
// existed.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; ok {
		delete(s.clients, id)
		s.clientsVer++
	}
	// Every grant of the client goes with it: a client registered later under the same id is
	// another app, which must not find the old app's tokens live again.
	for _, f := range s.families {
		if f.ClientID == id {
			f.Revoked = true
		}
	}
	// And its place in every session: it would be sent the old app's back-channel logouts.
	for _, ss := range s.sessions {
		ss.Clients = slices.DeleteFunc(ss.Clients, func(c string) bool { return c == id })
	}
	// And its sign-in requests (with their codes) and device authorizations.
	for rid, r := range s.authReqs {
		if r.ClientID == id {
			if r.CodeHash != "" {
				delete(s.codes, r.CodeHash)
			}
			delete(s.authReqs, rid)
		}
	}
	for h, d := range s.devices {
		if d.ClientID == id {
			delete(s.userCodes, d.UserCode)
			delete(s.devices, h)
		}
	}
	return nil
}

// ClientsVersion returns a counter bumped with every client change.
func (s *Store) ClientsVersion(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clientsVer, nil
}

// ---- secrets ----

// EnsureSecret returns the secret named name, storing value first if there is none yet.
func (s *Store) EnsureSecret(_ context.Context, name string, value []byte) ([]byte, error) {
	if name == "" || len(value) == 0 {
		return nil, errors.New("memstore: ensure secret: empty name or value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[name]; !ok {
		s.secrets[name] = bytes.Clone(value)
	}
	return bytes.Clone(s.secrets[name]), nil
}

// ReplaceSecret sets the secret to value when it is old (compare-and-set); ErrNotFound when it is
// absent or not old.
func (s *Store) ReplaceSecret(_ context.Context, name string, old, value []byte) error {
	if name == "" || len(value) == 0 {
		return errors.New("memstore: replace secret: empty name or value")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.secrets[name]
	if !ok || !bytes.Equal(cur, old) {
		return errf("replace secret "+name, sso.ErrNotFound)
	}
	s.secrets[name] = bytes.Clone(value)
	return nil
}

// ---- purge and health ----

// Purge deletes rows expired before now: auth requests (with their codes, once the code has
// expired too), access and refresh tokens, ended or expired sessions and expired signing keys.
func (s *Store) Purge(_ context.Context, now time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, r := range s.authReqs {
		if !live(r.ExpiresAt, now) && !live(r.CodeExpiresAt, now) {
			s.deleteAuthRequest(id)
			n++
		}
	}
	n += purgeMap(s.revoked, func(exp time.Time) bool { return !live(exp, now) })
	n += purgeMap(s.families, func(t *sso.RefreshToken) bool { return !live(t.ExpiresAt, now) })
	n += purgeMap(s.sessions, func(ss *sso.Session) bool { return ss.Ended || !live(ss.ExpiresAt, now) })
	n += purgeMap(s.keys, func(k *sso.StoredKey) bool { return !live(k.ExpiresAt, now) })
	return n, nil
}

func purgeMap[V any](m map[string]V, doomed func(V) bool) int64 {
	var n int64
	for k, v := range m {
		if doomed(v) {
			delete(m, k)
			n++
		}
	}
	return n
}

// Ping always succeeds.
func (s *Store) Ping(context.Context) error { return nil }

// Close does nothing: the rows go with the process.
func (s *Store) Close() error { return nil }
