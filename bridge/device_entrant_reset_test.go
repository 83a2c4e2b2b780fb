package bridge_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// TestDeviceCodeRightCodeKeepsEntrantCount (review s13 X1): an entrant's wrong user codes (an
// address's, or a signed-in member's account's) are not forgiven by a right code. Anyone can
// get a right code of their own at any time (POST /device_authorization of a public device
// client) and enter it again and again, since entering a code does not use it up: were a right
// code to clear the entrant's count, one address would get 50 wrong codes in the window (its
// per_ip counter) instead of 5, and one member account the members' whole service-wide budget
// (README: "pausing the members' budget takes about 90 member accounts").
func TestDeviceCodeRightCodeKeepsEntrantCount(t *testing.T) {
	inThrottleModes(t, testDeviceCodeRightCodeKeepsEntrantCount)
}

func testDeviceCodeRightCodeKeepsEntrantCount(t *testing.T, shared bool) {
	e, cfg := newDeviceGuessEnv(t, shared)
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	own := da.UserCode // the guesser's own device code: entered as often as they like
	wrong := "BCDF-GHJK"
	var guessAs func(t *testing.T, name string, b *bridgetest.Browser, addr func(i int) string)
	enter := func(b *bridgetest.Browser, csrf, addr, code string) int {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/device", strings.NewReader(url.Values{"csrf": {csrf}, "user_code": {code}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		client := *b.Client
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// The pattern: 4 wrong codes, the own right one, 4 wrong... from one entrant. Five wrong
	// codes are the entrant's limit (throttle.per_login), so the sixth wrong one must wait.
	guess := func(name string, b *bridgetest.Browser, addr func(i int) string) {
		t.Run(name, func(t *testing.T) { guessAs(t, name, b, addr) })
	}
	guessAs = func(t *testing.T, name string, b *bridgetest.Browser, addr func(i int) string) {
		csrf := b.Get(e.issuer + "/device").Hidden().Get("csrf")
		if csrf == "" {
			t.Fatalf("%s: no device form", name)
		}
		wrongs := 0
		for round := 0; round < 3; round++ {
			for j := 0; j < 4; j++ {
				status := enter(b, csrf, addr(wrongs), wrong)
				if wrongs >= 5 {
					if status != http.StatusTooManyRequests {
						t.Fatalf("%s: wrong code %d (after a right one of the guesser's own in between): %d, want 429: a right code cleared the entrant's count of wrong ones",
							name, wrongs+1, status)
					}
					return
				}
				if status != http.StatusBadRequest {
					t.Fatalf("%s: wrong code %d: %d, want the wrong-code page", name, wrongs+1, status)
				}
				wrongs++
			}
			if status := enter(b, csrf, addr(wrongs), own); status != http.StatusSeeOther {
				t.Fatalf("%s: the guesser's own right code: %d, want on to the sign-in", name, status)
			}
		}
		t.Fatalf("%s: %d wrong codes taken", name, wrongs)
	}
	// An anonymous entrant: one address.
	guess("one address", e.browser(), func(int) string { return "198.51.100.7" })
	// A signed-in member: their account's count, from whatever addresses.
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", 0)
	bob := e.browser()
	e.signIn(bob, web.AuthCodeURL("s"), "bob", "bob-password")
	guess("one member account", bob, func(i int) string { return fmt.Sprintf("192.0.2.%d", i+1) })
}
