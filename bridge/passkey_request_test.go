package bridge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestPasskeySignInRequestState: a passkey sign-in (bridgetest.Passkey, no browser) checks its
// sign-in request before anything is written. Its request gone (expired, removed) or finished
// meanwhile by another passkey sign-in of it in the same browser (out of order): the finish says so and
// opens no session. Before, a gone request opened a bridge session and then the login page
// said "This sign-in has expired". A finish replayed, one without a ceremony, and a
// continuation followed twice are refused; the one sign-in that goes through leaves one
// session and gets the app its code.
func TestPasskeySignInRequestState(t *testing.T) {
	e := newEnvDeps(t, false, nil, envDeps{}, localhostIssuer)
	e.issuer = strings.Replace(e.issuer, "127.0.0.1", "localhost", 1)
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	ctx := context.Background()

	// Alice signs in once with her password (her subject is remembered), signs out; her
	// passkey is registered as a registration stores one.
	first := e.browser()
	e.signIn(first, web.AuthCodeURL("s0"), "alice", "alice-password")
	sessions := func() []string {
		t.Helper()
		l, err := e.store.Sessions(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range l {
			ids = append(ids, s.ID)
		}
		return ids
	}
	all, err := e.store.Sessions(ctx, "")
	if err != nil || len(all) != 1 {
		t.Fatalf("sessions after the password sign-in: %v %v", all, err)
	}
	subject := all[0].Subject
	if _, err := e.store.EndSubjectSessions(ctx, subject); err != nil {
		t.Fatal(err)
	}
	handle, err := e.store.MFAUserHandle(ctx, subject, []byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	key := bridgetest.NewPasskey(t, handle)
	if err := e.store.AddWebAuthnCredential(ctx, &store.WebAuthnCredential{ID: key.ID(), Subject: subject, Name: "soft",
		Data: key.Credential(t), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		status int
		body   map[string]any
	}
	post := func(b *bridgetest.Browser, path string, form url.Values) answer {
		t.Helper()
		p := b.Post(e.issuer+path, form)
		var m map[string]any
		if err := json.Unmarshal([]byte(p.Body), &m); err != nil {
			t.Fatalf("%s answered %d, not JSON: %.300s", path, p.Status, p.Body)
		}
		return answer{p.Status, m}
	}
	// begin begins a passkey ceremony on a login page and answers it with the passkey.
	begin := func(b *bridgetest.Browser, fields url.Values) (ceremony, credential string) {
		t.Helper()
		begun := post(b, "/login/passkey/begin", fields)
		opts, _ := begun.body["options"].(map[string]any)
		pk, _ := opts["publicKey"].(map[string]any)
		challenge, _ := pk["challenge"].(string)
		rpID, _ := pk["rpId"].(string)
		ceremony, _ = begun.body["ceremony"].(string)
		if begun.status != http.StatusOK || ceremony == "" || challenge == "" {
			t.Fatalf("begin: %d %v", begun.status, begun.body)
		}
		return ceremony, string(key.Assert(t, rpID, e.issuer, challenge))
	}
	// start opens an app's sign-in in b and begins a passkey ceremony on its login page.
	start := func(b *bridgetest.Browser, state string) (fields url.Values, ceremony, credential string) {
		t.Helper()
		p := b.Get(web.AuthCodeURL(state))
		h := p.Hidden()
		if h.Get("csrf") == "" || h.Get("id") == "" || !strings.Contains(p.Body, `id="passkey-signin"`) {
			t.Fatalf("no login page with a passkey sign-in: %d %.300s", p.Status, p.Body)
		}
		fields = url.Values{"csrf": {h.Get("csrf")}, "id": {h.Get("id")}}
		ceremony, credential = begin(b, fields)
		return fields, ceremony, credential
	}
	finish := func(b *bridgetest.Browser, fields url.Values, ceremony, credential string) answer {
		t.Helper()
		f := url.Values{"ceremony": {ceremony}, "credential": {credential}}
		for k, v := range fields {
			f[k] = v
		}
		return post(b, "/login/passkey/finish", f)
	}
	refused := func(what string, a answer, status int, says string) {
		t.Helper()
		msg, _ := a.body["error"].(string)
		if a.status != status || !strings.Contains(msg, says) || a.body["next"] != nil {
			t.Errorf("%s: %d %v, want %d saying %q", what, a.status, a.body, status, says)
		}
		if l := sessions(); len(l) != 0 {
			t.Errorf("%s: %d live sessions, want none", what, len(l))
		}
	}

	// The request gone (expired or removed) before the finish.
	b := e.browser()
	fields, cer, cred := start(b, "s1")
	if err := e.store.DeleteAuthRequest(ctx, fields.Get("id")); err != nil {
		t.Fatal(err)
	}
	refused("request gone", finish(b, fields, cer, cred), http.StatusBadRequest, "This sign-in has expired")

	// A finish without a ceremony, and one whose ceremony was used: refused, nothing written.
	b = e.browser()
	fields, cer, cred = start(b, "s2")
	refused("no ceremony", finish(b, fields, "", cred), http.StatusBadRequest, "expired")

	// The request finished by another passkey sign-in of it in the same browser (a second
	// ceremony, finished and followed), then the first ceremony's finish (out of order):
	// refused as finished, no second session.
	cer2, cred2 := begin(b, fields)
	other := finish(b, fields, cer2, cred2)
	otherNext, _ := other.body["next"].(string)
	if other.status != http.StatusOK || otherNext == "" {
		t.Fatalf("the second ceremony: %d %v", other.status, other.body)
	}
	if q := b.Get(e.issuer + otherNext).Redirected(t); q.Get("code") == "" {
		t.Fatalf("the second ceremony's sign-in: %v", q)
	}
	live := sessions()
	if len(live) != 1 {
		t.Fatalf("%d sessions after the second ceremony's sign-in", len(live))
	}
	// The first tab's page carries the CSRF token of before the sign-in (the session's start
	// changed it): refused as an expired page. With the browser's current token (a page loaded
	// since), refused as finished.
	a := finish(b, fields, cer, cred)
	if msg, _ := a.body["error"].(string); a.status != http.StatusForbidden || !strings.Contains(msg, "expired") {
		t.Errorf("finish with the page's old token: %d %v, want 403", a.status, a.body)
	}
	current := b.Get(e.issuer + "/logout").Hidden().Get("csrf")
	if current == "" || current == fields.Get("csrf") {
		t.Fatalf("no new CSRF token on the sign-out page: %q", current)
	}
	fields.Set("csrf", current)
	usedRows := func() int {
		return countRows(t, e, "SELECT COUNT(*) FROM audit_log WHERE event = 'authorize.request_used'")
	}
	used := usedRows()
	a = finish(b, fields, cer, cred)
	if msg, _ := a.body["error"].(string); a.status != http.StatusConflict || !strings.Contains(msg, "finished already") {
		t.Errorf("finish after the request was finished: %d %v, want 409 saying it was finished already", a.status, a.body)
	}
	// Audited as the login page's "already used" is (authflow.RequestState, end-of-session
	// review s13 RV2-3; before, the JSON answer wrote no row).
	if n := usedRows() - used; n != 1 {
		t.Errorf("the out-of-order finish wrote %d authorize.request_used rows, want 1", n)
	}
	if l := sessions(); len(l) != 1 || l[0] != live[0] {
		t.Errorf("sessions after the out-of-order finish: %v, want only %v", l, live)
	}
	if _, err := e.store.EndSubjectSessions(ctx, subject); err != nil {
		t.Fatal(err)
	}

	// The sign-in that goes through: no session until the continuation is followed, then one,
	// and the app gets its code. A replayed finish and a second follow are refused.
	b = e.browser()
	fields, cer, cred = start(b, "s3")
	ok := finish(b, fields, cer, cred)
	next, _ := ok.body["next"].(string)
	if ok.status != http.StatusOK || next == "" {
		t.Fatalf("passkey sign-in: %d %v", ok.status, ok.body)
	}
	refused("replayed finish", finish(b, fields, cer, cred), http.StatusBadRequest, "expired")
	p := b.Get(e.issuer + next)
	if q := p.Redirected(t); q.Get("code") == "" || q.Get("state") != "s3" {
		t.Fatalf("follow: %v", q)
	}
	if l := sessions(); len(l) != 1 {
		t.Fatalf("%d sessions after the passkey sign-in, want 1", len(l))
	}
	if p := b.Get(e.issuer + next); p.Status < 400 || p.Location != "" {
		t.Errorf("the continuation followed again: %d %s", p.Status, p.Location)
	}
	if l := sessions(); len(l) != 1 {
		t.Errorf("%d sessions after the second follow, want 1", len(l))
	}
}
