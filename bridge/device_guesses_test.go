package bridge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestDeviceCodeGuessesBoundGlobally: wrong user codes are bounded for the whole service, not
// only per address (RFC 8628 5.1, 6.1): a guesser spread over many addresses (IPv4 and IPv6
// /64s, each far below its own limit) is slowed and then refused once the global budget of
// wrong codes in a minute is spent, with a page that says why and a Retry-After; a right code
// entered meanwhile is refused too (it would otherwise be an oracle), and a right code entered
// earlier did not give the budget back. "shared" keeps the counters in the store, as replicas
// on PostgreSQL do (one budget for all of them).
func TestDeviceCodeGuessesBoundGlobally(t *testing.T) {
	inThrottleModes(t, testDeviceCodeGuessesBoundGlobally)
}

// inThrottleModes runs test with the throttle counters in memory and in the store.
func inThrottleModes(t *testing.T, test func(t *testing.T, shared bool)) {
	for _, shared := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "shared"}[shared], func(t *testing.T) {
			t.Parallel()
			test(t, shared)
		})
	}
}

// newDeviceGuessEnv is a bridge whose device client "tv" is reached from behind a trusted
// proxy (each guess names its own address), and that client's configuration.
func newDeviceGuessEnv(t *testing.T, shared bool) (*env, *oauth2.Config) {
	e := newEnvDeps(t, false, nil, envDeps{sharedThrottles: shared}, withGrantClients,
		func(c *bridge.Config) { c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"} })
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	return e, cfg
}

func testDeviceCodeGuessesBoundGlobally(t *testing.T, shared bool) {
	e, cfg := newDeviceGuessEnv(t, shared)
	b := e.browser()
	csrf := b.Get(e.issuer + "/device").Hidden().Get("csrf")
	if csrf == "" {
		t.Fatal("no device form")
	}
	enter := func(addr, code string) *bridgetest.Page {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/device", strings.NewReader(url.Values{"csrf": {csrf}, "user_code": {code}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		client := *b.Client
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return &bridgetest.Page{Status: resp.StatusCode, Body: string(body), Header: resp.Header, Location: resp.Header.Get("Location")}
	}
	addr := func(i int) string {
		if i%2 == 0 {
			return fmt.Sprintf("198.51.%d.%d", i/250, i%250+1)
		}
		return fmt.Sprintf("2001:db8:%x::1", i)
	}
	wrong := "BCDF-GHJK"
	right := func() string {
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		return da.UserCode
	}
	// Up to the budget, less one, every wrong code gets the wrong-code page, also when they
	// come all at once (each reserves its place before any is checked; past half the budget
	// each is slowed, in parallel here).
	i := bridge.DeviceGuessesPerMinute - 1
	statuses := make(chan int, i)
	for j := range i {
		go func() {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/device", strings.NewReader(url.Values{"csrf": {csrf}, "user_code": {wrong}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", addr(j))
			resp, err := b.Client.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	for range i {
		if status := <-statuses; status != http.StatusBadRequest {
			t.Fatalf("a wrong code from a fresh address: %d, want 400 (the wrong-code page)", status)
		}
	}
	// A right code does not give the budget back.
	if p := enter(addr(1000), right()); p.Status != http.StatusSeeOther {
		t.Fatalf("a right code: %d %.300s", p.Status, p.Body)
	}
	if p := enter(addr(i), wrong); p.Status != http.StatusBadRequest {
		t.Fatalf("the budget's last wrong code: %d", p.Status)
	}
	i++
	// Spent: every entry, from any address, right or wrong, waits.
	for _, code := range []string{wrong, right()} {
		p := enter(addr(i), code)
		i++
		if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "Too many wrong codes have been entered") {
			t.Fatalf("an entry after the global budget was spent: %d %.600s", p.Status, p.Body)
		}
		if ra, err := strconv.Atoi(p.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 61 {
			t.Fatalf("Retry-After %q", p.Header.Get("Retry-After"))
		}
	}
}

// TestDeviceCodeEntryNotPausedForMembers: a guesser who spends the service-wide budget of wrong
// user codes from many addresses pauses code entry only for browsers without a session: a member
// signed in in this browser still enters their code, counted against a budget of their own
// (their account's: 5 wrong codes, from whatever addresses, then a pause for that account
// alone) and the signed-in members' service-wide one, which the anonymous guesser cannot
// spend. Before, the one budget paused everyone, signed in or not.
func TestDeviceCodeEntryNotPausedForMembers(t *testing.T) {
	inThrottleModes(t, testDeviceCodeEntryNotPausedForMembers)
}

func testDeviceCodeEntryNotPausedForMembers(t *testing.T, shared bool) {
	e, cfg := newDeviceGuessEnv(t, shared)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	csrfs := map[*bridgetest.Browser]string{}
	csrfOf := func(b *bridgetest.Browser) string {
		if csrfs[b] == "" {
			csrfs[b] = b.Get(e.issuer + "/device").Hidden().Get("csrf")
		}
		return csrfs[b]
	}
	enter := func(b *bridgetest.Browser, addr, code string) *bridgetest.Page {
		csrf := csrfOf(b)
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/device", strings.NewReader(url.Values{"csrf": {csrf}, "user_code": {code}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		client := *b.Client
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			return &bridgetest.Page{Status: -1, Body: err.Error()}
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return &bridgetest.Page{Status: resp.StatusCode, Body: string(body), Header: resp.Header, Location: resp.Header.Get("Location")}
	}
	right := func() string {
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		return da.UserCode
	}
	wrong := "BCDF-GHJK"
	alice, bob := e.browser(), e.browser()
	e.signIn(alice, web.AuthCodeURL("s"), "alice", "alice-password")
	e.signIn(bob, web.AuthCodeURL("s"), "bob", "bob-password")

	// An anonymous guesser spends the budget from as many addresses, all at once.
	guesser := e.browser()
	csrfOf(guesser)
	statuses := make(chan int, bridge.DeviceGuessesPerMinute)
	for i := range bridge.DeviceGuessesPerMinute {
		go func() { statuses <- enter(guesser, fmt.Sprintf("198.51.100.%d", i+1), wrong).Status }()
	}
	for range bridge.DeviceGuessesPerMinute {
		if status := <-statuses; status != http.StatusBadRequest {
			t.Fatalf("a wrong code from a fresh address: %d, want the wrong-code page", status)
		}
	}
	if p := enter(e.browser(), "203.0.113.7", right()); p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "not signed in") {
		t.Fatalf("an anonymous entry after the budget was spent: %d %.400s, want the pause", p.Status, p.Body)
	}
	// A signed-in member is not paused.
	if p := enter(alice, "203.0.113.8", right()); p.Status != http.StatusSeeOther {
		t.Fatalf("a signed-in member's right code while anonymous entry is paused: %d %.400s, want on to the sign-in", p.Status, p.Body)
	}
	// A member's wrong codes are their account's, from whatever address: five, then that account
	// waits, and another member does not.
	for i := range 5 {
		if p := enter(alice, fmt.Sprintf("192.0.2.%d", i+1), wrong); p.Status != http.StatusBadRequest {
			t.Fatalf("alice's wrong code %d: %d, want the wrong-code page", i, p.Status)
		}
	}
	if p := enter(alice, "192.0.2.99", right()); p.Status != http.StatusTooManyRequests {
		t.Fatalf("alice after five wrong codes: %d, want her account paused", p.Status)
	}
	if p := enter(bob, "192.0.2.100", right()); p.Status != http.StatusSeeOther {
		t.Fatalf("bob while alice's account is paused: %d %.400s", p.Status, p.Body)
	}
}
