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
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestDeviceCodeGuessesBoundPerNetwork (brief s23 L2 item 4): the sign-in throttle counts an
// IPv6 client by its /64, so a guesser holding a /48 had 65,536 budgets of wrong user codes.
// Wrong codes of browsers without a session are now also counted per /48
// (throttle.device_per_network, 3 here): one wrong code from each of three /64s of one /48
// gets the wrong-code page, the fourth /64's entry is paused with a page that says why and a
// Retry-After (before: the wrong-code page again), right code or wrong; another /48 and an
// IPv4 address are not paused, nor is a member signed in in the browser (their account's
// budget counts them). A right code gives back its reservation, as for the per-address budget.
// "shared" keeps the counters in the store (replicas).
func TestDeviceCodeGuessesBoundPerNetwork(t *testing.T) {
	inThrottleModes(t, testDeviceCodeGuessesBoundPerNetwork)
}

func testDeviceCodeGuessesBoundPerNetwork(t *testing.T, shared bool) {
	e := newEnvDeps(t, false, nil, envDeps{sharedThrottles: shared}, withGrantClients, func(c *bridge.Config) {
		c.TrustedProxies = []string{"127.0.0.0/8", "::1/128"}
		c.Throttle.DevicePerNetwork = 3
	})
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	csrfs := map[*bridgetest.Browser]string{}
	enter := func(b *bridgetest.Browser, addr, code string) *bridgetest.Page {
		t.Helper()
		if csrfs[b] == "" {
			csrfs[b] = b.Get(e.issuer + "/device").Hidden().Get("csrf")
		}
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/device", strings.NewReader(url.Values{"csrf": {csrfs[b]}, "user_code": {code}}.Encode()))
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
	right := func() string {
		t.Helper()
		da, err := cfg.DeviceAuth(e.ctx())
		if err != nil {
			t.Fatal(err)
		}
		return da.UserCode
	}
	const wrong = "BCDF-GHJK"
	// net64 is an address in the i-th /64 of the guesser's /48.
	net64 := func(i int) string { return fmt.Sprintf("2001:db8:77:%x::1", i) }
	guesser := e.browser()

	// Right codes from the /48 give their reservations back.
	for i := range 3 {
		if p := enter(guesser, net64(100+i), right()); p.Status != http.StatusSeeOther {
			t.Fatalf("right code %d: %d %.300s", i, p.Status, p.Body)
		}
	}
	for i := range 3 {
		if p := enter(guesser, net64(i), wrong); p.Status != http.StatusBadRequest {
			t.Fatalf("wrong code %d from its own /64: %d %.300s, want the wrong-code page", i, p.Status, p.Body)
		}
	}
	for _, code := range []string{wrong, right()} {
		p := enter(guesser, net64(3), code)
		if p.Status != http.StatusTooManyRequests || !strings.Contains(p.Body, "entered from your network") {
			t.Fatalf("an entry from a fourth /64 of the /48: %d %.600s, want the network's pause", p.Status, p.Body)
		}
		if ra, err := strconv.Atoi(p.Header.Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("Retry-After %q", p.Header.Get("Retry-After"))
		}
	}
	if p := enter(guesser, "2001:db8:78::1", wrong); p.Status != http.StatusBadRequest {
		t.Fatalf("another /48: %d, want the wrong-code page", p.Status)
	}
	if p := enter(guesser, "198.51.100.9", wrong); p.Status != http.StatusBadRequest {
		t.Fatalf("an IPv4 address: %d, want the wrong-code page", p.Status)
	}
	// A member signed in in this browser, in the paused /48, is counted by their account.
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	alice := e.browser()
	e.signIn(alice, web.AuthCodeURL("s"), "alice", "alice-password")
	if p := enter(alice, net64(4), right()); p.Status != http.StatusSeeOther {
		t.Fatalf("a signed-in member's right code from the paused /48: %d %.300s", p.Status, p.Body)
	}
	evs, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "device.throttled"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Detail == "network" && strings.HasPrefix(ev.IP, "2001:db8:77:3:") {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d device.throttled rows for the network: %+v", n, evs)
	}
}
