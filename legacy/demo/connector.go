package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/imis/sim"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Config is the `legacy:` section of type demo (the default without legacy.dsn): the embedded
// demo database, and a simulated iMIS website under /demo-ams unless a real one is configured
// (AMS, from the bridge's top-level `ams:` section). Of the database settings only
// membership_grace and standing_rule are used; the others are accepted (they were before
// legacy.type existed) and ignored.
type Config struct {
	sqldir.Config `yaml:",inline"`
	AMS           imis.WebsiteConfig `yaml:"-"`
}

// SetWebsite takes the iMIS website of the bridge's top-level `ams:` section (a real one
// replaces the simulated website).
func (c *Config) SetWebsite(w imis.WebsiteConfig) { c.AMS = w }

// CheckToken tests the configured website's token endpoint (legacy.TokenChecker); the
// simulated website has none to check.
func (c *Config) CheckToken(ctx context.Context, w io.Writer) error { return c.AMS.CheckToken(ctx, w) }

var _ legacy.TokenChecker = (*Config)(nil)

// Validate checks the website, if one is configured.
func (c Config) Validate() error { return c.AMS.Validate() }

// MemberRules are the demo's extra columns and grace period (30 days unless
// legacy.membership_grace is set) and legacy.standing_rule.
func (c Config) MemberRules() legacy.MemberRules {
	d := SQLConfig()
	r := legacy.MemberRules{ExtraColumns: d.ExtraColumns, MembershipGrace: d.MembershipGrace, StandingRule: c.StandingRule}
	if c.MembershipGrace != 0 {
		r.MembershipGrace = c.MembershipGrace
	}
	return r
}

// Open creates and seeds the in-memory demo database.
func (c Config) Open(ctx context.Context, o legacy.OpenOptions) (legacy.Connector, error) {
	opts := []sqldir.Option{}
	if o.Logger != nil {
		opts = append(opts, sqldir.WithLogger(o.Logger))
		o.Logger.Warn("legacy.dsn is not set: members come from the embedded demo database")
	}
	if o.Standing != nil {
		opts = append(opts, sqldir.WithStandingRule(o.Standing))
	}
	if o.Queries != nil {
		opts = append(opts, sqldir.WithQueryObserver(o.Queries))
	}
	d, _, err := OpenDirectory(ctx, "", opts...)
	if err != nil {
		return nil, fmt.Errorf("demo directory: %w", err)
	}
	sc := SQLConfig()
	conn := sqldir.NewConnector(d, cache.Options{TTL: sc.CacheTTL, Size: sc.CacheSize})
	if c.AMS.Enabled() {
		w, err := imis.NewSite(c.AMS, token.WithLogger(o.Logger))
		if err != nil {
			d.Close()
			return nil, err
		}
		return imis.WithWebsite(conn, w), nil
	}
	sc2, err := Simulate(conn, o, c.AMS.Timeout)
	if err != nil {
		d.Close()
		return nil, err
	}
	return sc2, nil
}

// Paths of the simulated website.
const (
	// SimulatorPath is where the simulated iMIS website is mounted on the bridge.
	SimulatorPath = "/demo-ams"
	// SimulatorClientID is the bridge's client application in the simulated website.
	SimulatorClientID = "ssobridge"
)

// Simulated is a connector with a simulated iMIS website: the website's pages (legacy.PageServer)
// and its hand-off and sign-out, served in process.
type Simulated struct {
	legacy.Connector
	*imis.Site
	sim *sim.Simulator
}

// Simulate adds a simulated iMIS website to conn: its members sign in to the website with the
// connector's directory, and its SSO page hands off to o.HandoffURL. timeout bounds one
// token-endpoint exchange (0: 10s).
func Simulate(conn legacy.Connector, o legacy.OpenOptions, timeout time.Duration) (*Simulated, error) {
	names := []string{}
	for _, l := range Logins() {
		if len(names) < 3 {
			names = append(names, l.Login+" / "+l.Password)
		}
	}
	secret := rand.Text()
	issuer, err := url.Parse(o.Issuer)
	if err != nil {
		return nil, fmt.Errorf("demo: issuer: %w", err)
	}
	s := sim.New(sim.Config{
		BasePath: SimulatorPath, SiteName: o.SiteName + " (demo AMS website)",
		Clients: []sim.ClientApp{{ClientID: SimulatorClientID, ClientSecret: secret, Name: "ssobridge",
			LoginRedirectURL: o.HandoffURL}},
		LoginHint:     "Demo members: " + strings.Join(names, ", ") + " (see the README for all).",
		SecureCookies: issuer.Scheme == "https",
		Authenticator: conn.Directory(), Logger: o.Logger,
	})
	if timeout <= 0 {
		timeout = token.DefaultTimeout
	}
	base := o.Issuer + SimulatorPath
	w, err := imis.NewSite(imis.WebsiteConfig{
		Config: token.Config{BaseURL: base, ClientID: SimulatorClientID, ClientSecret: secret, Timeout: timeout},
		Name:   "the demo AMS website", SSOURL: s.SSOURL(SimulatorClientID), LogoutURL: base + sim.LogoutPath,
	}, token.WithLogger(o.Logger), token.WithHTTPClient(&http.Client{Transport: inProcess{s}, Timeout: timeout}))
	if err != nil {
		return nil, err
	}
	return &Simulated{Connector: conn, Site: w, sim: s}, nil
}

// Pages returns the simulated website to mount (legacy.PageServer).
func (s *Simulated) Pages() (string, http.Handler) { return SimulatorPath, s.sim }

// Simulator is the simulated website (tests issue tokens and inject faults through it).
func (s *Simulated) Simulator() *sim.Simulator { return s.sim }

// Diagnose forwards to the connector (legacy.Diagnoser).
func (s *Simulated) Diagnose(ctx context.Context, login string, w io.Writer) error {
	if d, ok := s.Connector.(legacy.Diagnoser); ok {
		return d.Diagnose(ctx, login, w)
	}
	return errors.New("demo: this directory cannot diagnose logins")
}

// inProcess is an http.RoundTripper that serves requests with a handler (the simulator).
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.h.ServeHTTP(rec, r)
	}()
	select {
	case <-done:
		return rec.Result(), nil
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

var (
	_ legacy.HandoffExchanger = (*Simulated)(nil)
	_ legacy.LogoutURLer      = (*Simulated)(nil)
	_ legacy.PageServer       = (*Simulated)(nil)
)
