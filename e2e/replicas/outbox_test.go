package replicas

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// logoutReceiver is an app's back-channel logout endpoint: it records the sid of every logout
// token delivered, with the time, and answers slowly so that deliveries are in flight.
type logoutReceiver struct {
	mu    sync.Mutex
	got   map[string][]time.Time
	count int
	delay time.Duration
}

func (l *logoutReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	parts := strings.Split(r.PostForm.Get("logout_token"), ".")
	var claims struct {
		Sid string `json:"sid"`
	}
	if len(parts) == 3 {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		_ = json.Unmarshal(raw, &claims)
	}
	if claims.Sid == "" {
		http.Error(w, "no sid", http.StatusBadRequest)
		return
	}
	time.Sleep(l.delay)
	l.mu.Lock()
	l.got[claims.Sid] = append(l.got[claims.Sid], time.Now())
	l.count++
	l.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (l *logoutReceiver) snapshot() (distinct, deliveries int, dups map[string][]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	dups = map[string][]time.Time{}
	for sid, ts := range l.got {
		if len(ts) > 1 {
			dups[sid] = append([]time.Time(nil), ts...)
		}
	}
	return len(l.got), l.count, dups
}

// A replica killed with SIGKILL while it delivers the outbox loses no event: the survivor
// delivers every back-channel logout, each one once, except an event the dead replica was
// delivering when it died, which is delivered again only after its lease ran out.
func TestKillReplicaDuringOutboxDelivery(t *testing.T) {
	recv := &logoutReceiver{got: map[string][]time.Time{}, delay: 300 * time.Millisecond}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	// A delivery's lease is 2*timeout+30s (bridge/outbox): 34 s here.
	const lease = 34 * time.Second
	e := newEnv(t, 2, "shadow:\n  timeout: 2s\n  backoff_min: 1s\n  backoff_max: 2s\n", withBackchannel(srv.URL+"/bc"))
	a, b := e.replicas[0], e.replicas[1]
	cfg, _ := e.oauth()
	const sessions = 16
	for i := range sessions {
		e.via(e.replicas[i%2])
		br := bridgetest.NewBrowser(t, e.issuer)
		code := e.signIn(br, cfg)
		st, body := token(t, e.replicas[i%2].url, codeForm2(code, cfg.RedirectURL))
		if st != http.StatusOK {
			t.Fatalf("exchange: %d %v", st, body)
		}
		q := url.Values{"id_token_hint": {body["id_token"].(string)}, "post_logout_redirect_uri": {rp + "/signed-out"}}
		if out := br.Get(e.issuer + "/end_session?" + q.Encode()); !strings.HasPrefix(out.Location, rp+"/signed-out") {
			t.Fatalf("end_session: %d %q", out.Status, out.Location)
		}
	}
	// Kill A while deliveries are under way.
	for {
		if _, n, _ := recv.snapshot(); n >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Kill()
	e.via(b)
	deadline := time.Now().Add(3 * lease)
	for {
		distinct, _, _ := recv.snapshot()
		if distinct == sessions {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d back-channel logouts delivered after A was killed", distinct, sessions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	distinct, deliveries, dups := recv.snapshot()
	t.Logf("%d events, %d deliveries, %d delivered twice (in flight at A when it was killed)", distinct, deliveries, len(dups))
	for sid, ts := range dups {
		if len(ts) > 2 {
			t.Fatalf("event for sid %s delivered %d times", sid, len(ts))
		}
		// Delivery takes recv.delay: the second attempt began after the first was answered.
		if gap := ts[1].Sub(ts[0]); gap < lease-2*recv.delay-time.Second {
			t.Fatalf("event for sid %s delivered again %s after the first delivery, inside its %s lease", sid, gap, lease)
		}
	}
}
