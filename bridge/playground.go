package bridge

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// PlaygroundClientID is the built-in public client behind /playground.
const PlaygroundClientID = "playground"

func (s *Server) playgroundRedirect() string { return s.cfg.Issuer + "/playground" }

// StaticClients are the clients from the config file plus the built-in ones (the playground).
func StaticClients(cfg Config) []sso.ClientConfig {
	out := append([]sso.ClientConfig(nil), cfg.Clients...)
	if cfg.PlaygroundEnabled() {
		u, _ := url.Parse(cfg.Issuer)
		redirect := cfg.Issuer + "/playground"
		out = append(out, sso.ClientConfig{
			ID: PlaygroundClientID, Name: "Playground", Public: true, Trusted: true,
			RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{redirect},
			GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken}, WebOrigins: []string{u.Scheme + "://" + u.Host},
		})
	}
	return out
}

type playgroundData struct {
	pageData
	ClientID, RedirectURI, Scope string
}

func (s *Server) playground(c echo.Context) error {
	return s.render(c, http.StatusOK, "playground", playgroundData{
		pageData: s.base("Playground"), ClientID: PlaygroundClientID, RedirectURI: s.playgroundRedirect(),
		Scope: strings.Join([]string{"openid", "profile", "email", "offline_access", ScopeMembership, ScopeRoles}, " "),
	})
}
