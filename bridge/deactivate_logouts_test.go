package bridge_test

import (
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
)

// The administration asks its SessionEnder (the server's backchannel.Logouts) for a
// LogoutBuilder to apply a factor reset with the logouts of the sessions it ends: a drift of
// either would leave resets queueing no logout, silently.
var _ admin.LogoutBuilder = (*backchannel.Logouts)(nil)
