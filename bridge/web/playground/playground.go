package playground

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/internal/weborigin"
	"github.com/ssobridge/ssobridge/sso"
)

// ClientID is the built-in public client behind /playground.
const ClientID = "playground"

// Path is where the playground lives (and its client's redirect URI).
const Path = "/playground"

// Client is the playground's built-in public client for issuer.
func Client(issuer string) sso.ClientConfig {
	u, _ := url.Parse(issuer)
	redirect := issuer + Path
	return sso.ClientConfig{
		ID: ClientID, Name: "Playground", Public: true, Trusted: true,
		RedirectURIs: []string{redirect}, PostLogoutRedirectURIs: []string{redirect},
		GrantTypes: []string{sso.GrantAuthorizationCode, sso.GrantRefreshToken}, WebOrigins: []string{weborigin.Of(u)},
	}
}

// Handler serves the playground page.
type Handler struct {
	Pages  *web.Renderer
	Issuer string
	// Scopes are what the playground asks for.
	Scopes []string
}

// Mount adds GET /playground, and HEAD (RFC 9110 9.3.2: the page is the same for everyone).
func (h *Handler) Mount(e *echo.Echo) {
	e.Match([]string{http.MethodGet, http.MethodHead}, Path, h.page)
}

type pageData struct {
	web.Page
	ClientID, RedirectURI, Scope string
}

func (h *Handler) page(c echo.Context) error {
	return h.Pages.Render(c, http.StatusOK, "playground", pageData{
		Page: h.Pages.Base("Playground"), ClientID: ClientID, RedirectURI: h.Issuer + Path,
		Scope: strings.Join(h.Scopes, " "),
	})
}
