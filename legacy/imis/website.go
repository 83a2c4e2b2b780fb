package imis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/ssobridge/ssobridge/internal/weborigin"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
)

// WebsiteConfig is the iMIS website: its token endpoint (to redeem the SSO iPart's refresh
// token), its SSO page and its sign-out URL. The bridge reads it from the top-level `ams:`
// section of its configuration.
type WebsiteConfig struct {
	token.Config `yaml:",inline"`
	// Name is the AMS website's name on the login page ("Continue with your member account on ...").
	Name string `yaml:"name"`
	// SSOURL is the AMS page holding the SSO iPart (where "Continue with..." sends members).
	SSOURL string `yaml:"sso_url"`
	// LogoutURL is the AMS sign-out URL; the connector appends returnurl
	// (iMIS: {base}/AsiCommon/Controls/Shared/FormsAuthentication/logout.aspx).
	LogoutURL string `yaml:"logout_url"`
}

// Enabled reports whether an AMS website is configured.
func (w WebsiteConfig) Enabled() bool { return w.BaseURL != "" }

// Validate reports every problem of an enabled website configuration, each naming its field
// (ams.<field>); a website that is not configured is valid.
func (w WebsiteConfig) Validate() error {
	if !w.Enabled() {
		return nil
	}
	errs := []error{w.Config.Validate()}
	for _, f := range []struct{ name, v string }{{"ams.sso_url", w.SSOURL}, {"ams.logout_url", w.LogoutURL}} {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
			errs = append(errs, fmt.Errorf("%s: %q must be an absolute http(s) URL", f.name, f.v))
		}
	}
	if w.SSOURL == "" {
		errs = append(errs, errors.New("ams.sso_url: required when ams.base_url is set (the page with the SSO iPart)"))
	}
	return errors.Join(errs...)
}

// CheckToken tests the website's token endpoint with the configured client, for the CLI's
// `legacy check --token` (see token.Check).
func (w WebsiteConfig) CheckToken(ctx context.Context, out io.Writer) error {
	if !w.Enabled() {
		return errors.New("ams.base_url is not set: there is no AMS token endpoint to check (the demo uses the built-in simulator)")
	}
	fmt.Fprintf(out, "\nChecking the AMS token endpoint with client %q.\n", w.ClientID)
	return token.Check(ctx, w.Config, out)
}

// Site is a connected iMIS website: it redeems hand-off tokens (legacy.HandoffExchanger)
// and names its sign-out URL (legacy.LogoutURLer).
type Site struct {
	cfg    WebsiteConfig
	client *token.Client
}

// NewSite connects to the website's token endpoint (opts: token.WithLogger,
// token.WithHTTPClient).
func NewSite(cfg WebsiteConfig, opts ...token.Option) (*Site, error) {
	c, err := token.New(cfg.Config, opts...)
	if err != nil {
		return nil, err
	}
	return &Site{cfg: cfg, client: c}, nil
}

// ExchangeHandoff redeems the SSO iPart's refresh token at the token endpoint.
func (w *Site) ExchangeHandoff(ctx context.Context, refreshToken string) (string, error) {
	tok, err := w.client.RefreshGrant(ctx, refreshToken)
	switch {
	case errors.Is(err, token.ErrInvalidGrant):
		return "", fmt.Errorf("%w: %w", legacy.ErrHandoffRefused, err)
	case errors.Is(err, token.ErrInvalidClient):
		return "", fmt.Errorf("%w: %w", legacy.ErrHandoffClient, err)
	case err != nil:
		return "", err
	}
	return tok.UserName, nil
}

// Website describes the website for the bridge's pages and origin checks.
func (w *Site) Website() legacy.Website {
	site := legacy.Website{Name: w.cfg.Name, SSOURL: w.cfg.SSOURL}
	for _, raw := range []string{w.cfg.BaseURL, w.cfg.SSOURL} {
		if o, ok := weborigin.Parse(raw); ok {
			site.Origins = append(site.Origins, o)
		}
	}
	return site
}

// LogoutURL is the iMIS sign-out URL with returnurl set (iMIS does not validate returnurl: the
// bridge passes only its own URL, carrying the sealed target).
func (w *Site) LogoutURL(returnURL string) (string, bool) {
	if w.cfg.LogoutURL == "" {
		return "", false
	}
	u, err := url.Parse(w.cfg.LogoutURL)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("returnurl", returnURL)
	u.RawQuery = q.Encode()
	return u.String(), true
}
