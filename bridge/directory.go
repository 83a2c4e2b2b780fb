package bridge

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// OpenDirectory opens the member directory: the AMS database named by legacy.dsn, or the
// embedded demo database when there is none (demo is then true).
func OpenDirectory(ctx context.Context, cfg Config, log *slog.Logger) (dir legacy.Directory, isDemo bool, closeFn func() error, err error) {
	if cfg.Legacy.DSN == "" {
		d, _, err := demo.OpenDirectory(ctx, "", sqldir.WithLogger(log))
		if err != nil {
			return nil, false, nil, fmt.Errorf("demo directory: %w", err)
		}
		log.Warn("legacy.dsn is not set: members come from the embedded demo database")
		c := demo.Config()
		return cache.Wrap(d, cache.Options{TTL: c.CacheTTL, Size: c.CacheSize}), true, d.Close, nil
	}
	d, err := sqldir.Open(cfg.Legacy, sqldir.WithLogger(log))
	if err != nil {
		return nil, false, nil, fmt.Errorf("legacy: %w", err)
	}
	if err := d.Ping(ctx); err != nil {
		// Start anyway: sign-ins fail closed with "membership system unavailable" until it is back.
		log.Error("the AMS database is not reachable at start-up", "err", err)
	}
	return cache.Wrap(d, cache.Options{TTL: cfg.Legacy.CacheTTL, Size: cfg.Legacy.CacheSize}), false, d.Close, nil
}

// DemoLogin is one demo sign-in for the banner and README.
type DemoLogin struct{ Login, Password, Description string }

// DemoLogins lists the demo database's sign-ins.
func DemoLogins() []DemoLogin {
	var out []DemoLogin
	for _, l := range demo.Logins() {
		out = append(out, DemoLogin{l.Login, l.Password, l.Description})
	}
	return out
}

// Links lists extra places to open, for the start-up banner.
func (a *App) Links() [][2]string {
	if a.Server.sim == nil {
		return nil
	}
	return [][2]string{{"demo AMS", a.Config.Issuer + demoAMSPath + "/   (the member website; its SSO page hands off to the bridge)"}}
}
