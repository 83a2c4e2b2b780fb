package replicas

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// PostgreSQL goes away while two replicas serve (a proxy between them and the server severs
// every connection and refuses new ones), and comes back. While it is away: the token endpoint
// answers RFC 6749 JSON, 503 temporarily_unavailable with Retry-After, on both replicas; the
// sign-in page is a "try again" page with 503; /readyz is not ready and /healthz is; nothing
// panics and the goroutines do not pile up. Afterwards: the refresh token that failed during the
// outage still works (a rotation that could not be written left the old token valid), the
// leases are taken again, the change notifications are heard again (a client added with the CLI
// is served by B), and the readiness comes back.
func TestPostgresDownWhileReplicasServe(t *testing.T) {
	testOutage(t, outageRefused)
}

// PostgreSQL stops answering while two replicas serve, without refusing anything: the proxy
// between them and the server stops carrying bytes on the open connections and accepts new ones
// but never answers them (a server that froze, a network that drops packets silently). The
// replicas must behave as when it is down (TestPostgresDownWhileReplicasServe): answer 503 and
// "try again" instead of waiting, say each failure once, and recover when it answers again. The
// replicas bound each wait with store.connect_timeout and store.statement_timeout (1 s here);
// the test's own bound on each request (outageAnswerWithin) is only a safety net against a
// request that would wait for ever.
func TestPostgresHangsWhileReplicasServe(t *testing.T) {
	testOutage(t, outageHangs)
}

type outageMode int

const (
	outageRefused outageMode = iota // connections severed and refused
	outageHangs                     // connections held open, nothing answered
)

// outageAnswerWithin is how long the test waits for any answer from a replica during the
// outage before failing it as a hang: far above the replicas' timeouts (a safety net, not a
// measure of speed).
const outageAnswerWithin = 20 * time.Second

func testOutage(t *testing.T, mode outageMode) {
	px := newPGProxy(t)
	opts := []envOption{withDSN(px.dsn), withAdmin()}
	tries := 5
	if mode == outageHangs {
		opts = append(opts, withStoreYAML("  connect_timeout: 1s\n  statement_timeout: 1s\n"))
		tries = 2 // each waits for the statement timeout
	}
	e := newEnv(t, 2, "", opts...)
	a, b := e.replicas[0], e.replicas[1]
	cfg, _ := e.oauth()
	code := e.signIn(bridgetest.NewBrowser(t, e.issuer), cfg)
	st, body := token(t, a.url, codeForm2(code, cfg.RedirectURL))
	if st != http.StatusOK {
		t.Fatalf("exchange: %d %v", st, body)
	}
	rt, _ := body["refresh_token"].(string)
	for _, r := range e.replicas {
		waitReady(t, r, true)
	}
	// A sign-in page opened before the outage, posted during it.
	pending := bridgetest.NewBrowser(t, e.issuer)
	pending.Client.Timeout = outageAnswerWithin
	loginPage := pending.Get(cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce")))
	if loginPage.Status != http.StatusOK || loginPage.Location != "" {
		t.Fatalf("sign-in page: %d %q", loginPage.Status, loginPage.Location)
	}
	before := map[*replica]int{a: goroutines(t, a), b: goroutines(t, b)}
	mark := map[*replica]int{a: len(a.out.String()), b: len(b.out.String())}

	what := "is away"
	if mode == outageHangs {
		what = "hangs"
		px.hang()
	} else {
		px.cut()
	}
	cutAt := time.Now()
	for range tries {
		for _, r := range e.replicas {
			resp, body := tokenResponse(t, r.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
			if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" ||
				resp.Header.Get("Retry-After") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("refresh on %s while PostgreSQL %s: %d %v (Retry-After %q)", r.name, what, resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
		}
	}
	for _, r := range e.replicas {
		e.via(r)
		// A member opening an app: the sign-in request cannot be stored, and the app hears so
		// at its redirect_uri (RFC 6749 4.1.2.1 temporarily_unavailable), with its state.
		br := bridgetest.NewBrowser(t, e.issuer)
		br.Client.Timeout = outageAnswerWithin
		asked := time.Now()
		q := br.Get(cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce"))).Redirected(t)
		// Logged, not asserted: the store calls of one request share one statement timeout.
		t.Logf("authorize on %s while PostgreSQL %s: answered in %s", r.name, what, time.Since(asked).Round(10*time.Millisecond))
		if q.Get("error") != "temporarily_unavailable" || q.Get("state") != "st4te" || q.Get("iss") != e.issuer {
			t.Fatalf("authorize on %s while PostgreSQL %s: %v", r.name, what, q)
		}
		// A member posting the sign-in form: a page that says to try again, 503.
		p := pending.Login(loginPage, login, password)
		if p.Status != http.StatusServiceUnavailable || !strings.Contains(p.Body, "try again") || p.Header.Get("Retry-After") == "" {
			t.Fatalf("sign-in posted on %s while PostgreSQL %s: %d %q\n%s", r.name, what, p.Status, p.Location, p.Body)
		}
	}
	e.via(a)
	for _, r := range e.replicas {
		waitReady(t, r, false)
		if status, _ := get(t, r.url+"/healthz"); status != http.StatusOK {
			t.Fatalf("/healthz on %s while PostgreSQL %s: %d", r.name, what, status)
		}
	}
	for _, r := range e.replicas {
		select {
		case <-r.done:
			t.Fatalf("replica %s exited while PostgreSQL %s:\n%s", r.name, what, r.out.String())
		default:
		}
		if n := goroutines(t, r); n > before[r]+50 {
			t.Fatalf("replica %s: %d goroutines while PostgreSQL %s, %d before", r.name, n, what, before[r])
		}
	}

	// The background loops (leases, notifications, the outbox) retry every second: keep the
	// outage long enough for several retries, then check that each failure was said once.
	for time.Since(cutAt) < 4*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	for _, r := range e.replicas {
		checkOutageLog(t, r.name, r.out.String()[mark[r]:], tries)
	}
	for _, r := range e.replicas {
		t.Logf("replica %s: %d goroutines before the outage, %d during it", r.name, before[r], goroutines(t, r))
	}

	px.restore()
	restored := time.Now()
	for _, r := range e.replicas {
		waitReady(t, r, true)
	}
	t.Logf("both replicas ready %s after PostgreSQL came back", time.Since(restored).Round(time.Millisecond))
	// The refresh token the outage refused still works, once.
	st, body = token(t, b.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if st != http.StatusOK {
		t.Fatalf("the refresh token refused during the outage, after it: %d %v", st, body)
	}
	next, _ := body["refresh_token"].(string)
	if st, body := token(t, a.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next}}); st != http.StatusOK {
		t.Fatalf("its successor: %d %v", st, body)
	}
	// The sign-in page opened before the outage works after it.
	if q := pending.Login(loginPage, login, password).Redirected(t); q.Get("code") == "" {
		t.Fatalf("the sign-in started before the outage, after it: %v", q)
	}
	// Every leader lease is held again.
	for _, lease := range []string{"keys.rotation", "store.purge", "shadow.poller", "shadow.reconciler"} {
		deadline := time.Now().Add(60 * time.Second)
		for !leaseTaken(a.out.String()[mark[a]:], lease) && !leaseTaken(b.out.String()[mark[b]:], lease) {
			if time.Now().After(deadline) {
				t.Fatalf("no replica took the %s lease again:\nA:\n%s\nB:\n%s", lease, a.out.String()[mark[a]:], b.out.String()[mark[b]:])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The change notifications are heard again: a client added with the CLI is served by B.
	authorize := b.url + "/authorize?" + url.Values{"client_id": {"journal"}, "response_type": {"code"},
		"scope": {"openid"}, "redirect_uri": {"https://journal.example.org/cb"}, "state": {"s"}}.Encode()
	e.cli("clients", "add", "--id", "journal", "--name", "Journal", "--redirect-uri", "https://journal.example.org/cb")
	added := time.Now()
	for {
		if status, _ := getNoFollow(t, authorize); servesClient(status) {
			break
		}
		if time.Since(added) > 30*time.Second {
			t.Fatal("B does not serve the client added with the CLI after the outage")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("B served the client added after the outage %s after the CLI returned", time.Since(added).Round(time.Millisecond))
	for _, r := range e.replicas {
		out := r.out.String()[mark[r]:]
		if strings.Contains(out, "panic") {
			t.Fatalf("replica %s panicked:\n%s", r.name, out)
		}
		t.Logf("replica %s during and after the outage:\n%s", r.name, out)
	}
}

var (
	logMsg   = regexp.MustCompile(`level=(\w+) msg=("(?:[^"\\]|\\.)*"|\S+)`)
	logLease = regexp.MustCompile(` lease=(\S+)`)
)

// checkOutageLog checks a replica's log lines during the outage: one warning per refused
// request (next to its access line), and each background job's failure said once, not at
// every retry.
func checkOutageLog(t *testing.T, name, out string, tries int) {
	t.Helper()
	counts := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		m := logMsg.FindStringSubmatch(line)
		if m == nil || m[1] == "INFO" || m[1] == "DEBUG" || m[2] == "http" {
			continue // not a problem reported, or the request's access line
		}
		key := m[2]
		if l := logLease.FindStringSubmatch(line); l != nil {
			key += " " + l[1]
		}
		counts[key]++
	}
	want := map[string]int{
		`"refresh_token grant: the store is unavailable"`: tries,
		`"request failed: the store is unavailable"`:      1, // the sign-in form
		`"auth request redirect"`:                         1, // op's line for the app told temporarily_unavailable
	}
	for key, n := range counts {
		w, ok := want[key]
		if !ok {
			w = 1
		}
		if n > w {
			t.Errorf("replica %s logged %q %d times during the outage, want at most %d:\n%s", name, key, n, w, out)
		}
	}
	for key, w := range want {
		if counts[key] != w {
			t.Errorf("replica %s logged %q %d times during the outage, want %d", name, key, counts[key], w)
		}
	}
}

// tokenResponse posts a token request to one replica and returns the response and its JSON.
func tokenResponse(t testing.TB, base string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+sso.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", webSecret)
	resp, err := (&http.Client{Timeout: outageAnswerWithin}).Do(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = decodeJSON(resp, &body)
	return resp, body
}

// get fetches u, following redirects, and returns the status and body.
func get(t testing.TB, u string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: outageAnswerWithin}).Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getNoFollow(t testing.TB, u string) (int, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits until r's /readyz says ready (or not).
func waitReady(t testing.TB, r *replica, ready bool) {
	t.Helper()
	want := http.StatusServiceUnavailable
	if ready {
		want = http.StatusOK
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body := get(t, r.url+"/readyz")
		if status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s: /readyz %d, want %d: %s", r.name, status, want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goroutines reads go_goroutines from r's metrics (the admin listener).
func goroutines(t testing.TB, r *replica) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.admin+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("metrics of %s: %v", r.name, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatalf("metrics of %s: no go_goroutines", r.name)
	return 0
}
