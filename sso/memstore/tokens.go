package memstore

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

func cloneFamily(t *sso.RefreshToken) *sso.RefreshToken {
	c := *t
	c.Audience, c.Scopes, c.AMR = slices.Clone(t.Audience), slices.Clone(t.Scopes), slices.Clone(t.AMR)
	return &c
}

// sessionHeldLive reports whether the store holds session id, not ended and not expired at now:
// the session a code or device code is redeemed in must be (sso.Issue).
func (s *Store) sessionHeldLive(id string, now time.Time) bool {
	ss := s.sessions[id]
	return ss != nil && !ss.Ended && live(ss.ExpiresAt, now)
}

// IssueTokens applies one token grant atomically (see sso.Issue and sso.Rotation): every check
// runs before anything is written, so a failing grant writes nothing, except a reused rotated
// token, whose family revocation is kept and ErrRefreshReused returned.
func (s *Store) IssueTokens(ctx context.Context, in sso.Issue) error {
	if in.Family != nil && in.Family.FamilyID == "" {
		return errors.New("memstore: issue tokens: family without id")
	}
	if err := ctx.Err(); err != nil {
		return errf("issue tokens", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()

	var code *sso.AuthRequest
	if in.ConsumeCodeHash != "" {
		id := in.ConsumeCodeRequest
		if id == "" {
			id = s.codes[in.ConsumeCodeHash]
		}
		r, ok := s.authReqs[id]
		switch {
		case ok && r.CodeHash != in.ConsumeCodeHash:
			return errf("issue tokens: consume code", sso.ErrNotFound)
		case !ok || !live(r.CodeExpiresAt, now):
			return errf("issue tokens: consume code", sso.ErrNotFound)
		case r.CodeConsumed:
			return errf("issue tokens: consume code", sso.ErrCodeConsumed)
		case r.SessionID != "" && !s.sessionHeldLive(r.SessionID, now):
			// Ended or expired, or no longer held (purged after its end or expiry): review s22 X-1.
			return errf("issue tokens: consume code", sso.ErrSessionEnded)
		}
		code = r
	}
	var device *sso.DeviceAuthorization
	if c := in.ConsumeDevice; c != nil {
		d, ok := s.devices[c.DeviceCodeHash]
		switch {
		case !ok || d.ClientID != c.ClientID || d.State != sso.DeviceApproved || !live(d.ExpiresAt, orNow(c.Now, now)):
			return errf("issue tokens: consume device authorization", sso.ErrNotFound)
		case d.SessionID != "" && !s.sessionHeldLive(d.SessionID, orNow(c.Now, now)):
			// Ended or expired, or no longer held (purged after its end or expiry): review s22 X-1.
			return errf("issue tokens: consume device authorization", sso.ErrSessionEnded)
		}
		device = d
	}

	var rotate *sso.RefreshToken
	if rot := in.Rotate; rot != nil {
		rnow := orNow(rot.Now, now)
		f, ok := s.families[rot.FamilyID]
		switch {
		case !ok || !live(f.ExpiresAt, rnow):
			return errf("issue tokens: rotate", sso.ErrNotFound)
		case f.Revoked:
			return errf("issue tokens: rotate", sso.ErrTokenRevoked)
		case f.Generation == rot.Generation && f.Hash == rot.OldHash && rot.OldHash != "":
			rotate = f
		case f.Generation == rot.Generation+1 && f.Hash == rot.NewHash && rot.Grace > 0 && rnow.Sub(f.RotatedAt) <= rot.Grace:
			// A concurrent retry of the same rotation: the family is there already.
		case f.Generation > rot.Generation:
			// Reuse of a rotated token: kill the family, and make that stick (as the SQL
			// store commits what the grant wrote before it).
			if code != nil {
				code.CodeConsumed = true
			}
			if device != nil {
				device.State = sso.DeviceConsumed
			}
			f.Revoked = true
			return errf("issue tokens: family "+f.FamilyID, sso.ErrRefreshReused)
		default:
			return errf("issue tokens: rotate", sso.ErrNotFound)
		}
	}
	if in.Family != nil {
		if _, ok := s.families[in.Family.FamilyID]; ok {
			return errf("issue tokens: insert family", sso.ErrConflict)
		}
	}

	if code != nil {
		code.CodeConsumed = true
	}
	if device != nil {
		device.State = sso.DeviceConsumed
	}
	if rotate != nil {
		rotate.Generation, rotate.Hash, rotate.RotatedAt = rotate.Generation+1, in.Rotate.NewHash, orNow(in.Rotate.Now, now)
	}
	if in.Family != nil {
		f := cloneFamily(in.Family)
		f.CreatedAt = orNow(f.CreatedAt, now)
		s.families[f.FamilyID] = f
	}
	return nil
}

// Family returns a family by id whatever its state; ErrNotFound when unknown or expired.
func (s *Store) Family(_ context.Context, familyID string) (*sso.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.families[familyID]
	if !ok || !live(f.ExpiresAt, s.clock()) {
		return nil, errf("family", sso.ErrNotFound)
	}
	return cloneFamily(f), nil
}

// LegacyRefreshToken: a memory store never held refresh tokens of the old layout.
func (s *Store) LegacyRefreshToken(context.Context, string) (*sso.RefreshToken, error) {
	return nil, errf("legacy refresh token", sso.ErrNotFound)
}

// RevokeAccessToken records one access token revoked until expiresAt (idempotent).
func (s *Store) RevokeAccessToken(_ context.Context, idHash string, expiresAt time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.revoked[idHash]; !ok || expiresAt.After(exp) {
		s.revoked[idHash] = expiresAt
	}
	return nil
}

// AccessTokenRevoked tells whether RevokeAccessToken recorded idHash (and it has not expired).
func (s *Store) AccessTokenRevoked(_ context.Context, idHash string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.revoked[idHash]
	return ok && live(exp, s.clock()), nil
}

// RevokeFamily revokes a family (unknown ids are not an error).
func (s *Store) RevokeFamily(_ context.Context, familyID string) error {
	if familyID == "" {
		return errors.New("memstore: revoke family: empty family id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.families[familyID]; ok {
		f.Revoked = true
	}
	return nil
}

// RevokeGrants revokes every family of a subject (for one client when clientID is not empty), or
// every family of a client when subject is empty, and returns how many live families with a
// refresh token it revoked.
func (s *Store) RevokeGrants(_ context.Context, subject, clientID string) (int, error) {
	if subject == "" && clientID == "" {
		return 0, errors.New("memstore: revoke grants: neither subject nor client")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	n := 0
	for _, f := range s.families {
		if (subject != "" && f.Subject != subject) || (clientID != "" && f.ClientID != clientID) {
			continue
		}
		if !f.Revoked && f.Hash != "" && live(f.ExpiresAt, now) {
			n++
		}
		f.Revoked = true
	}
	// The grants not yet redeemed close with the families (review s22 X-3): an approved
	// device authorization is denied (its next poll gets access_denied), an unexchanged code
	// is consumed (its exchange gets invalid_grant).
	for _, d := range s.devices {
		if d.State == sso.DeviceApproved && (subject == "" || d.Subject == subject) && (clientID == "" || d.ClientID == clientID) {
			d.State = sso.DeviceDenied
		}
	}
	for _, r := range s.authReqs {
		if r.CodeHash != "" && !r.CodeConsumed && (subject == "" || r.Subject == subject) && (clientID == "" || r.ClientID == clientID) {
			r.CodeConsumed = true
		}
	}
	return n, nil
}

// ListRefreshTokens lists the live families with a refresh token, oldest first, filtered by
// subject and/or client when not empty.
func (s *Store) ListRefreshTokens(_ context.Context, subject, clientID string) ([]*sso.RefreshToken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	var out []*sso.RefreshToken
	for _, f := range s.families {
		if f.Revoked || f.Hash == "" || !live(f.ExpiresAt, now) ||
			(subject != "" && f.Subject != subject) || (clientID != "" && f.ClientID != clientID) {
			continue
		}
		out = append(out, cloneFamily(f))
	}
	oldestFirst(out, func(t *sso.RefreshToken) (time.Time, string) { return t.CreatedAt, t.FamilyID })
	return out, nil
}
