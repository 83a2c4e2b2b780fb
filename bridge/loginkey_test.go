package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// collatingDirectory ignores "~" in logins, as SQL Server's collations ignore some code points
// that no normalisation here knows of: many typed logins, one account.
type collatingDirectory struct{ *bridgetest.Directory }

func (d collatingDirectory) Authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	return d.Directory.Authenticate(ctx, strings.ReplaceAll(login, "~", ""), password)
}

func (d collatingDirectory) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	return d.Directory.MemberByLogin(ctx, strings.ReplaceAll(login, "~", ""))
}

func loginAttempt(t *testing.T, e *env, login, password string) *bridgetest.Page {
	t.Helper()
	b := e.browser()
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	p := b.Get(web.AuthCodeURL("s"))
	f := p.Hidden()
	return b.Post(e.issuer+"/login", url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {login}, "password": {password}})
}

// TestThrottleKeysNotMultiplied: full-width and upper-case variants of a login share its
// throttle counter; a login with invisible characters is refused without asking the AMS;
// failures also count against the member a login resolves to, so variants the AMS treats as
// one account (the "~" here) share a limit; the audit log keeps a keyed hash of typed logins.
func TestThrottleKeysNotMultiplied(t *testing.T) {
	limit := func(c *bridge.Config) { c.Throttle.PerLogin, c.Throttle.PerIP = 3, 1000 }

	t.Run("normalised", func(t *testing.T) {
		e := newEnv(t, limit)
		for _, l := range []string{"ａｌｉｃｅ", "ALICE", "Alice"} {
			if p := loginAttempt(t, e, l, "wrong"); p.Status != http.StatusUnauthorized {
				t.Fatalf("%q: %d", l, p.Status)
			}
		}
		if p := loginAttempt(t, e, "alice", "alice-password"); p.Status != http.StatusTooManyRequests {
			t.Fatalf("after 3 failures of variants: %d", p.Status)
		}
	})
	t.Run("invisible", func(t *testing.T) {
		e := newEnv(t, limit)
		before := e.dir.Comparisons.Load()
		for _, l := range []string{"al\u00ADice", "ali\u200Bce", "alice\u200D", "\u2066alice"} {
			if p := loginAttempt(t, e, l, "alice-password"); p.Status != http.StatusUnauthorized || p.Location != "" {
				t.Fatalf("%q: %d %q", l, p.Status, p.Location)
			}
		}
		if n := e.dir.Comparisons.Load(); n != before {
			t.Fatalf("the AMS was asked %d times for logins with invisible characters", n-before)
		}
	})
	t.Run("member", func(t *testing.T) {
		e := newEnvDir(t, false, collatingDirectory{bridgetest.NewDirectory()}, limit)
		for _, l := range []string{"al~ice", "ali~ce", "alic~e"} {
			if p := loginAttempt(t, e, l, "wrong"); p.Status != http.StatusUnauthorized {
				t.Fatalf("%q: %d", l, p.Status)
			}
		}
		if p := loginAttempt(t, e, "a~lice", "alice-password"); p.Status != http.StatusTooManyRequests {
			t.Fatalf("after 3 failures against one member: %d", p.Status)
		}
		evs, err := e.store.AuditEvents(t.Context(), store.AuditFilter{Event: "login.failure"})
		if err != nil || len(evs) < 3 {
			t.Fatalf("audit: %d %v", len(evs), err)
		}
		for _, ev := range evs {
			// The typed logins all carry "~" (never in the hash's encoding) and the name; a
			// random hash may well contain "al", so that is not what is looked for.
			hash, ok := strings.CutPrefix(ev.Login, "hmac:")
			if !ok || strings.Contains(hash, "~") || strings.Contains(hash, "alice") || ev.Subject == "" {
				t.Fatalf("audit row keeps login %q subject %q", ev.Login, ev.Subject)
			}
		}
	})
}
