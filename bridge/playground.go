package bridge

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/sso"
)

// PlaygroundClientID is the built-in public client behind /playground.
const PlaygroundClientID = "playground"

func (s *Server) playgroundRedirect() string { return s.cfg.Issuer + "/playground" }

func (s *Server) playgroundClient() sso.ClientConfig {
	origin := s.issuer.Scheme + "://" + s.issuer.Host
	return sso.ClientConfig{
		ID: PlaygroundClientID, Name: "Playground", Public: true, Trusted: true,
		RedirectURIs: []string{s.playgroundRedirect()}, PostLogoutRedirectURIs: []string{s.playgroundRedirect()},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken}, WebOrigins: []string{origin},
	}
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
