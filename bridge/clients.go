package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

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

// warnStoredClients warns, at start-up, about each client added through the administration
// (a dynamic client) that the bridge serves differently from how it would register it today:
//
//   - one that no longer passes the registration's checks (sso.ClientConfig.Validate), which may
//     have become stricter since the client was stored (an http or javascript:
//     initiate_login_uri, c24431f): the client is served as before, but every edit of it is
//     refused until those fields are fixed (end-of-session review s13 RV2-2);
//   - one whose id_token_signing_alg the bridge keeps no signing key for (algs: keys.algorithms
//     and RS256): keys.algorithms was narrowed after the client was registered, or it was
//     registered before the administration checked (review s12 W4). Its token requests get
//     server_error until the algorithm is added back or the client is edited.
//
// A client that is not served at all (sso.ClientConfig.Unusable: an id of a member's subject's
// shape) gets one line saying so instead.
//
// A static client with either is a configuration error (config.checkClients), and so is never
// here.
func warnStoredClients(ctx context.Context, reg *sso.Registry, algs []string, log *slog.Logger) {
	for _, c := range reg.All(ctx) {
		if reg.IsStatic(c.ID) {
			continue
		}
		if why := c.Unusable(); why != "" {
			// Not served (sso.ClientConfig.Unusable), rather than served with other fields to fix.
			log.WarnContext(ctx, "a client added through the administration is not served: add it again under another id (ssobridge clients add), move its app to the new client_id, then remove it (ssobridge clients remove ID)",
				"client", c.ID, "reason", why)
			continue
		}
		cc := *c // as the administration checks it: after FillDefaults, on a copy
		cc.FillDefaults()
		if err := cc.Validate(); err != nil {
			log.WarnContext(ctx, "a client added through the administration does not pass today's registration checks: it is served as before, but cannot be edited until the fields named are fixed (ssobridge clients update ID ...)",
				"client", c.ID, "err", err)
		}
		if c.IDTokenSigningAlg == "" || slices.Contains(algs, c.IDTokenSigningAlg) {
			continue
		}
		log.WarnContext(ctx, "a client's id_token_signing_alg has no signing key: its token requests fail until the algorithm is added to keys.algorithms or the client is changed (ssobridge clients update ID --alg ...)",
			"field", "clients["+c.ID+"].id_token_signing_alg", "alg", c.IDTokenSigningAlg, "keys", strings.Join(algs, ", "))
	}
}

// checkDefaultClient refuses, at start-up, an ams.default_client that names no client (of the
// configuration file, built in, or in the store): a hand-off with no app waiting went to the
// account page instead, without a word (review s13 X3). The store's clients are known here,
// not at the configuration's validation. A store that cannot be read is its own error, not "no
// client has the id" (review s14 RV3-4).
//
// A default client without a usable initiate_login_uri is warned about once here (end-of-session
// review s13 RV2-6): the hand-off then goes to the account page, as with no default client.
func checkDefaultClient(ctx context.Context, reg *sso.Registry, id, issuer string, log *slog.Logger) error {
	if id == "" {
		return nil
	}
	cl, err := reg.ClientConfig(ctx, id)
	switch {
	case errors.Is(err, sso.ErrNotFound):
		return fmt.Errorf("ams.default_client: no client has the id %q (neither in clients: nor added with ssobridge clients add); fix the id or remove the setting", id)
	case err != nil:
		return fmt.Errorf("ams.default_client: looking up the client %q: %w", id, err)
	}
	if _, ok := cl.InitiateLoginURL(issuer); !ok {
		log.WarnContext(ctx, "ams.default_client has no usable initiate_login_uri (an absolute https URL): a hand-off with no app waiting goes to the account page",
			"client", id, "field", "clients["+id+"].initiate_login_uri")
	}
	return nil
}
