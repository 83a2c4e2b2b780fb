package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// Paths below Config.BasePath (matched case-insensitively).
const (
	LoginPath  = "/AsiCommon/Controls/Shared/FormsAuthentication/Login.aspx"
	LogoutPath = "/AsiCommon/Controls/Shared/FormsAuthentication/logout.aspx"
	SSOPath    = "/sso"
	TokenPath  = "/token"
	HomePath   = "/"
)

// Cookie names. "Login" is the iMIS forms-authentication cookie.
const (
	SessionCookie = "Login"
	CSRFCookie    = "__RequestVerificationToken"
)

// Defaults for zero Config and ClientApp durations.
const (
	DefaultSiteName             = "Demo Association"
	DefaultSessionLifetime      = 30 * time.Minute
	DefaultAccessTokenLifetime  = 20 * time.Minute
	DefaultRefreshTokenLifetime = 30 * time.Minute
)

// Config configures a Simulator.
type Config struct {
	// BasePath is where the simulator is mounted, e.g. "/demo-ams"; "" for the root.
	BasePath string `yaml:"base_path"`
	// SiteName is shown on the pages; default "Demo Association".
	SiteName string `yaml:"site_name"`
	// Clients are the registered client applications (iMIS: Settings > Contacts > Client
	// applications). The first one is the SSO page's default.
	Clients []ClientApp `yaml:"clients"`
	// AllowedReturnOrigins are the origins (scheme://host[:port]) that logout may redirect
	// to. The origins of the clients' Login redirect URLs are always allowed.
	AllowedReturnOrigins []string `yaml:"allowed_return_origins"`
	// SessionLifetime is how long an AMS sign-in lasts; default 30 minutes.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// AccessTokenLifetime is the token endpoint's expires_in; default 20 minutes.
	AccessTokenLifetime time.Duration `yaml:"access_token_lifetime"`
	// LoginHint is plain text shown under the login form, e.g. the demo accounts.
	LoginHint string `yaml:"login_hint"`
	// SecureCookies sets the Secure attribute on the simulator's cookies (serve over https).
	SecureCookies bool `yaml:"secure_cookies"`

	// Authenticator checks the login form's and the password grant's credentials. Required.
	Authenticator legacy.Authenticator `yaml:"-"`
	// Now is the clock (default time.Now), for tests.
	Now func() time.Time `yaml:"-"`
	// Logger receives sign-in, sign-out and token events (never secrets); default discard.
	Logger *slog.Logger `yaml:"-"`
}

// ClientApp is a client application registered in the AMS.
type ClientApp struct {
	// ClientID is the Client ID (free text in iMIS).
	ClientID string `yaml:"client_id"`
	// ClientSecret is the Client secret.
	ClientSecret string `yaml:"client_secret"`
	// RefreshTokenLifetime is the "Refresh token lifetime (minutes)"; default 30 minutes.
	RefreshTokenLifetime time.Duration `yaml:"refresh_token_lifetime"`
	// LoginRedirectURL is where the SSO iPart POSTs refresh_token, e.g.
	// http://localhost:8080/handoff/imis.
	LoginRedirectURL string `yaml:"login_redirect_url"`
	// Name is shown on the pages; default the ClientID.
	Name string `yaml:"name"`
}

var basePathRE = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)*$`)

// Validate reports every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("sim.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Authenticator == nil {
		bad("authenticator", "required")
	}
	if !basePathRE.MatchString(c.BasePath) {
		bad("base_path", `must be "" or a path like "/demo-ams" (no trailing slash; letters, digits, ".", "_", "~", "-")`)
	}
	if len(c.Clients) == 0 {
		bad("clients", "at least one client application is required")
	}
	seen := map[string]bool{}
	for i, cl := range c.Clients {
		f := fmt.Sprintf("clients[%d]", i)
		switch {
		case strings.TrimSpace(cl.ClientID) == "":
			bad(f+".client_id", "required")
		case cl.ClientID != strings.TrimSpace(cl.ClientID) || strings.ContainsFunc(cl.ClientID, isControl):
			bad(f+".client_id", "must not have surrounding spaces or control characters")
		case seen[cl.ClientID]:
			bad(f+".client_id", "duplicate %q", cl.ClientID)
		}
		seen[cl.ClientID] = true
		if cl.ClientSecret == "" {
			bad(f+".client_secret", "required")
		}
		if cl.RefreshTokenLifetime < 0 {
			bad(f+".refresh_token_lifetime", "must not be negative")
		}
		if _, err := origin(cl.LoginRedirectURL); err != nil {
			bad(f+".login_redirect_url", "%v", err)
		}
	}
	for i, o := range c.AllowedReturnOrigins {
		u, err := url.Parse(o)
		if _, oerr := origin(o); oerr != nil || err != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			bad(fmt.Sprintf("allowed_return_origins[%d]", i), "must be an origin like https://app.example.org")
		}
	}
	if c.SessionLifetime < 0 {
		bad("session_lifetime", "must not be negative")
	}
	if c.AccessTokenLifetime < 0 {
		bad("access_token_lifetime", "must not be negative")
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.SiteName == "" {
		c.SiteName = DefaultSiteName
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = DefaultSessionLifetime
	}
	if c.AccessTokenLifetime == 0 {
		c.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Clients = append([]ClientApp(nil), c.Clients...)
	for i := range c.Clients {
		if c.Clients[i].RefreshTokenLifetime == 0 {
			c.Clients[i].RefreshTokenLifetime = DefaultRefreshTokenLifetime
		}
		if c.Clients[i].Name == "" {
			c.Clients[i].Name = c.Clients[i].ClientID
		}
	}
	return c
}

// origin returns the normalised origin of an absolute http(s) URL.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", errors.New("must be an absolute http(s) URL")
	}
	if u.User != nil {
		return "", errors.New("must not contain credentials")
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	o := u.Scheme + "://" + host
	if strings.Contains(host, ":") {
		o = u.Scheme + "://[" + host + "]"
	}
	if port != "" {
		o += ":" + port
	}
	return o, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
