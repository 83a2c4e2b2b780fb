package bridge

import (
	"github.com/ssobridge/ssobridge/bridge/web/playground"
	"github.com/ssobridge/ssobridge/sso"
)

// PlaygroundClientID is the built-in public client behind /playground.
const PlaygroundClientID = playground.ClientID

// StaticClients are the clients from the config file plus the built-in ones (the playground).
func StaticClients(cfg Config) []sso.ClientConfig {
	out := append([]sso.ClientConfig(nil), cfg.Clients...)
	if cfg.PlaygroundEnabled() {
		out = append(out, playground.Client(cfg.Issuer))
	}
	return out
}
