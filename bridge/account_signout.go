package bridge

import (
	"context"
	"fmt"
	"slices"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web/account"
)

// endAll is the account page's "Sign out of all devices" (account.Handler.EndAll): the store's
// deactivation with EndSessions and no client (every live session of the member ended, every
// grant revoked, the ended sessions' back-channel logouts queued: one transaction, as an
// administrator's factor reset or a deactivation does; backchannel.Logouts.Deactivate, which
// wakes the outbox). The apps holding refresh tokens are read first, for the result page only.
func endAll(ctx context.Context, st store.Store, logouts *backchannel.Logouts, subject string) (*account.EndedAll, error) {
	rts, err := st.ListRefreshTokens(ctx, subject, "")
	if err != nil {
		return nil, fmt.Errorf("list refresh tokens: %w", err)
	}
	out := &account.EndedAll{}
	for _, rt := range rts {
		if !slices.Contains(out.TokenApps, rt.ClientID) {
			out.TokenApps = append(out.TokenApps, rt.ClientID)
		}
	}
	if out.Sessions, err = logouts.Deactivate(ctx, &store.Deactivation{Subject: subject, EndSessions: true},
		st.Deactivate); err != nil {
		return nil, err
	}
	return out, nil
}
