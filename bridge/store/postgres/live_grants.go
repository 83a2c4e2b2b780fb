package postgres

import (
	"context"

	"github.com/ssobridge/ssobridge/sso"
)

// HasLiveGrants reports whether a deactivation of subject would revoke or close anything of
// theirs (review s26 R3-2): a family not revoked nor expired, with a refresh token or not, an
// unexchanged code or an approved device authorization not yet polled. One read; the pending
// conditions are closePendingGrantsSQL's, so the same partial indexes serve it.
func (s *Store) HasLiveGrants(ctx context.Context, subject string) (bool, error) {
	var live bool
	err := s.pool.QueryRow(ctx, `SELECT
		EXISTS (SELECT 1 FROM `+familyFrom+` WHERE g.subject = $1 AND NOT f.revoked AND f.expires_at > $2)
		OR EXISTS (SELECT 1 FROM device_authorizations WHERE state = '`+string(sso.DeviceApproved)+`' AND subject = $1)
		OR EXISTS (SELECT 1 FROM auth_requests
			WHERE code_hash IS NOT NULL AND code_hash <> '' AND done AND NOT code_consumed AND subject = $1)`,
		subject, ts(s.clock())).Scan(&live)
	return live, wrap("has live grants", err)
}
