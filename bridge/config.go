package bridge

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
	"github.com/ssobridge/ssobridge/sso"
)

// Config is the whole configuration file. Every field has an embedded default, so an empty
// file (or none) runs the demo.
type Config struct {
	Listen  string `yaml:"listen"`
	Issuer  string `yaml:"issuer"`
	DataDir string `yaml:"data_dir"`

	Organisation Organisation       `yaml:"organisation"`
	Keys         KeysConfig         `yaml:"keys"`
	Tokens       TokensConfig       `yaml:"tokens"`
	Session      SessionConfig      `yaml:"session"`
	Throttle     ThrottleConfig     `yaml:"throttle"`
	Clients      []sso.ClientConfig `yaml:"clients"`
	// Legacy is the AMS database; with no dsn the embedded demo database is used.
	Legacy sqldir.Config `yaml:"legacy"`
	// Policy holds custom scopes (scopes:) and per-client claim policies and access rules
	// (policies:), compiled and type-checked at start-up.
	Policy policy.Config `yaml:",inline"`
	// AMS is the AMS website (token endpoint, SSO page, logout URL) for the hand-off and single
	// sign-off; on embedded defaults a simulator is mounted under /demo-ams.
	AMS AMSConfig `yaml:"ams"`
	// Playground enables /playground and its built-in public client (on by default).
	Playground *bool `yaml:"playground"`
	// TrustedProxies are the reverse proxies (CIDR ranges) whose X-Forwarded-For is believed for
	// the client IP (throttling, audit). Empty: the TCP peer address is the client IP, and
	// X-Forwarded-For is ignored (it would let anyone choose their IP).
	TrustedProxies []string  `yaml:"trusted_proxies"`
	Log            LogConfig `yaml:"log"`
	// Audit sets the audit log's retention.
	Audit AuditConfig `yaml:"audit"`
	// Admin is the admin HTTP API on its own listener; off without a token (admin.go).
	Admin AdminConfig `yaml:"admin"`
	// Shadow tunes AMS change polling and outbox delivery; Provisioning maps client ids to
	// their shadow-user targets (SCIM or webhook). See package bridge/provisioning.
	Shadow       provisioning.Config            `yaml:"shadow"`
	Provisioning map[string]provisioning.Target `yaml:"provisioning"`
}

// Organisation brands the pages.
type Organisation struct {
	Name         string `yaml:"name"`
	LogoURL      string `yaml:"logo_url"`
	PrimaryColor string `yaml:"primary_color"`
	SupportURL   string `yaml:"support_url"`
}

// KeysConfig configures signing keys.
type KeysConfig struct {
	// EncryptionKey is base64 of 32 bytes; it encrypts private signing keys at rest. When empty
	// it is generated into the data dir with a warning.
	EncryptionKey string        `yaml:"encryption_key"`
	Algorithms    []string      `yaml:"algorithms"`
	RotateEvery   time.Duration `yaml:"rotate_every"`
}

// TokensConfig sets lifetimes.
type TokensConfig struct {
	AccessToken   time.Duration `yaml:"access_token_lifetime"`
	IDToken       time.Duration `yaml:"id_token_lifetime"`
	RefreshToken  time.Duration `yaml:"refresh_token_lifetime"`
	RefreshPublic time.Duration `yaml:"refresh_token_lifetime_public"`
	Code          time.Duration `yaml:"code_lifetime"`
	// RefreshReuseGrace (opt-in, at most 60s) lets a rotated refresh token be presented again
	// for that long and get the same successor (a client that lost the response). Default 0:
	// strict rotation, any reuse revokes the family. The trade-off: inside the window a thief
	// who replays the stolen token gets the same live successor, and goes undetected.
	RefreshReuseGrace time.Duration `yaml:"refresh_reuse_grace"`
	// Device codes (RFC 8628): how long a device code lives and the minimum polling interval.
	DeviceCode     time.Duration `yaml:"device_code_lifetime"`
	DeviceInterval time.Duration `yaml:"device_poll_interval"`
}

// SessionConfig sets the SSO session lifetime.
type SessionConfig struct {
	Lifetime time.Duration `yaml:"lifetime"`
}

// ThrottleConfig sets login throttling.
type ThrottleConfig struct {
	// PerLogin failures within Window before a login is slowed, then refused.
	PerLogin int `yaml:"per_login"`
	// PerIP failures within Window before an address is slowed, then refused.
	PerIP  int           `yaml:"per_ip"`
	Window time.Duration `yaml:"window"`
	// Lockout is how long refusal lasts once a limit is reached.
	Lockout time.Duration `yaml:"lockout"`
	// AnonymousWrites is how many writing requests one client IP may make per minute to each
	// endpoint that writes for an anonymous caller (authorize, the hand-off POST, device
	// authorization, sign-in and device-code forms); beyond it 429 with Retry-After.
	AnonymousWrites int `yaml:"anonymous_writes"`
}

// AuditConfig sets the audit log's retention.
type AuditConfig struct {
	// Retention is how long audit events are kept (default 90 days); 0 keeps them forever.
	Retention time.Duration `yaml:"retention"`
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// Defaults returns the embedded defaults.
func Defaults() Config {
	return Config{
		Listen:       "127.0.0.1:8080",
		Issuer:       "http://localhost:8080",
		DataDir:      "./ssobridge-data",
		Organisation: Organisation{Name: "Demo Association", PrimaryColor: "#0b5cab"},
		Keys:         KeysConfig{Algorithms: []string{"RS256", "ES256", "EdDSA"}, RotateEvery: 30 * 24 * time.Hour},
		Tokens: TokensConfig{AccessToken: 15 * time.Minute, IDToken: 15 * time.Minute, RefreshToken: 30 * 24 * time.Hour,
			RefreshPublic: 24 * time.Hour, Code: 60 * time.Second, DeviceCode: 10 * time.Minute, DeviceInterval: 5 * time.Second},
		Session: SessionConfig{Lifetime: 12 * time.Hour},
		Throttle: ThrottleConfig{PerLogin: 5, PerIP: 50, Window: 15 * time.Minute, Lockout: 15 * time.Minute,
			AnonymousWrites: 120},
		Log:    LogConfig{Level: "info", Format: "text"},
		Audit:  AuditConfig{Retention: 90 * 24 * time.Hour},
		Admin:  AdminConfig{Listen: "127.0.0.1:8081"},
		Shadow: provisioning.Defaults(),
	}
}

// PlaygroundEnabled reports whether the playground is on.
func (c *Config) PlaygroundEnabled() bool { return c.Playground == nil || *c.Playground }

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// LoadConfig reads a YAML file over the defaults, expanding ${ENV_VAR} references (an unset
// variable is an error naming it). An empty path gives the defaults.
func LoadConfig(path string) (Config, error) {
	cfg := Defaults()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	var missing []string
	expanded := envRef.ReplaceAllStringFunc(string(raw), func(m string) string {
		name := envRef.FindStringSubmatch(m)[1]
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return v
	})
	if len(missing) > 0 {
		return cfg, fmt.Errorf("config %s: environment variable(s) not set: %s", path, strings.Join(missing, ", "))
	}
	dec := yaml.NewDecoder(strings.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Validate checks the configuration; every error names the offending field.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port: %v", c.Listen, err)
	}
	u, err := url.Parse(c.Issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("issuer: %q must be an absolute URL without query or fragment", c.Issuer)
	}
	if u.Scheme != "https" {
		if _, loop := loopbackHost(u.Hostname()); u.Scheme != "http" || !loop {
			return fmt.Errorf("issuer: %q must use https (http is allowed only for localhost)", c.Issuer)
		}
	}
	if strings.HasSuffix(c.Issuer, "/") {
		return fmt.Errorf("issuer: %q must not end with a slash", c.Issuer)
	}
	if c.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	if c.Keys.EncryptionKey != "" {
		k, err := base64.StdEncoding.DecodeString(c.Keys.EncryptionKey)
		if err != nil || len(k) != 32 {
			return errors.New("keys.encryption_key: must be base64 of exactly 32 bytes (openssl rand -base64 32)")
		}
	}
	for _, a := range c.Keys.Algorithms {
		if a != "RS256" && a != "ES256" && a != "EdDSA" {
			return fmt.Errorf("keys.algorithms: %q is not RS256, ES256 or EdDSA", a)
		}
	}
	if c.Keys.RotateEvery < time.Hour {
		return errors.New("keys.rotate_every: must be at least 1h")
	}
	for name, d := range map[string]time.Duration{
		"tokens.access_token_lifetime": c.Tokens.AccessToken, "tokens.id_token_lifetime": c.Tokens.IDToken,
		"tokens.refresh_token_lifetime": c.Tokens.RefreshToken, "tokens.refresh_token_lifetime_public": c.Tokens.RefreshPublic,
		"tokens.code_lifetime": c.Tokens.Code, "session.lifetime": c.Session.Lifetime, "throttle.window": c.Throttle.Window,
		"throttle.lockout": c.Throttle.Lockout,
	} {
		if d <= 0 {
			return fmt.Errorf("%s: must be a positive duration such as 15m", name)
		}
	}
	if c.Audit.Retention < 0 || (c.Audit.Retention > 0 && c.Audit.Retention < 24*time.Hour) {
		return errors.New("audit.retention: must be 0 (keep forever) or at least 24h")
	}
	if c.Tokens.RefreshReuseGrace < 0 || c.Tokens.RefreshReuseGrace > time.Minute {
		return errors.New("tokens.refresh_reuse_grace: must be between 0 (strict rotation, the default) and 60s")
	}
	if c.Tokens.Code > 10*time.Minute {
		return errors.New("tokens.code_lifetime: must be at most 10m (RFC 6749 4.1.2)")
	}
	if c.Tokens.DeviceCode <= 0 || c.Tokens.DeviceCode > time.Hour || c.Tokens.DeviceInterval < time.Second || c.Tokens.DeviceInterval > time.Minute {
		return errors.New("tokens.device_code_lifetime and tokens.device_poll_interval: must be at most 1h and between 1s and 1m")
	}
	if err := c.Admin.validate(c.Listen); err != nil {
		return err
	}
	if c.Throttle.PerLogin < 1 || c.Throttle.PerIP < 1 {
		return errors.New("throttle.per_login and throttle.per_ip: must be at least 1")
	}
	if c.Throttle.AnonymousWrites < 1 {
		return errors.New("throttle.anonymous_writes: must be at least 1 (requests per client IP and minute)")
	}
	if c.Organisation.PrimaryColor != "" && !regexp.MustCompile(`^#[0-9a-fA-F]{6}$`).MatchString(c.Organisation.PrimaryColor) {
		return fmt.Errorf("organisation.primary_color: %q must look like #0b5cab", c.Organisation.PrimaryColor)
	}
	if c.Organisation.LogoURL != "" {
		if lu, err := url.Parse(c.Organisation.LogoURL); err != nil || (lu.IsAbs() && lu.Scheme != "https") || (!lu.IsAbs() && !strings.HasPrefix(lu.Path, "/")) {
			return fmt.Errorf("organisation.logo_url: %q must be an https URL or a path on this server", c.Organisation.LogoURL)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q must be text or json", c.Log.Format)
	}
	for _, p := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil {
			return fmt.Errorf("trusted_proxies: %q is not a CIDR range such as 10.0.0.0/8", p)
		}
	}
	if c.Legacy.DSN != "" {
		if err := c.Legacy.Validate(); err != nil {
			return err
		}
	}
	if err := c.AMS.validate(); err != nil {
		return err
	}
	if _, err := policy.Compile(c.PolicyConfig()); err != nil {
		return err
	}
	if err := c.Shadow.Validate(); err != nil {
		return err
	}
	if err := provisioning.ValidateTargets(c.Provisioning); err != nil {
		return err
	}
	seen := map[string]bool{}
	var shortSecret error
	for i := range c.Clients {
		cl := c.Clients[i]
		secretErr := cl.ValidateSecret()
		cl.Normalize()
		if err := cl.Validate(); err != nil {
			return err
		}
		if seen[cl.ID] {
			return fmt.Errorf("clients[%s].id: duplicate client id", cl.ID)
		}
		seen[cl.ID] = true
		if secretErr != nil && shortSecret == nil {
			shortSecret = secretErr
		}
	}
	// Static secrets under 32 characters are guessable; reported after the clients' other
	// mistakes so each names its own field.
	return shortSecret
}

// PolicyConfig is the claim policy configuration with the directory's extra columns and
// membership rule (legacy.membership_grace, legacy.standing_rule) filled in.
func (c *Config) PolicyConfig() policy.Config {
	p := c.Policy
	if c.Legacy.DSN == "" {
		// The demo's grace period (30 days) unless the configuration sets one.
		d := demo.Config()
		p.ExtraColumns, p.MembershipGrace, p.StandingRule = d.ExtraColumns, d.MembershipGrace, c.Legacy.StandingRule
		if c.Legacy.MembershipGrace != 0 {
			p.MembershipGrace = c.Legacy.MembershipGrace
		}
	} else {
		p.ExtraColumns, p.MembershipGrace, p.StandingRule = c.Legacy.ExtraColumns, c.Legacy.MembershipGrace, c.Legacy.StandingRule
	}
	return p
}

func loopbackHost(h string) (string, bool) {
	if h == "localhost" {
		return h, true
	}
	ip := net.ParseIP(h)
	return h, ip != nil && ip.IsLoopback()
}
