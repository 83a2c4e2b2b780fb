package sso_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// guardedCallback serves op's authorize callback cb for request ar as the bridge's guard hands
// it on (bridge/web/authflow Handler.Callback): with the request it has just read in the
// context (sso.WithAuthRequest).
func (h *harness) guardedCallback(cb string, ar *sso.AuthRequest) *http.Response {
	h.t.Helper()
	r := httptest.NewRequestWithContext(sso.WithAuthRequest(h.t.Context(), ar), http.MethodGet, h.issuer+cb, nil)
	w := httptest.NewRecorder()
	h.p.ServeHTTP(w, r)
	return w.Result()
}

// callbackCode signs subject in for the web client as the bridge does for a browser with a live
// SSO session (a second app, no login form): the request completed (Provider.Complete), then
// read by the callback's guard and op's callback served with it, which issues the code. It
// returns the code, its PKCE verifier and the session's id.
func (h *harness) callbackCode(subject string, scopes ...string) (code, verifier, sid string) {
	h.t.Helper()
	verifier, challenge := pkce()
	cfg := h.oauth2Config("web", webSecret, webRedirect, scopes...)
	resp := h.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
		oauth2.SetAuthURLParam("code_challenge_method", "S256")))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	id := loc.Query().Get("id")
	if resp.StatusCode != http.StatusFound || id == "" {
		h.t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
	}
	ctx := h.t.Context()
	now := time.Now()
	sid = "sess-" + id
	if err := h.store.CreateSession(ctx, &sso.Session{ID: sid, Subject: subject, AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		h.t.Fatal(err)
	}
	cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: subject, AuthTime: now, AMR: []string{"pwd"}, SessionID: sid})
	if err != nil {
		h.t.Fatal(err)
	}
	ar, err := h.store.AuthRequest(ctx, id) // the guard's read
	if err != nil {
		h.t.Fatal(err)
	}
	resp = h.guardedCallback(cb, ar)
	u, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || u.Query().Get("code") == "" {
		h.t.Fatalf("callback: %d %s %v", resp.StatusCode, resp.Header.Get("Location"), err)
	}
	return u.Query().Get("code"), verifier, sid
}

// codeIssuers are the two ways the bridge issues a code: the login form's one write
// (committedCode) and op's callback for a request completed from a live session (callbackCode).
var codeIssuers = []struct {
	name  string
	issue func(h *harness, subject string, scopes ...string) (code, verifier, sid string)
}{
	{"login form", (*harness).committedCode},
	{"SSO callback", (*harness).callbackCode},
}

// The code op's callback issues for a request the guard read (a sign-in from a live session,
// with no login form) is exchanged without reading its request back, as the login form's: the
// first exchange reads nothing; a second presentation reads it and is refused as a replay,
// revoking what the first issued.
func TestCallbackCodeExchangeReadsNothing(t *testing.T) {
	reads := &codeReads{}
	h := newHarnessWith(t, func(m *memstore.Store) sso.Store { reads.Store = m; return reads })
	code, verifier, _ := h.callbackCode("alice", "openid", "offline_access")
	status, body := h.exchange("web", code, verifier, webRedirect)
	if status != http.StatusOK || body["id_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", status, body)
	}
	if n := reads.n.Load(); n != 0 {
		t.Fatalf("the exchange of a code op's callback issued here read its request %d times, want 0", n)
	}
	status, again := h.exchange("web", code, verifier, webRedirect)
	if status != http.StatusBadRequest || again["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v", status, again)
	}
	if n := reads.n.Load(); n != 1 {
		t.Fatalf("the replay read the request %d times, want 1", n)
	}
	if !h.hooks.sawEvent("token.code_replay") {
		t.Fatal("no token.code_replay event")
	}
	status, _, _ = h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, "web:"+webSecret)
	if status != http.StatusBadRequest {
		t.Fatalf("refresh after the replay: %d, want 400 (revoked)", status)
	}
}

// Only a callback whose code was attached keeps anything: op's callback served without the
// guard's request (read by op), a second callback for a request that has its code already
// (SaveCode refuses it), and a request the guard read for another id keep nothing.
func TestCallbackCodeKeptOnlyWhenAttached(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	start := func() (id, cb string) {
		t.Helper()
		_, challenge := pkce()
		cfg := h.oauth2Config("web", webSecret, webRedirect, "openid")
		resp := h.get(cfg.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", challenge),
			oauth2.SetAuthURLParam("code_challenge_method", "S256")))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		id = loc.Query().Get("id")
		now := time.Now()
		if err := h.store.CreateSession(ctx, &sso.Session{ID: "sess-" + id, Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: "alice", AuthTime: now, SessionID: "sess-" + id})
		if err != nil {
			t.Fatal(err)
		}
		return id, cb
	}

	// Without the guard's request: op reads it; nothing kept (SaveAuthCode has no request).
	id, cb := start()
	if resp := h.get(cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if sso.PeekCommittedCode(h.p, id) != nil {
		t.Fatal("kept a request op read itself")
	}

	// A second callback for a request with its code: SaveCode refuses it, nothing kept.
	id, cb = start()
	ar, err := h.store.AuthRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if resp := h.get(cb); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if resp := h.guardedCallback(cb, ar); resp.StatusCode == http.StatusFound && resp.Header.Get("Location") != "" {
		if u, _ := url.Parse(resp.Header.Get("Location")); u.Query().Get("code") != "" {
			t.Fatalf("a second callback issued a code: %s", u)
		}
	}
	if sso.PeekCommittedCode(h.p, id) != nil {
		t.Fatal("kept a request whose code SaveCode refused")
	}

	// The guard's request is another one than the callback's id: op reads its own, nothing kept.
	id, cb = start()
	other, _ := start()
	oar, err := h.store.AuthRequest(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	if resp := h.guardedCallback(cb, oar); resp.StatusCode != http.StatusFound {
		t.Fatalf("callback: %d", resp.StatusCode)
	}
	if sso.PeekCommittedCode(h.p, id) != nil || sso.PeekCommittedCode(h.p, other) != nil {
		t.Fatal("kept a request under another request's callback")
	}
}

// The device flow's own request, completed and sent through the guarded callback to DonePath,
// is not kept: no token request exchanges its code (DeviceDone reads it).
func TestCallbackDeviceRequestNotKept(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	resp := h.post(sso.PathDeviceAuthzEP, url.Values{"scope": {"openid"}}, "tv:"+webSecret)
	userCode, _ := decodeJSON(t, resp)["user_code"].(string)
	if userCode == "" {
		t.Fatalf("device authorization: %d", resp.StatusCode)
	}
	_, login, err := h.p.DeviceLogin(ctx, userCode)
	if err != nil || login == "" {
		t.Fatalf("DeviceLogin: %q %v", login, err)
	}
	lu, _ := url.Parse(login)
	id := lu.Query().Get("id")
	now := time.Now()
	if err := h.store.CreateSession(ctx, &sso.Session{ID: "dev-" + id, Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: "alice", AuthTime: now, SessionID: "dev-" + id})
	if err != nil {
		t.Fatal(err)
	}
	ar, err := h.store.AuthRequest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	resp = h.guardedCallback(cb, ar)
	done, _ := url.Parse(resp.Header.Get("Location"))
	if done.Query().Get("code") == "" {
		t.Fatalf("callback: %d %s", resp.StatusCode, done)
	}
	if sso.PeekCommittedCode(h.p, id) != nil {
		t.Fatal("the device flow's own request was kept")
	}
	if _, ok, err := h.p.DeviceDone(ctx, done.Query()); err != nil || !ok {
		t.Fatalf("DeviceDone: %v %v", ok, err)
	}
}
