package bridge_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"
)

// TestConcurrentRefreshOneWins (review s18): two refresh requests with the same refresh token
// at once, through the listener, on the production store (SQLite). Strict rotation (no
// refresh_reuse_grace): exactly one gets tokens; the other is reuse (RFC 9700 4.14.2), answered
// invalid_grant, and revokes the family, so the winner's new refresh token is refused too (the
// token was presented twice: one of the two holders may be a thief). Whichever order the two
// reach the store in, a read before the other's rotation loses at the compare-and-set and one
// after it finds a rotated token: the outcome is the same, round after round.
func TestConcurrentRefreshOneWins(t *testing.T) {
	e := newEnv(t)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	for round := range 8 {
		tok, err := web.Exchange(e.ctx(), e.signIn(b, web.AuthCodeURL("s"), "alice", "alice-password"))
		if err != nil || tok.RefreshToken == "" {
			t.Fatalf("round %d: exchange: %v", round, err)
		}
		type answer struct {
			status int
			body   map[string]any
		}
		answers := make([]answer, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// No t.Fatal off the test's goroutine: the error is the answer.
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
				req, _ := http.NewRequestWithContext(e.ctx(), http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("web", webSecret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					answers[i] = answer{0, map[string]any{"transport": err.Error()}}
					return
				}
				defer resp.Body.Close()
				body := map[string]any{}
				_ = json.NewDecoder(resp.Body).Decode(&body)
				answers[i] = answer{resp.StatusCode, body}
			}()
		}
		close(start)
		wg.Wait()
		var next string
		wins := 0
		for _, a := range answers {
			switch {
			case a.status == http.StatusOK:
				wins++
				next, _ = a.body["refresh_token"].(string)
			case a.status != http.StatusBadRequest || a.body["error"] != "invalid_grant":
				t.Fatalf("round %d: the other refresh: %d %v, want 400 invalid_grant", round, a.status, a.body)
			}
		}
		if wins != 1 || next == "" {
			t.Fatalf("round %d: %d of two simultaneous refreshes got tokens (%v), want exactly one", round, wins, answers)
		}
		if resp, body := postForm(t, e.issuer+"/oauth/token", map[string]string{"grant_type": "refresh_token", "refresh_token": next}, "web", webSecret); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("round %d: the winner's refresh token after the reuse: %d %v, want the family revoked", round, resp.StatusCode, body)
		}
	}
}
