package memstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

func cloneAccess(t *sso.AccessToken) *sso.AccessToken {
	c := *t
	c.Audience, c.Scopes, c.AMR = slices.Clone(t.Audience), slices.Clone(t.Scopes), slices.Clone(t.AMR)
	return &c
}

func cloneRefresh(t *sso.RefreshToken) *sso.RefreshToken {
	c := *t
	c.Audience, c.Scopes, c.AMR = slices.Clone(t.Audience), slices.Clone(t.Scopes), slices.Clone(t.AMR)
	return &c
}

// IssueTokens applies one token grant atomically (see sso.Issue and sso.RotateFrom): every
// check runs before anything is written, so a failing grant writes nothing, except a reused
// rotated token, whose family revocation is kept and ErrRefreshReused returned.
func (s *Store) IssueTokens(ctx context.Context, in sso.Issue) error {
	if in.Access.IDHash == "" {
		return errors.New("memstore: issue tokens: empty access token hash")
	}
	if in.Refresh != nil && (in.Refresh.Hash == "" || in.Refresh.FamilyID == "") {
		return errors.New("memstore: issue tokens: refresh token without hash or family")
	}
	if in.Rotate != nil && in.Refresh == nil {
		return errors.New("memstore: issue tokens: rotation without a successor refresh token")
	}
	if err := ctx.Err(); err != nil {
		return errf("issue tokens", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()

	var code *sso.AuthRequest
	if in.ConsumeCodeHash != "" {
		r, ok := s.authReqs[s.codes[in.ConsumeCodeHash]]
		switch {
		case !ok || !live(r.CodeExpiresAt, now):
			return errf("issue tokens: consume code", sso.ErrNotFound)
		case r.CodeConsumed:
			return errf("issue tokens: consume code", sso.ErrCodeConsumed)
		}
		code = r
	}

	insertRefresh := in.Refresh != nil
	var rotate *sso.RefreshToken
	if rot := in.Rotate; rot != nil {
		rnow := orNow(rot.Now, now)
		old, ok := s.refresh[rot.OldHash]
		switch {
		case !ok || !live(old.ExpiresAt, rnow):
			return errf("issue tokens: rotate", sso.ErrNotFound)
		case old.Revoked:
			return errf("issue tokens: rotate", sso.ErrTokenRevoked)
		case old.RotatedAt.IsZero():
			rotate = old
		case rot.Grace > 0 && old.SuccessorHash == in.Refresh.Hash && rnow.Sub(old.RotatedAt) <= rot.Grace:
			// A concurrent retry of the same rotation: the successor is already stored.
			insertRefresh = false
		default:
			// Reuse of a rotated token: kill the family, and make that stick (as the SQL
			// store commits what the grant wrote before it).
			if code != nil {
				code.CodeConsumed = true
			}
			s.revokeFamily(old.FamilyID)
			return errf("issue tokens: family "+old.FamilyID, sso.ErrRefreshReused)
		}
	}
	if _, ok := s.access[in.Access.IDHash]; ok {
		return errf("issue tokens: insert access token", sso.ErrConflict)
	}
	if insertRefresh {
		if _, ok := s.refresh[in.Refresh.Hash]; ok {
			return errf("issue tokens: insert refresh token", sso.ErrConflict)
		}
	}

	if code != nil {
		code.CodeConsumed = true
	}
	if rotate != nil {
		rotate.RotatedAt, rotate.SuccessorHash = orNow(in.Rotate.Now, now), in.Refresh.Hash
	}
	a := cloneAccess(&in.Access)
	a.CreatedAt = orNow(a.CreatedAt, now)
	s.access[a.IDHash] = a
	if insertRefresh {
		r := cloneRefresh(in.Refresh)
		r.CreatedAt = orNow(r.CreatedAt, now)
		s.refresh[r.Hash] = r
	}
	return nil
}

// AccessToken returns the token by id hash; ErrNotFound when unknown or expired, ErrTokenRevoked
// when revoked.
func (s *Store) AccessToken(_ context.Context, idHash string) (*sso.AccessToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.access[idHash]
	switch {
	case !ok || !live(t.ExpiresAt, s.clock()):
		return nil, errf("access token", sso.ErrNotFound)
	case t.Revoked:
		return nil, errf("access token", sso.ErrTokenRevoked)
	}
	return cloneAccess(t), nil
}

// RefreshToken returns the token by hash whatever its state; ErrNotFound when unknown or expired.
func (s *Store) RefreshToken(_ context.Context, hash string) (*sso.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[hash]
	if !ok || !live(t.ExpiresAt, s.clock()) {
		return nil, errf("refresh token", sso.ErrNotFound)
	}
	return cloneRefresh(t), nil
}

// RevokeAccessToken revokes one access token (idempotent; unknown ids are not an error).
func (s *Store) RevokeAccessToken(_ context.Context, idHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.access[idHash]; ok {
		t.Revoked = true
	}
	return nil
}

// RevokeFamily revokes every refresh token of the family and the access tokens issued with it.
func (s *Store) RevokeFamily(_ context.Context, familyID string) error {
	if familyID == "" {
		return errors.New("memstore: revoke family: empty family id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeFamily(familyID)
	return nil
}

func (s *Store) revokeFamily(familyID string) {
	for _, t := range s.refresh {
		if t.FamilyID == familyID {
			t.Revoked = true
		}
	}
	for _, t := range s.access {
		if t.FamilyID == familyID {
			t.Revoked = true
		}
	}
}

// RevokeGrants revokes every refresh and access token of a subject (for one client when clientID
// is not empty) and returns how many live refresh-token families it revoked.
func (s *Store) RevokeGrants(_ context.Context, subject, clientID string) (int, error) {
	if subject == "" {
		return 0, errors.New("memstore: revoke grants: empty subject")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	match := func(sub, client string) bool { return sub == subject && (clientID == "" || client == clientID) }
	families := map[string]bool{}
	for _, t := range s.refresh {
		if !match(t.Subject, t.ClientID) {
			continue
		}
		if !t.Revoked && live(t.ExpiresAt, now) {
			families[t.FamilyID] = true
		}
		t.Revoked = true
	}
	for _, t := range s.access {
		if match(t.Subject, t.ClientID) {
			t.Revoked = true
		}
	}
	return len(families), nil
}

// ListRefreshTokens lists the live current refresh tokens (one per live family), oldest first,
// filtered by subject and/or client when not empty.
func (s *Store) ListRefreshTokens(_ context.Context, subject, clientID string) ([]*sso.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var out []*sso.RefreshToken
	for _, t := range s.refresh {
		if t.Revoked || !t.RotatedAt.IsZero() || !live(t.ExpiresAt, now) ||
			(subject != "" && t.Subject != subject) || (clientID != "" && t.ClientID != clientID) {
			continue
		}
		out = append(out, cloneRefresh(t))
	}
	oldestFirst(out, func(t *sso.RefreshToken) (time.Time, string) { return t.CreatedAt, t.Hash })
	return out, nil
}
