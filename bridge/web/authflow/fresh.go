package authflow

import (
	"context"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// SignInMember is Member for a new sign-in that proves no password to the AMS (a passkey, a
// linked upstream identity): the member is read from the AMS itself, as a password check reads
// them, not from the profile cache, so that a member the AMS disabled, locked or expired a minute
// ago is refused at once. The read refreshes the cache for the session's later re-checks.
func (h *Handler) SignInMember(ctx context.Context, subject string) (*legacy.Member, error) {
	if key, err := h.Subjects.MemberKey(ctx, subject); err == nil {
		if c, ok := h.Directory.(interface{ Invalidate(key string) }); ok {
			c.Invalidate(key)
		}
	}
	return h.Member(ctx, &sso.Session{Subject: subject})
}
