package replicas

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// refresh posts a refresh to one replica; a transport error (the replica is dead) is err.
func refresh(base, rt string) (status int, next string, err error) {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	req, _ := http.NewRequest(http.MethodPost, base+sso.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", webSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
		Description  string `json:"error_description"`
	}
	if err := decodeJSON(resp, &body); err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", fmt.Errorf("%s: %s", body.Error, body.Description)
	}
	return resp.StatusCode, body.RefreshToken, nil
}

// A replica killed with SIGKILL during a refresh load loses no refresh token and issues none
// twice: every client whose request died with it retries the same token on the survivor (the
// refresh_reuse_grace window makes that retry get the successor A may already have stored),
// every family still refreshes afterwards, and the survivor takes over the leader jobs.
func TestKillReplicaDuringRefreshLoad(t *testing.T) {
	e := newEnv(t, 2, "tokens:\n  refresh_reuse_grace: 30s\n")
	a, b := e.replicas[0], e.replicas[1]
	cfg, _ := e.oauth()
	br := bridgetest.NewBrowser(t, e.issuer)
	const workers = 6
	tokens := make([]string, workers)
	for i := range tokens {
		code := e.signIn(br, cfg) // one sign-in; the later codes come from its session
		st, body := token(t, e.replicas[i%2].url, codeForm2(code, cfg.RedirectURL))
		if st != http.StatusOK {
			t.Fatalf("exchange: %d %v", st, body)
		}
		tokens[i], _ = body["refresh_token"].(string)
	}

	var (
		alive    atomic.Pointer[[]*replica]
		done     atomic.Int64
		retried  atomic.Int64
		mu       sync.Mutex
		seen     = map[string]int{} // every refresh token received, by worker
		failures []string
	)
	both := []*replica{a, b}
	alive.Store(&both)
	killAt, stopAt := int64(60), int64(240)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt := tokens[w]
			for n := 0; done.Load() < stopAt; n++ {
				rs := *alive.Load()
				r := rs[(w+n)%len(rs)]
				st, next, err := refresh(r.url, rt)
				if st == 0 && err != nil { // the replica died under this request: retry on the other
					retried.Add(1)
					rs = *alive.Load()
					other := rs[0]
					if other == r && len(rs) > 1 {
						other = rs[1]
					}
					if other == r {
						continue // not yet taken out of the rotation: try again
					}
					st, next, err = refresh(other.url, rt)
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("worker %d: %d %v", w, st, err))
					mu.Unlock()
					return
				}
				mu.Lock()
				if prev, dup := seen[next]; dup {
					failures = append(failures, fmt.Sprintf("worker %d got a refresh token worker %d already had", w, prev))
				}
				seen[next] = w
				mu.Unlock()
				rt = next
				tokens[w] = rt
				done.Add(1)
			}
		}()
	}
	for done.Load() < killAt {
		time.Sleep(5 * time.Millisecond)
	}
	a.Kill()
	onlyB := []*replica{b}
	alive.Store(&onlyB)
	e.via(b)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d refreshes, %d retried after the kill; failures:\n%s", done.Load(), retried.Load(), strings.Join(failures, "\n"))
	}
	t.Logf("%d refreshes, %d requests retried on the survivor after A was killed", done.Load(), retried.Load())
	// Every family still refreshes on the survivor: no token was lost.
	for w, rt := range tokens {
		if _, _, err := refresh(b.url, rt); err != nil {
			t.Fatalf("worker %d's last refresh token no longer works: %v", w, err)
		}
	}
	// The survivor holds every leader job.
	for _, lease := range []string{"keys.rotation", "store.purge", "shadow.poller", "shadow.reconciler"} {
		deadline := time.Now().Add(30 * time.Second)
		for !leaseTaken(b.out.String(), lease) {
			if time.Now().After(deadline) {
				t.Fatalf("the survivor did not take the %s lease:\n%s", lease, b.out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func leaseTaken(log, lease string) bool {
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "lease taken") && strings.Contains(line, lease) {
			return true
		}
	}
	return false
}
