package sqlite

import (
	"context"

	"github.com/ssobridge/ssobridge/sso"
)

// HasLiveGrants reports whether a deactivation of subject would revoke or close anything of
// theirs (review s26 R3-2): a family not revoked nor expired, with a refresh token or not, an
// unexchanged code or an approved device authorization not yet polled. One read.
func (s *Store) HasLiveGrants(ctx context.Context, subject string) (bool, error) {
	var live bool
	err := s.r.QueryRowContext(ctx, `SELECT
		EXISTS (SELECT 1 FROM `+familyFrom+` WHERE g.subject = ? AND f.revoked = 0 AND f.expires_at > ?)
		OR EXISTS (SELECT 1 FROM device_authorizations WHERE state = '`+string(sso.DeviceApproved)+`' AND subject = ?)
		OR EXISTS (SELECT 1 FROM auth_requests
			WHERE code_consumed = 0 AND code_hash IS NOT NULL AND done = 1 AND code_hash <> '' AND subject = ?)`,
		subject, ts(s.clock()), subject, subject).Scan(&live)
	return live, wrap("has live grants", err)
}
