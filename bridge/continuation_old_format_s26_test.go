package bridge_test

import (
	"database/sql"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// writtenBeforeS24 rewrites the data of the second-factor challenge raw names as a version
// before session 24 (f94d384) wrote it: the same JSON without "auth_time", which those versions
// did not know. It fails t when the challenge has none to drop (the test would prove nothing).
func writtenBeforeS24(t *testing.T, e *env, raw string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hash := sso.HashToken("mfa-challenge:" + raw)
	var data []byte
	if err := db.QueryRow(`SELECT data FROM mfa_challenges WHERE id_hash = ?`, hash).Scan(&data); err != nil {
		t.Fatal(err)
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("challenge data %q: %v", data, err)
	}
	if _, ok := d["auth_time"]; !ok {
		t.Fatalf("the challenge carries no auth_time to drop: %s", data)
	}
	delete(d, "auth_time")
	old, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE mfa_challenges SET data = ? WHERE id_hash = ?`, old, hash); err != nil {
		t.Fatal(err)
	}
}

// TestContinuationWithoutAuthTime (brief s26 D item 3, left by s24 M5): during a rolling
// upgrade, a continuation (the sign-in held after the recovery codes of a factor enrolled at the
// step) written by a version before session 24 carries no auth time. The newer version that
// follows it takes its sign-in time as unknown, not recent (fail closed): the session's
// auth_time is a day and more before (upstream.UnknownAuthAge), so an app's max_age asks for a
// new sign-in. Before, it took the continuation's creation, the enrolment's moment: a sign-in
// that checked no factor of the member's counted as just authenticated. The same continuation
// as this version writes it keeps the password's time.
func TestContinuationWithoutAuthTime(t *testing.T) {
	for _, old := range []bool{false, true} {
		name := "this version's"
		if old {
			name = "written before session 24"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, otherRequiresMFA)
			other, verifier := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
			b := e.browser()
			signedIn := time.Now()
			step := mfaStep(t, e, b, other.AuthCodeURL("s", oidc.Nonce("n")))
			m := totpSecretRe.FindStringSubmatch(step.Body)
			if m == nil {
				t.Fatalf("no enrolment on the step page: %.600s", step.Body)
			}
			done := submitStep(b, e, step, "enrol", totpCode(t, m[1], 0))
			next := continueRe.FindStringSubmatch(done.Body)
			if !recoveryCodeRe.MatchString(done.Body) || next == nil {
				t.Fatalf("no recovery codes and way on after enrolment: %d %.500s", done.Status, done.Body)
			}
			link := strings.ReplaceAll(next[1], "&amp;", "&")
			u, err := url.Parse(link)
			if err != nil || u.Query().Get("c") == "" {
				t.Fatalf("continuation link %q: %v", link, err)
			}
			if old {
				writtenBeforeS24(t, e, u.Query().Get("c"))
			}
			fin := b.Get(e.issuer + link)
			got := time.Unix(idTokenAuth(t, e, other, verifier, fin.Redirected(t).Get("code")).AuthTime, 0)
			want := signedIn
			if old {
				want = signedIn.Add(-upstream.UnknownAuthAge)
			}
			if d := got.Sub(want); d < -time.Minute || d > time.Minute {
				t.Fatalf("auth_time %s, want about %s", got.UTC(), want.UTC())
			}
			// max_age=3600: answered after this version's continuation (the password's time),
			// a new sign-in after the old one's.
			p := b.Get(other.AuthCodeURL("m", oidc.Nonce("n2"), oauth2.SetAuthURLParam("max_age", "3600")))
			if answered := strings.Contains(p.Location, "code="); answered == old {
				t.Fatalf("max_age=3600 after the continuation: answered %t: %d %q", answered, p.Status, p.Location)
			}
		})
	}
}

// TestUpstreamStepWithoutAuthTime (brief s26 D item 3): the second-factor step of an upstream
// sign-in carries the provider's auth time since session 24; one written before, without it,
// and passed by the newer version with nothing checked there (the reset notice of a provider
// trusted for mfa) takes its sign-in time as unknown, a day and more before, not when the step
// was opened. Here the provider said it authenticated the member just now, which the step as
// this version writes it keeps.
func TestUpstreamStepWithoutAuthTime(t *testing.T) {
	for _, old := range []bool{false, true} {
		name := "this version's"
		if old {
			name = "written before session 24"
		}
		t.Run(name, func(t *testing.T) {
			op := newSilentOP(t, "")
			e := newEnv(t, func(c *bridge.Config) {
				c.Policy.EmailVerified = true // link_by_email needs it
				c.UpstreamProviders = append(c.UpstreamProviders, upstream.ProviderConfig{Name: "silent", DisplayName: "Silent ID",
					Issuer: op.issuer(), ClientID: "bridge", ClientSecret: "silent-secret", LinkByEmail: true, TrustedAMR: []string{"mfa"}})
			})
			op.email = mustMember(t, e, "alice").Email
			web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
			web.Scopes = []string{oidc.ScopeOpenID}
			// alice had an authenticator app, which an administrator reset: the step shows the notice.
			pw := e.browser()
			e.signIn(pw, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
			enrolTOTP(t, e, pw)
			if _, err := e.bridge.Admin().ResetFactors(e.ctx(), "test", admin.Filter{Login: "alice"}); err != nil {
				t.Fatal(err)
			}
			op.mu.Lock()
			op.authTime = time.Now()
			op.mu.Unlock()

			b := e.browser()
			login := b.Get(web.AuthCodeURL("s", oidc.Nonce("n"))).Hidden()
			start := b.Post(e.issuer+"/upstream/silent/start", url.Values{"csrf": {login.Get("csrf")}, "id": {login.Get("id")}})
			step := b.Get(start.Location)
			hid := step.Hidden()
			if step.URL.Path != "/login/mfa" || hid.Get("c") == "" || !strings.Contains(step.Body, `id="mfa-reset-notice"`) {
				t.Fatalf("no step with the reset notice after the upstream sign-in: %d at %s %.600s", step.Status, step.URL, step.Body)
			}
			if old {
				writtenBeforeS24(t, e, hid.Get("c"))
			}
			done := b.Post(e.issuer+"/login/mfa", url.Values{"csrf": {hid.Get("csrf")}, "c": {hid.Get("c")}, "method": {"continue"}})
			got := time.Unix(idTokenAuth(t, e, web, verifier, done.Redirected(t).Get("code")).AuthTime, 0)
			want := time.Now()
			if old {
				want = want.Add(-upstream.UnknownAuthAge)
			}
			if d := got.Sub(want); d < -time.Minute || d > time.Minute {
				t.Fatalf("auth_time %s, want about %s", got.UTC(), want.UTC())
			}
		})
	}
}
