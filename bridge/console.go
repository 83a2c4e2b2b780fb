package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/web/console"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// consoleClient is the console's internal client when the console is on, with its secret: a
// fresh random one per process (the console is this process's own client; nothing else ever
// holds it).
func consoleClient(chk *config.Checked) (sso.ClientConfig, string, bool) {
	if !chk.Admin.ConsoleEnabled() {
		return sso.ClientConfig{}, "", false
	}
	secret := sso.RandomToken()
	return console.Client(chk.Admin.ConsoleURL(), secret), secret, true
}

// amsChecks are the connector's diagnostics for the console's AMS page and member lookups.
func amsChecks(cfg Config, dir legacy.Directory, conn legacy.Connector) admin.AMSChecks {
	var c admin.AMSChecks
	if dir != nil {
		c.Ping = dir
	}
	if d, ok := conn.(legacy.Diagnoser); ok {
		c.Diagnoser = d
	}
	if d, err := cfg.Directory(); err == nil {
		if tc, ok := d.(legacy.TokenChecker); ok {
			c.Token = tc
		}
	}
	return c
}

// derive is a key for one purpose from an installation secret.
func derive(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// inProcess is an http.RoundTripper that serves requests with the bridge's own handler: the
// console reaches its issuer without the network (no hairpin through a proxy, no TLS to itself).
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	req := r.Clone(r.Context())
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = r.URL.RequestURI()
	if req.Host == "" {
		req.Host = r.URL.Host
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

// mfaFactors shows members' second factors to the administration.
type mfaFactors struct{ s *mfa.Service }

func (m mfaFactors) Factors(ctx context.Context, subject string) (admin.FactorsInfo, error) {
	f, err := m.s.Factors(ctx, subject)
	if err != nil {
		return admin.FactorsInfo{}, err
	}
	out := admin.FactorsInfo{TOTP: f.TOTP, RecoveryLeft: f.RecoveryLeft, Passkeys: []admin.PasskeyInfo{}}
	for _, p := range f.Passkeys {
		out.Passkeys = append(out.Passkeys, admin.PasskeyInfo{Name: p.Name, Synced: p.BackupState, CreatedAt: p.CreatedAt, LastUsedAt: p.LastUsedAt})
	}
	return out, nil
}

// bridgeSessionBySID finds the live session of subject whose published sid (the ID token's
// sid claim) is sid: the bridge session a console sign-in came from. A member has a few live
// sessions (one a browser), and sids are keyed hashes of ids, so it lists them.
func bridgeSessionBySID(st sso.SessionStore, publicSID func(id string) string) func(ctx context.Context, subject, sid string) (string, time.Time, error) {
	return func(ctx context.Context, subject, sid string) (string, time.Time, error) {
		if sid == "" || subject == "" {
			return "", time.Time{}, sso.ErrNotFound
		}
		l, err := st.Sessions(ctx, subject)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("console: the sign-in's bridge session: %w", err)
		}
		for _, s := range l {
			if subtle.ConstantTimeCompare([]byte(publicSID(s.ID)), []byte(sid)) == 1 {
				return s.ID, s.ExpiresAt, nil
			}
		}
		return "", time.Time{}, sso.ErrNotFound
	}
}

// newConsole builds the admin console on the administration.
func (s *Server) newConsole(chk *config.Checked, secret string, cookieMAC, cookieEnc []byte) error {
	cfg := chk.Config
	c, err := console.New(console.Config{
		URL: cfg.Admin.ConsoleURL(), Issuer: cfg.Issuer, HTTP: &http.Client{Transport: inProcess{s.echo}},
		ClientSecret: secret, Roles: cfg.Admin.Console.Roles, IdleTimeout: cfg.Admin.ConsoleIdleTimeout(),
		RequireSecondFactor: cfg.Admin.ConsoleRequiresSecondFactor(),
		HashKey:             derive(cookieMAC, "console-cookie-hash-v1"), BlockKey: derive(cookieEnc, "console-cookie-block-v1"),
		Admin: s.admin, Sessions: s.store, BridgeSession: bridgeSessionBySID(s.store, s.provider.PublicSID),
		Org: cfg.Organisation.Name, Logger: s.log, Now: s.now,
	})
	if err != nil {
		return fmt.Errorf("admin.console: %w", err)
	}
	s.console = c.Handler()
	if !cfg.Admin.ConsoleRequiresSecondFactor() {
		// The console can register trusted clients, reset factors and end sessions: a phished
		// administrator password should not be enough. Opening it with a password alone is
		// the operator's explicit choice, said at every start.
		s.log.Warn("admin console: admin.console.require_second_factor is false: administrators open it with a password alone",
			"roles", cfg.Admin.Console.Roles)
	}
	return nil
}
