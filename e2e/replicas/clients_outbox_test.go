package replicas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// A client registered through A's admin API is delivered to by B's outbox: a member signs in to
// it on A, A dies, and the admin ends the member's sessions on B; B's back-channel logout reaches
// the new app. B learns of the app only through the clients notification (cluster.TopicClients:
// its registry refreshed, and its outbox's view of the app with it); the registry is not
// reloaded on a miss, so without the subscription B neither queues nor delivers the logout
// (session 19 O's note: the TopicClients wiring had no end-to-end test).
func TestClientRegisteredOnADeliveredByBsOutbox(t *testing.T) {
	type logout struct{ path, aud, sid string }
	var (
		mu  sync.Mutex
		got []logout
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		var claims struct {
			Aud any    `json:"aud"`
			Sid string `json:"sid"`
		}
		if parts := strings.Split(r.PostForm.Get("logout_token"), "."); len(parts) == 3 {
			raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(raw, &claims)
		}
		aud := ""
		switch a := claims.Aud.(type) {
		case string:
			aud = a
		case []any:
			if len(a) == 1 {
				aud, _ = a[0].(string)
			}
		}
		mu.Lock()
		got = append(got, logout{r.URL.Path, aud, claims.Sid})
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(recv.Close)
	e := newEnv(t, 2, "shadow:\n  timeout: 2s\n  backoff_min: 1s\n  backoff_max: 2s\n", withAdmin())
	a, b := e.replicas[0], e.replicas[1]

	const redirect = "https://journal.example.org/cb"
	status, body := adminCall(t, a, http.MethodPost, "/admin/clients", map[string]any{
		"id": "journal", "name": "Journal", "redirect_uris": []string{redirect}, "trusted": true,
		"backchannel_logout_uri": recv.URL + "/journal/bc", "allow_internal_targets": true})
	if status != http.StatusCreated {
		t.Fatalf("register the client on A: %d %s", status, body)
	}

	// Signed in to the new app on A (which registered it, and knows it at once).
	e.via(a)
	br := bridgetest.NewBrowser(t, e.issuer)
	p := br.Get(e.issuer + "/authorize?" + url.Values{"client_id": {"journal"}, "response_type": {"code"},
		"scope": {"openid"}, "redirect_uri": {redirect}, "state": {"s"}}.Encode())
	if p.Location == "" {
		p = br.Login(p, login, password)
	}
	if q := p.Redirected(t); q.Get("code") == "" {
		t.Fatalf("sign-in to the new app on A: %q (status %d)", p.Location, p.Status)
	}
	a.Kill() // from now on only B's outbox delivers

	// B knows the app once the notification reached it (its /authorize serves it).
	authorize := b.url + "/authorize?" + url.Values{"client_id": {"journal"}, "response_type": {"code"},
		"scope": {"openid"}, "redirect_uri": {redirect}, "state": {"s"}}.Encode()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		resp, err := noFollow.Get(authorize)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if servesClient(resp.StatusCode) {
			break
		}
		if time.Since(start) > 30*time.Second { // not a performance bound: never, without the subscription
			t.Fatal("B does not know the client registered on A")
		}
	}

	status, body = adminCall(t, b, http.MethodPost, "/admin/sessions/revoke", map[string]any{"login": login})
	var ended struct{ Ended int }
	if _ = json.Unmarshal([]byte(body), &ended); status != http.StatusOK || ended.Ended != 1 {
		t.Fatalf("end the member's sessions on B: %d %s", status, body)
	}
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		n := append([]logout(nil), got...)
		mu.Unlock()
		if len(n) > 0 {
			if len(n) != 1 || n[0].path != "/journal/bc" || n[0].aud != "journal" || n[0].sid == "" {
				t.Fatalf("back-channel logouts received: %+v, want one for journal at /journal/bc with a sid", n)
			}
			break
		}
		if time.Since(start) > 30*time.Second { // not a performance bound: B retries every 1-2 s
			t.Fatalf("B's outbox did not deliver the new app's back-channel logout; B's output:\n%s", b.out.String())
		}
	}
}

// adminCall sends an admin API request with a JSON body to r's admin listener (withAdmin).
func adminCall(t testing.TB, r *replica, method, path string, body any) (int, string) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, r.admin+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
