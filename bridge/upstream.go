package bridge

import (
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/upstream"
	webupstream "github.com/ssobridge/ssobridge/bridge/web/upstream"
)

// secretUpstream keys the nonce and PKCE verifier derived from each upstream sign-in's state.
const secretUpstream = "upstream_v1"

// upstreamProviders are the configured upstream OpenID providers (none: nil list, no buttons).
func upstreamProviders(cfg Config, log *slog.Logger, now func() time.Time) *upstream.Providers {
	return upstream.New(cfg.UpstreamProviders, upstream.Options{
		CallbackURL: func(name string) string { return webupstream.CallbackURL(cfg.Issuer, name) },
		Logger:      log, Now: now,
		AMSEmailVerified: cfg.Policy.EmailVerified, // link_by_email only then
	})
}
