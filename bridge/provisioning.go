package bridge

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// provisioningScopes are the scopes whose claims a provisioning payload may carry; the
// client's claim policy still decides which of their claims the client sees.
var provisioningScopes = []string{"openid", "profile", "email", ScopeMembership, ScopeRoles}

// memberView is the member's view for one client, as shadow provisioning sends it: the
// client's claim policy (userinfo target) over the provisioning scopes. Whether the member is
// active there is access.Decide's answer (Options.Access).
func (s *Server) memberView(_ context.Context, m *legacy.Member, subject, clientID string, now time.Time) (map[string]any, error) {
	return s.policy.Claims(m, subject, clientID, provisioningScopes, sso.TargetUserinfo, now)
}

// newShadow builds the shadow-user service.
func (s *Server) newShadow() {
	s.shadow = provisioning.New(provisioning.Options{
		Config: s.cfg.Shadow, Targets: s.cfg.Provisioning, Store: s.store, Directory: s.dir,
		Viewer: provisioning.ViewFunc(s.memberView), Access: s.access, Clients: s.provider, Keys: s.keys, Issuer: s.cfg.Issuer,
		Logger: s.log, PublicSID: s.provider.PublicSID,
	})
}

// Shadow exposes the shadow-user service (tests and the CLI).
func (s *Server) Shadow() *provisioning.Service { return s.shadow }

// frontChannelLogouts returns the Front-Channel Logout 1.0 URLs (with iss and sid) of the
// session's clients that registered one, and their origins for the page's frame-src.
func (s *Server) frontChannelLogouts(ctx context.Context, sid string, clients []string) (urls, origins []string) {
	for _, id := range clients {
		c, err := s.provider.Client(ctx, id)
		if err != nil || c.FrontchannelLogoutURI == "" {
			continue
		}
		u, err := url.Parse(c.FrontchannelLogoutURI)
		if err != nil {
			continue
		}
		q := u.Query()
		q.Set("iss", s.cfg.Issuer)
		q.Set("sid", s.provider.PublicSID(sid))
		u.RawQuery = q.Encode()
		urls = append(urls, u.String())
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return urls, origins
}

// allowFrames widens this response's Content-Security-Policy to frame the given origins (the
// front-channel logout page only).
func allowFrames(h http.Header, origins []string) {
	csp := h.Get("Content-Security-Policy")
	h.Set("Content-Security-Policy", strings.Replace(csp, "default-src 'none';",
		"default-src 'none'; frame-src "+strings.Join(origins, " ")+";", 1))
}
