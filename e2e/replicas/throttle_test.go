package replicas

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// throttleYAML: 4 failures per login (or member), a lockout longer than the test; the per-IP
// limit and the anonymous-write budget out of the way (every request comes from 127.0.0.1).
const throttleYAML = `throttle:
  per_login: 4
  per_ip: 1000
  window: 10m
  lockout: 10m
  anonymous_writes: 1000
`

// TestWrongPasswordsOnBothReplicasShareOneLimit: wrong passwords for one login, sent in turn to
// replica A and B, are refused from the 5th on (per_login 4 in total), not after 4 on each.
func TestWrongPasswordsOnBothReplicasShareOneLimit(t *testing.T) {
	e := newEnv(t, 2, throttleYAML)
	cfg, _ := e.oauth()
	for i := 1; i <= 6; i++ {
		r := e.replicas[i%2]
		e.via(r)
		b := bridgetest.NewBrowser(t, e.issuer)
		p := b.Login(b.Get(cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce"))), login, "wrong-password")
		want, text := http.StatusUnauthorized, "not right"
		if i > 4 {
			want, text = http.StatusTooManyRequests, "Too many sign-in attempts"
		}
		if p.Status != want || !strings.Contains(p.Body, text) {
			t.Fatalf("wrong password %d (on %s): status %d, want %d %q", i, r.name, p.Status, want, text)
		}
	}
	// The right password is refused too while the login is locked, on either replica.
	for _, r := range e.replicas {
		e.via(r)
		b := bridgetest.NewBrowser(t, e.issuer)
		if p := b.Login(b.Get(cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce"))), login, password); p.Status != http.StatusTooManyRequests {
			t.Fatalf("right password on locked login (on %s): status %d", r.name, p.Status)
		}
	}
}

var totpSecretRe = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// TestWrongSecondFactorCodesOnBothReplicasShareOneLimit: the staff member enrols an
// authenticator app; at the next sign-in, wrong codes sent in turn to A and B are refused from
// the 5th on.
func TestWrongSecondFactorCodesOnBothReplicasShareOneLimit(t *testing.T) {
	e := newEnv(t, 2, throttleYAML)
	cfg, _ := e.oauth()
	a := e.replicas[0]
	e.via(a)
	b := bridgetest.NewBrowser(t, e.issuer)
	e.signIn(b, cfg)
	sec := b.Get(e.issuer + "/account/security")
	csrf := sec.Hidden().Get("csrf")
	begun := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
	m := totpSecretRe.FindStringSubmatch(begun.Body)
	if m == nil {
		t.Fatalf("enrolment page: %d %.600s", begun.Status, begun.Body)
	}
	code, err := totp.GenerateCodeCustom(m[1], time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if done := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"}, "code": {code}}); done.Status != http.StatusOK {
		t.Fatalf("confirmation: %d %.600s", done.Status, done.Body)
	}

	b2 := bridgetest.NewBrowser(t, e.issuer)
	step := b2.Login(b2.Get(cfg.AuthCodeURL("s2", oidc.Nonce("n2"))), login, password)
	if !strings.HasPrefix(step.URL.Path, "/login/mfa") || step.Hidden().Get("c") == "" {
		t.Fatalf("no second-factor step: status %d at %s %q", step.Status, step.URL, step.Location)
	}
	f := step.Hidden()
	for i := 1; i <= 6; i++ {
		r := e.replicas[i%2]
		e.via(r)
		wrong := "000000"
		if wrong == code {
			wrong = "999999"
		}
		p := b2.Post(e.issuer+"/login/mfa", url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"totp"}, "code": {wrong}})
		want := http.StatusUnauthorized
		if i > 4 {
			want = http.StatusTooManyRequests
		}
		if p.Status != want {
			t.Fatalf("wrong code %d (on %s): status %d, want %d: %.400s", i, r.name, p.Status, want, p.Body)
		}
	}
}

// TestAnonymousWritesOnBothReplicasShareOneBudget: device authorization requests from one
// address, sent in turn to A and B, are refused once the address's budget per minute is spent
// in total.
func TestAnonymousWritesOnBothReplicasShareOneBudget(t *testing.T) {
	e := newEnv(t, 2, strings.Replace(throttleYAML, "anonymous_writes: 1000", "anonymous_writes: 5", 1))
	for i := 1; i <= 7; i++ {
		r := e.replicas[i%2]
		// Authenticated (a failed client authentication would meet the client throttle first).
		req, _ := http.NewRequest(http.MethodPost, r.url+sso.PathDeviceAuthzEP, strings.NewReader(url.Values{"scope": {"openid"}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("web", webSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		refused := resp.StatusCode == http.StatusTooManyRequests
		if refused != (i > 5) {
			t.Fatalf("device authorization %d (on %s): status %d, want refused only after 5", i, r.name, resp.StatusCode)
		}
	}
}
