package bridge_test

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	scimtarget "github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/wire"
)

// hookSink accepts webhooks and keeps the event types of those signed with testWebhookSecret.
// Anything else is refused and not recorded: the sink listens on an ephemeral port of a shared
// machine, where a request meant for an earlier owner of the port can arrive (seen: a
// back-channel logout form from another bridge instance, recorded as an event with an empty
// type before the real ones). A real receiver verifies the signature; so does this one.
type hookSink struct {
	mu    sync.Mutex
	types []string
	srv   *httptest.Server
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{}
	key, err := wire.ParseSecret(testWebhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
		want := wire.Sign(key, r.Header.Get("webhook-id"), time.Unix(ts, 0), b)
		if err != nil || r.Header.Get("webhook-id") == "" || !hmac.Equal([]byte(r.Header.Get("webhook-signature")), []byte(want)) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var ev struct {
			Type string `json:"type"`
		}
		json.Unmarshal(b, &ev)
		h.mu.Lock()
		h.types = append(h.types, ev.Type)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestHookSinkIgnoresStrayRequests: a request that is not a webhook signed with the test
// secret (another process's back-channel logout reaching a reused port) is not an event.
func TestHookSinkIgnoresStrayRequests(t *testing.T) {
	sink := newHookSink(t)
	resp, err := http.Post(sink.srv.URL, "application/x-www-form-urlencoded", strings.NewReader("logout_token=x.y.z"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.types) != 0 {
		t.Fatalf("stray request recorded as events %q", sink.types)
	}
}

var testWebhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("bridge-test-webhook-secret-01234"))

// TestLapsedMemberDeactivated: at a client whose provisioning target requires a current
// membership, a member who lapses in the AMS is deactivated there by the poller: the shadow
// user becomes inactive, a user.deactivated event goes out, and their refresh token stops
// working at once (it is revoked, not just refused at the next status check).
func TestLapsedMemberDeactivated(t *testing.T) {
	sink := newHookSink(t)
	e := newEnv(t, func(c *bridge.Config) {
		c.Provisioning = map[string]provisioning.Target{"web": {RequireCurrent: true, AllowInternal: true,
			Settings: &webhook.Config{URL: sink.srv.URL, Secret: testWebhookSecret}}}
	})
	ctx := t.Context()
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v", err)
	}
	svc := e.bridge.Shadow()
	if n, _ := svc.DeliverDue(ctx); n != 1 {
		t.Fatalf("first sign-in queued %d events", n)
	}

	e.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -2, 0) })
	if n, err := svc.Poll(ctx); err != nil || n != 1 {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	svc.DeliverDue(ctx)
	sink.mu.Lock()
	types := strings.Join(sink.types, ",")
	sink.mu.Unlock()
	if types != wire.TypeCreated+","+wire.TypeDeactivated {
		t.Fatalf("webhook events: %s", types)
	}
	users, _ := e.store.ShadowUsers(ctx, "web", "")
	if len(users) != 1 || users[0].Active {
		t.Fatalf("shadow users: %+v", users)
	}
	tok.Expiry = time.Now().Add(-time.Hour)
	if _, err := cfg.TokenSource(e.ctx(), tok).Token(); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
		t.Fatalf("refresh after lapse: %v", err)
	}
	rts, _ := e.store.ListRefreshTokens(ctx, users[0].Subject, "web")
	if len(rts) != 0 {
		t.Fatalf("%d live refresh tokens after deactivation", len(rts))
	}
}

// TestDisabledMemberLoggedOutEverywhere: a member disabled in the AMS loses every session;
// each app of those sessions with a backchannel_logout_uri gets a logout token.
func TestDisabledMemberLoggedOutEverywhere(t *testing.T) {
	got := make(chan url.Values, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		// Only back-channel logouts at this path: a stray request reaching the ephemeral port
		// (see hookSink) is not one.
		if r.URL.Path != "/bcl" || r.PostForm.Get("logout_token") == "" {
			http.NotFound(w, r)
			return
		}
		got <- r.PostForm
	}))
	defer rp.Close()
	e := newEnv(t, func(c *bridge.Config) {
		c.Clients[1].BackchannelLogoutURI = rp.URL + "/bcl" // "other"
		c.Clients[1].AllowInternalTargets = true            // rp is on 127.0.0.1
	})
	ctx := t.Context()
	b := e.browser()
	cfg, _ := e.oauth("other", otherSecret, e.rp+"/other", oauth2.AuthStyleInHeader)
	code := e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password")
	if _, err := cfg.Exchange(e.ctx(), code); err != nil {
		t.Fatal(err)
	}
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	if _, err := e.bridge.Shadow().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.bridge.Shadow().DeliverDue(ctx); n != 1 {
		t.Fatalf("delivered %d logout tokens", n)
	}
	form := <-got
	parts := strings.Split(form.Get("logout_token"), ".")
	if len(parts) != 3 {
		t.Fatalf("logout token: %v", form)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(hdr), `"ES256"`) || !strings.Contains(string(hdr), `"logout+jwt"`) {
		t.Fatalf("logout token header %s (client alg ES256)", hdr)
	}
	if l, _ := e.store.Sessions(ctx, ""); len(l) != 0 {
		t.Fatalf("%d live sessions after the member was disabled", len(l))
	}
	if ev, _ := e.store.AuditEvents(ctx, store.AuditFilter{}); len(ev) == 0 {
		t.Fatal("no audit")
	}
}

// TestFrontChannelLogoutPage: signing out renders the apps' front-channel logout iframes with
// iss and sid, a Continue link, and a frame-src for those origins on that page only; discovery
// advertises back- and front-channel logout.
func TestFrontChannelLogoutPage(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		c.Clients[0].FrontchannelLogoutURI = "https://portal.example.org/fcl?x=1" // "web"
		c.Clients[0].RedirectURIs = append(c.Clients[0].RedirectURIs, "https://portal.example.org/callback")
	})
	b := e.browser()
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	e.signIn(b, cfg.AuthCodeURL("s"), "alice", "alice-password")
	sessions, _ := e.store.Sessions(t.Context(), "")
	if len(sessions) != 1 {
		t.Fatalf("%d sessions", len(sessions))
	}
	page := b.Get(e.issuer + "/logout")
	if csp := page.Header.Get("Content-Security-Policy"); strings.Contains(csp, "frame-src") {
		t.Fatalf("frame-src on the confirmation page: %s", csp)
	}
	out := b.Post(e.issuer+"/logout", url.Values{"csrf": {page.Hidden().Get("csrf")}, "t": {""}})
	want := "https://portal.example.org/fcl?iss=" + url.QueryEscape(e.issuer) + "&amp;sid=" + e.bridge.Provider().PublicSID(sessions[0].ID) + "&amp;x=1"
	if out.Status != http.StatusOK || !strings.Contains(out.Body, `src="`+want+`"`) || !strings.Contains(out.Body, `id="continue"`) {
		t.Fatalf("logout page: status %d, want iframe %s in\n%s", out.Status, want, out.Body)
	}
	if csp := out.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-src https://portal.example.org;") {
		t.Fatalf("CSP of the logout page: %s", csp)
	}
	resp, err := http.Get(e.issuer + sso.PathDiscovery)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	json.NewDecoder(resp.Body).Decode(&d)
	for _, k := range []string{"backchannel_logout_supported", "backchannel_logout_session_supported",
		"frontchannel_logout_supported", "frontchannel_logout_session_supported"} {
		if d[k] != true {
			t.Fatalf("discovery %s = %v", k, d[k])
		}
	}
}

// TestProvisioningConfigErrors: mistakes name the field.
func TestProvisioningConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		target provisioning.Target
		want   string
	}{
		{provisioning.Target{}, "provisioning.web: set exactly one of scim or webhook"},
		{provisioning.Target{Settings: &scimtarget.Config{URL: "http://scim.example.org", Token: "x"}}, "provisioning.web.scim.url:"},
		{provisioning.Target{Settings: &scimtarget.Config{URL: "https://scim.example.org"}}, "provisioning.web.scim.token:"},
		{provisioning.Target{Settings: &scimtarget.Config{URL: "https://scim.example.org", Token: "x", Update: "merge"}}, "provisioning.web.scim.update:"},
		{provisioning.Target{Settings: &webhook.Config{URL: "https://h.example.org", Secret: "plain"}}, "provisioning.web.webhook.secret:"},
	} {
		cfg := bridge.Defaults()
		cfg.Provisioning = map[string]provisioning.Target{"web": tc.target}
		if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.target, err, tc.want)
		}
	}
	cfg := bridge.Defaults()
	cfg.Shadow.PollInterval = time.Millisecond
	if err := cfg.Validate(); err == nil || !strings.HasPrefix(err.Error(), "shadow.poll_interval:") {
		t.Errorf("Validate(poll 1ms) = %v", err)
	}
}
