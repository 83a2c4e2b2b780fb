package bridge_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestDeviceEntryLeftDuringSlowDownReleased: an entry whose browser leaves during the
// service-wide slow-down (its request's context cancelled) takes its reservation back, as a
// right code does: before, the release ran with the cancelled context, which the shared
// throttle's store refused, so it stayed counted as a wrong code and the budget ran out one
// entry early (session 14 noticed). Counted here: how many wrong codes the budget still takes.
func TestDeviceEntryLeftDuringSlowDownReleased(t *testing.T) {
	e, cfg := newDeviceGuessEnv(t, true)
	b := e.browser()
	csrf := b.Get(e.issuer + "/device").Hidden().Get("csrf")
	if csrf == "" {
		t.Fatal("no device form")
	}
	post := func(client *http.Client, addr, code string) (int, error) {
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/device", strings.NewReader(url.Values{"csrf": {csrf}, "user_code": {code}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", addr)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	addr := func(i int) string { return fmt.Sprintf("198.51.%d.%d", i/250, i%250+1) }
	wrong := "BCDF-GHJK"
	wrongs := func(from, n int) []int {
		out := make(chan int, n)
		for j := range n {
			go func() { s, _ := post(b.Client, addr(from+j), wrong); out <- s }()
		}
		statuses := make([]int, n)
		for j := range statuses {
			statuses[j] = <-out
		}
		return statuses
	}
	half := bridge.DeviceGuessesPerMinute / 2
	for _, s := range wrongs(0, half) {
		if s != http.StatusBadRequest {
			t.Fatalf("a wrong code below half the budget: %d", s)
		}
	}
	// Past half the budget every entry waits half a second or more; this browser leaves first.
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	leaving := *b.Client
	leaving.Timeout = 100 * time.Millisecond
	leaving.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if s, err := post(&leaving, addr(500), da.UserCode); err == nil {
		t.Fatalf("the entry was answered (%d) before the browser left: no slow-down", s)
	}
	time.Sleep(time.Second) // the server has seen the browser leave and released
	// The budget still takes the rest of its wrong codes: half of it, less none.
	left := bridge.DeviceGuessesPerMinute - half
	got := 0
	for _, s := range wrongs(1000, left) {
		if s == http.StatusBadRequest {
			got++
		}
	}
	if got != left {
		t.Fatalf("after an entry that left during the slow-down the budget took %d more wrong codes, want %d", got, left)
	}
}
