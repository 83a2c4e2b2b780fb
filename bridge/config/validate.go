package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store/backends"
	"github.com/ssobridge/ssobridge/internal/asciiname"
	"github.com/ssobridge/ssobridge/sso"
)

// Problems are every error found in a configuration, each naming its field. Its Error lists
// them one per line.
type Problems []error

func (p Problems) Error() string {
	lines := make([]string, len(p))
	for i, e := range p {
		lines[i] = e.Error()
	}
	if len(p) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%d problems in the configuration:\n  %s", len(p), strings.Join(lines, "\n  "))
}

// Unwrap lets errors.Is and errors.As look at each problem.
func (p Problems) Unwrap() []error { return p }

// problems collects errors while checking.
type problems struct{ errs Problems }

func (p *problems) addf(field, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// add records err as it is (validators of other packages already name their fields); a
// Problems value is flattened.
func (p *problems) add(err error) {
	if err == nil {
		return
	}
	var many Problems
	if errors.As(err, &many) {
		p.errs = append(p.errs, many...)
		return
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		p.errs = append(p.errs, j.Unwrap()...)
		return
	}
	p.errs = append(p.errs, err)
}

func (p *problems) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

// Checked is a configuration that passed Check, with what checking had to build anyway: the
// runtime is built from it, so nothing is validated or compiled twice per start.
type Checked struct {
	Config
	// IssuerURL is Issuer parsed.
	IssuerURL *url.URL
	// EncryptionKey is keys.encryption_key decoded (32 bytes), or nil when it is not set.
	EncryptionKey []byte
	// Policy is the claim policy and access rules, compiled.
	Policy *policy.Engine
	// Clients are the config file's clients as the provider uses them (secrets hashed,
	// defaults filled), in the file's order.
	Clients []sso.ClientConfig
}

// Validate checks the configuration and reports every problem at once (a Problems error);
// each names the offending field.
func (c *Config) Validate() error {
	_, err := c.check(nil)
	return err
}

// Check validates the configuration once and returns what the runtime is built from. log is
// given to the compiled policy (nil: slog.Default()).
func (c *Config) Check(log *slog.Logger) (*Checked, error) {
	if log == nil {
		log = slog.Default()
	}
	return c.check(log)
}

// isColour reports whether s is #rrggbb (hex digits of either case).
func isColour(s string) bool { return len(s) == 7 && asciiname.Valid(s, 7, "#", asciiname.Hex) }

func (c *Config) check(log *slog.Logger) (*Checked, error) {
	var p problems
	out := &Checked{Config: *c}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		p.addf("listen", "%q is not host:port: %v", c.Listen, err)
	}
	out.IssuerURL = checkIssuer(&p, c.Issuer)
	if c.DataDir == "" {
		p.addf("data_dir", "must not be empty")
	}
	if c.Keys.EncryptionKey != "" {
		k, err := DecodeEncryptionKey(c.Keys.EncryptionKey)
		if err != nil {
			p.addf("keys.encryption_key", "must be base64 of exactly 32 bytes (openssl rand -base64 32)")
		} else {
			out.EncryptionKey = k
		}
	}
	for _, a := range c.Keys.Algorithms {
		if !slices.Contains(signingAlgs, a) {
			p.addf("keys.algorithms", "%q is not RS256, ES256 or EdDSA", a)
		}
	}
	switch c.Keys.RSASigner {
	case "", "auto", "openssl", "go":
	default:
		p.addf("keys.rsa_signer", "%q is not auto, openssl or go", c.Keys.RSASigner)
	}
	if c.Keys.RotateEvery < time.Hour {
		p.addf("keys.rotate_every", "must be at least 1h")
	}
	c.checkLifetimes(&p)
	c.Admin.check(&p, c.Listen)
	c.Health.check(&p)
	c.Outbound.check(&p)
	c.Admin.checkConsole(&p)
	if c.Throttle.PerLogin < 1 {
		p.addf("throttle.per_login", "must be at least 1")
	}
	if c.Throttle.PerIP < 1 {
		p.addf("throttle.per_ip", "must be at least 1")
	}
	if c.Throttle.AnonymousWrites < 1 {
		p.addf("throttle.anonymous_writes", "must be at least 1 (requests per client IP and minute)")
	}
	if c.Throttle.DevicePerNetwork < 1 {
		p.addf("throttle.device_per_network", "must be at least 1 (wrong device codes per IPv6 /48 within throttle.window)")
	}
	if c.Organisation.PrimaryColor != "" && !isColour(c.Organisation.PrimaryColor) {
		p.addf("organisation.primary_color", "%q must look like #0b5cab", c.Organisation.PrimaryColor)
	}
	if c.Organisation.LogoURL != "" {
		if lu, err := url.Parse(c.Organisation.LogoURL); err != nil || (lu.IsAbs() && lu.Scheme != "https") || (!lu.IsAbs() && !strings.HasPrefix(lu.Path, "/")) {
			p.addf("organisation.logo_url", "%q must be an https URL or a path on this server", c.Organisation.LogoURL)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.addf("log.level", "%q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Memory.BinaryPages {
	case "evict", "unmap", "keep":
	default:
		p.addf("memory.binary_pages", "%q must be evict, unmap or keep", c.Memory.BinaryPages)
	}
	if r := c.Memory.ReleaseEvery; r != 0 && (r < MinReleaseEvery || r > MaxReleaseEvery) {
		p.addf("memory.release_every", "%s must be 0s (off) or between %s and %s", r, MinReleaseEvery, MaxReleaseEvery)
	}
	if g := c.Memory.GCPercent; g < MinGCPercent || g > MaxGCPercent {
		p.addf("memory.gc_percent", "%d must be between %d and %d", g, MinGCPercent, MaxGCPercent)
	}
	if f := c.Memory.HeapFloorMB; f < 0 || f > MaxHeapFloorMB {
		p.addf("memory.heap_floor_mb", "%d must be between 0 and %d", f, MaxHeapFloorMB)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.addf("log.format", "%q must be text or json", c.Log.Format)
	}
	for _, cidr := range c.TrustedProxies {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			p.addf("trusted_proxies", "%q is not a CIDR range such as 10.0.0.0/8", cidr)
		}
	}
	for _, err := range backends.Check(c.StoreConfig()) {
		p.add(err)
	}
	if dir, err := c.Directory(); err != nil {
		p.add(err)
	} else {
		p.add(dir.Validate())
	}
	opts := []policy.Option{}
	if log != nil {
		opts = append(opts, policy.WithLogger(log))
	}
	eng, err := policy.Compile(c.PolicyConfig(), opts...)
	p.add(err)
	out.Policy = eng
	p.add(c.Shadow.Validate())
	p.add(provisioning.ValidateTargets(c.Provisioning))
	p.add(c.SAML.Validate())
	p.add(c.SAML.CheckEmailNameIDs(c.Policy.EmailVerified))
	out.Clients = c.checkClients(&p)
	if log != nil {
		c.warnSecretsBasicMangles(log)
		c.Admin.warnPlainListener(log)
	}
	c.checkUpstream(&p)
	c.MFA.check(&p)
	if err := p.err(); err != nil {
		return nil, err
	}
	return out, nil
}

func checkIssuer(p *problems, issuer string) *url.URL {
	u, err := url.Parse(issuer)
	if err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		p.addf("issuer", "%q must be an absolute URL without query or fragment", issuer)
		return nil
	}
	if u.Scheme != "https" {
		if u.Scheme != "http" || !loopbackHost(u.Hostname()) {
			p.addf("issuer", "%q must use https (http is allowed only for a loopback host: localhost, 127.0.0.1, [::1])", issuer)
			return nil
		}
	}
	if strings.HasSuffix(issuer, "/") {
		p.addf("issuer", "%q must not end with a slash", issuer)
		return nil
	}
	return u
}

func (c *Config) checkLifetimes(p *problems) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"tokens.access_token_lifetime", c.Tokens.AccessToken}, {"tokens.id_token_lifetime", c.Tokens.IDToken},
		{"tokens.refresh_token_lifetime", c.Tokens.RefreshToken}, {"tokens.refresh_token_lifetime_public", c.Tokens.RefreshPublic},
		{"tokens.code_lifetime", c.Tokens.Code}, {"session.lifetime", c.Session.Lifetime},
		{"throttle.window", c.Throttle.Window}, {"throttle.lockout", c.Throttle.Lockout},
	} {
		if d.v <= 0 {
			p.addf(d.name, "must be a positive duration such as 15m")
		}
	}
	if c.Audit.Retention < 0 || (c.Audit.Retention > 0 && c.Audit.Retention < 24*time.Hour) {
		p.addf("audit.retention", "must be 0 (keep forever) or at least 24h")
	}
	if c.Tokens.RefreshReuseGrace < 0 || c.Tokens.RefreshReuseGrace > time.Minute {
		p.addf("tokens.refresh_reuse_grace", "must be between 0 (strict rotation, the default) and 60s")
	}
	if c.Tokens.Code > 10*time.Minute {
		p.addf("tokens.code_lifetime", "must be at most 10m (RFC 6749 4.1.2)")
	}
	if c.Tokens.DeviceCode <= 0 || c.Tokens.DeviceCode > time.Hour {
		p.addf("tokens.device_code_lifetime", "must be positive and at most 1h")
	}
	if c.Tokens.DeviceInterval < time.Second || c.Tokens.DeviceInterval > time.Minute {
		p.addf("tokens.device_poll_interval", "must be between 1s and 1m")
	}
}

func (a *AdminConfig) check(p *problems, mainListen string) {
	if !a.Enabled() {
		return
	}
	if len(a.Token) < 32 {
		p.addf("admin.token", "must be at least 32 characters (openssl rand -base64 32)")
	}
	if _, _, err := net.SplitHostPort(a.Listen); err != nil {
		p.addf("admin.listen", "%q is not host:port: %v", a.Listen, err)
	} else if a.Listen == mainListen {
		p.addf("admin.listen", "must differ from listen (the admin API has its own listener)")
	}
}

// warnPlainListener warns, at start-up, when the admin API listens beyond loopback: it is plain
// HTTP, so its bearer token (and the console's cookies) cross the network in clear unless TLS
// is put in front of it (review s12).
func (a *AdminConfig) warnPlainListener(log *slog.Logger) {
	if !a.Enabled() {
		return
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil || loopbackHost(host) {
		return
	}
	log.Warn("the admin API listens beyond loopback and is plain HTTP: its bearer token crosses the network in clear; "+
		"put a TLS proxy in front of it (admin.console.url https) or listen on 127.0.0.1", "field", "admin.listen", "listen", a.Listen)
}

// loopbackHost reports whether h (a URL's Hostname) is a loopback host: localhost, in any case
// (a DNS name's case is not significant, RFC 4343; browsers lower-case it, and the passkey RP ID
// is lower-cased, f1142f9), or a loopback address (127.0.0.0/8, ::1: RFC 8252 section 7.3's
// 127.0.0.1 and [::1]). Other names that resolve to loopback are not: a name is resolved by
// whoever reads the URL, not here.
func loopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// LoopbackHost is loopbackHost for the command line (saml register's and refresh's
// --metadata-url): one rule of which hosts are loopback.
func LoopbackHost(h string) bool { return loopbackHost(h) }
