package bridge

import (
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/web/playground"
	"github.com/ssobridge/ssobridge/sso"
)

// PlaygroundClientID is the built-in public client behind /playground.
const PlaygroundClientID = playground.ClientID

// StaticClients are the runtime clients of the checked configuration plus the built-in ones
// (the playground).
func StaticClients(chk *config.Checked) []sso.ClientConfig {
	out := append([]sso.ClientConfig(nil), chk.Clients...)
	if chk.PlaygroundEnabled() {
		out = append(out, playground.Client(chk.Issuer))
	}
	return out
}
