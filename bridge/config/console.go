package config

import (
	"net"
	"net/url"
	"strings"
	"time"
)

// ConsoleConfig is the admin console (admin.console): server-rendered pages on the admin
// listener, signed in through the bridge itself by members holding one of Roles.
type ConsoleConfig struct {
	// URL is the console's origin as the administrators' browsers reach the admin listener
	// (scheme://host[:port], no path); default http://<admin.listen>. https, or http for a
	// loopback host only.
	URL string `yaml:"url"`
	// Roles are the AMS roles that admit a member to the console (any one of them), e.g.
	// [SysAdmin]. The console is off when empty.
	Roles []string `yaml:"roles"`
	// IdleTimeout signs an administrator out after this long without a request (default 15m).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// RequireSecondFactor (default true): administrators open the console only after a second
	// factor; one who has none enrols at the sign-in. false opens it with a password alone
	// (said with a warning at every start).
	RequireSecondFactor *bool `yaml:"require_second_factor"`
}

// ConsoleRequiresSecondFactor is admin.console.require_second_factor (default true).
func (a *AdminConfig) ConsoleRequiresSecondFactor() bool {
	return a.Console.RequireSecondFactor == nil || *a.Console.RequireSecondFactor
}

// ConsoleEnabled reports whether the console runs (the admin listener runs and roles are set).
func (a *AdminConfig) ConsoleEnabled() bool { return a.Enabled() && len(a.Console.Roles) > 0 }

// ConsoleURL is the console's origin: admin.console.url, or http://<admin.listen>.
func (a *AdminConfig) ConsoleURL() string {
	if a.Console.URL != "" {
		return strings.TrimSuffix(a.Console.URL, "/")
	}
	return "http://" + a.Listen
}

// ConsoleIdleTimeout is admin.console.idle_timeout or its default.
func (a *AdminConfig) ConsoleIdleTimeout() time.Duration {
	if a.Console.IdleTimeout > 0 {
		return a.Console.IdleTimeout
	}
	return 15 * time.Minute
}

func (a *AdminConfig) checkConsole(p *problems) {
	c := a.Console
	if len(c.Roles) == 0 {
		if c.URL != "" {
			p.addf("admin.console.roles", "must name the AMS roles that admit an administrator (e.g. [SysAdmin]) when admin.console.url is set")
		}
		if c.RequireSecondFactor != nil {
			p.addf("admin.console.require_second_factor", "applies to the console, which is off: set admin.console.roles, or remove this setting")
		}
		return
	}
	if !a.Enabled() {
		p.addf("admin.console.roles", "the console runs on the admin listener, which needs admin.token")
		return
	}
	for _, r := range c.Roles {
		if strings.TrimSpace(r) == "" {
			p.addf("admin.console.roles", "must not hold an empty role name")
		}
	}
	if c.IdleTimeout < 0 || (c.IdleTimeout > 0 && (c.IdleTimeout < time.Minute || c.IdleTimeout > 8*time.Hour)) {
		p.addf("admin.console.idle_timeout", "must be between 1m and 8h (default 15m)")
	}
	u, err := url.Parse(a.ConsoleURL())
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		p.addf("admin.console.url", "%q must be an origin such as https://admin.example.org:8081 (no path)", a.ConsoleURL())
		return
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !loopbackHost(u.Hostname())) {
		p.addf("admin.console.url", "%q must use https (http is allowed only for a loopback host such as 127.0.0.1)", a.ConsoleURL())
	}
	if net.ParseIP(u.Hostname()).IsUnspecified() {
		p.addf("admin.console.url", "%q is not an address a browser can reach; set admin.console.url", a.ConsoleURL())
	}
}
