package bridge

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// channels is the registry of the outbox's channels, one line each: deliverers that serve
// every client. (A provisioning target kind, scim or webhook, serves the clients whose
// target is of that kind: provisioning.Kinds, provisioning.Routes.)
func channels(logout *backchannel.Deliverer, samlLogout *saml.BackChannelSender) map[string]outbox.Deliverer {
	return map[string]outbox.Deliverer{
		backchannel.Channel: logout,
		saml.SLOChannel:     samlLogout,
	}
}

// outboxParts are what the outbox is built from.
type outboxParts struct {
	cfg       Config
	store     store.Store
	clients   backchannel.Clients
	keys      *sso.KeyManager
	publicSID func(sessionID string) string
	log       *slog.Logger
	now       func() time.Time
	observer  outbox.DeliveryObserver // metrics
	// samlLogout sends the SAML SPs' back-channel logouts (its registry and keys are set once
	// the SAML IdP's parts exist).
	samlLogout *saml.BackChannelSender
	// audit writes the back-channel logouts' audit events (backchannel.AuditUntold).
	audit func(ctx context.Context, e *store.AuditEvent)
}

// newOutbox builds the one outbox queue with its deliverers (each provisioning target's, by
// its kind, and the channels') and the back-channel logouts that queue on it.
func newOutbox(p outboxParts) (*outbox.Queue, *backchannel.Logouts) {
	// Every URL the outbox calls was supplied by an app: its dialer refuses internal addresses
	// unless the app is allowed them (bridge/outbound).
	// With outbound.proxy set every call goes through the proxy (its target still checked).
	sender := outbox.NewSenders(p.cfg.Shadow.Timeout, outbound.Options{Proxy: p.cfg.Outbound.ProxyURL(), ProxyByName: p.cfg.Outbound.ProxyByName()})
	q := outbox.New(outbox.Options{Config: p.cfg.Shadow.Config, Store: p.store, Logger: p.log, Now: p.now, Observer: p.observer,
		Targets: provisioning.Routes(p.cfg.Provisioning, outbox.Deps{Store: p.store, Now: p.now, Log: p.log}, sender),
		Channels: channels(&backchannel.Deliverer{Clients: p.clients, Keys: p.keys, Issuer: p.cfg.Issuer,
			HTTP: sender, Now: p.now}, p.samlLogout)})
	p.samlLogout.HTTP, p.samlLogout.Issuer, p.samlLogout.Now = sender, p.cfg.Issuer, p.now
	return q, &backchannel.Logouts{Store: p.store, Clients: p.clients, PublicSID: p.publicSID, Wake: q.Wake, Log: p.log, Audit: p.audit}
}
