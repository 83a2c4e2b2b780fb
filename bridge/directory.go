package bridge

import (
	"context"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
)

// OpenConnector opens the AMS connector legacy.type names (registry: package
// bridge/directories): the iMIS database named by legacy.dsn, or the embedded demo database
// when there is none.
func OpenConnector(ctx context.Context, cfg Config, o legacy.OpenOptions) (legacy.Connector, error) {
	d, err := cfg.Directory()
	if err != nil {
		return nil, err
	}
	if o.Issuer == "" {
		o.Issuer = cfg.Issuer
	}
	if o.HandoffURL == "" {
		o.HandoffURL = cfg.Issuer + PathHandoff
	}
	if o.SiteName == "" {
		o.SiteName = cfg.Organisation.Name
	}
	return d.Open(ctx, o)
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
	pages := capabilities(a.Connector).pages
	if pages.Handler == nil {
		return nil
	}
	return [][2]string{{"demo AMS", a.Config.Issuer + pages.Path + "/   (the member website; its SSO page hands off to the bridge)"}}
}
