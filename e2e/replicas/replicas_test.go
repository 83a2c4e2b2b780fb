package replicas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/sso"
)

// oauth is the web client's configuration and an ID token verifier, through the load balancer.
func (e *env) oauth() (*oauth2.Config, *oidc.IDTokenVerifier) {
	e.t.Helper()
	p, err := oidc.NewProvider(context.Background(), e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	cfg := &oauth2.Config{ClientID: "web", ClientSecret: webSecret, Endpoint: p.Endpoint(), RedirectURL: rp + "/callback",
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}}
	return cfg, p.Verifier(&oidc.Config{ClientID: "web"})
}

// signIn signs the staff member in through the load balancer and returns the code.
func (e *env) signIn(b *bridgetest.Browser, cfg *oauth2.Config) string {
	e.t.Helper()
	p := b.Get(cfg.AuthCodeURL("st4te", oidc.Nonce("n0nce")))
	if p.Location == "" {
		p = b.Login(p, login, password)
	}
	q := p.Redirected(e.t)
	if q.Get("error") != "" || q.Get("code") == "" {
		e.t.Fatalf("authorize: %q (status %d)", p.Location, p.Status)
	}
	return q.Get("code")
}

// token posts a token request to one replica directly and returns the status and body.
func token(t testing.TB, base string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+sso.PathToken, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("web", webSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body
}

// Sign in on A, refresh on B (its ID token verified against B's JWKS); log out on B, and the
// session is gone on A.
func TestSignInOnARefreshOnBLogoutOnB(t *testing.T) {
	e := newEnv(t, 2, "")
	a, b := e.replicas[0], e.replicas[1]
	cfg, verify := e.oauth()
	br := bridgetest.NewBrowser(t, e.issuer)
	e.via(a)
	code := e.signIn(br, cfg)
	tok, err := cfg.Exchange(context.Background(), code)
	if err != nil {
		t.Fatalf("exchange on A: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verify.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}

	e.via(b)
	_, verifyB := e.oauth() // B's discovery and JWKS
	tok.Expiry = time.Now().Add(-time.Hour)
	nt, err := cfg.TokenSource(context.Background(), tok).Token()
	if err != nil {
		t.Fatalf("refresh on B: %v", err)
	}
	if nt.RefreshToken == tok.RefreshToken {
		t.Fatal("B did not rotate the refresh token")
	}
	nid, err := verifyB.Verify(context.Background(), nt.Extra("id_token").(string))
	if err != nil || nid.Subject != idt.Subject {
		t.Fatalf("B's ID token: %v", err)
	}

	// Log out on B.
	q := url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {rp + "/signed-out"}, "state": {"bye"}}
	out := br.Get(e.issuer + "/end_session?" + q.Encode())
	if !strings.HasPrefix(out.Location, rp+"/signed-out") {
		t.Fatalf("end_session on B: status %d location %q", out.Status, out.Location)
	}
	// A no longer knows the session: prompt=none says login_required.
	e.via(a)
	again := br.Get(cfg.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "none")))
	if again.Redirected(t).Get("error") != "login_required" {
		t.Fatalf("A after logout on B: %q", again.Location)
	}
}

// The same code, then the same refresh token, exchanged at once on both replicas: one wins.
// A code exchanged twice revokes what it issued (RFC 6749 4.1.2), on one replica as on two: the
// winner's refresh token is refused after the race.
func TestSameGrantOnBothReplicasOneWins(t *testing.T) {
	e := newEnv(t, 2, "")
	cfg, _ := e.oauth()
	for round := range 3 {
		code := e.signIn(bridgetest.NewBrowser(t, e.issuer), cfg)
		codeForm := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cfg.RedirectURL}}
		res := race(t, e, codeForm)
		won := winner(t, fmt.Sprintf("round %d: code", round), res)
		rt, _ := res[won].body["refresh_token"].(string)
		if st, body := token(t, e.replicas[1-won].url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); st != http.StatusBadRequest {
			t.Fatalf("round %d: the raced code's refresh token still works: %d %v", round, st, body)
		}

		// A refresh token from a code exchanged once, raced on both replicas.
		code = e.signIn(bridgetest.NewBrowser(t, e.issuer), cfg)
		st, body := token(t, e.replicas[round%2].url, codeForm2(code, cfg.RedirectURL))
		if st != http.StatusOK {
			t.Fatalf("round %d: exchange: %d %v", round, st, body)
		}
		rt, _ = body["refresh_token"].(string)
		res = race(t, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		winner(t, fmt.Sprintf("round %d: refresh", round), res)
	}
}

func codeForm2(code, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
}

type result struct {
	status int
	body   map[string]any
}

// race sends form to every replica at the same moment.
func race(t *testing.T, e *env, form url.Values) []result {
	t.Helper()
	out := make([]result, len(e.replicas))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range e.replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i].status, out[i].body = token(t, r.url, form)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// winner checks that exactly one replica answered 200 and the others invalid_grant.
func winner(t *testing.T, what string, res []result) int {
	t.Helper()
	won := -1
	for i, r := range res {
		switch {
		case r.status == http.StatusOK && won >= 0:
			t.Fatalf("%s: two replicas granted it", what)
		case r.status == http.StatusOK:
			won = i
		case r.body["error"] != "invalid_grant":
			t.Fatalf("%s: replica %d: %d %v, want invalid_grant", what, i, r.status, r.body)
		}
	}
	if won < 0 {
		t.Fatalf("%s: no replica granted it: %v", what, res)
	}
	return won
}

// A client added with the CLI (on A's configuration, the shared database) is served by B: its
// registry is refreshed by the change notification.
func TestClientAddedWithCLIWorksOnB(t *testing.T) {
	e := newEnv(t, 2, "")
	b := e.replicas[1]
	authorize := b.url + "/authorize?" + url.Values{"client_id": {"journal"}, "response_type": {"code"},
		"scope": {"openid"}, "redirect_uri": {"https://journal.example.org/cb"}, "state": {"s"}}.Encode()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	known := func() bool {
		resp, err := noFollow.Get(authorize)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return servesClient(resp.StatusCode)
	}
	if known() {
		t.Fatal("the client is known before it was added")
	}
	e.cli("clients", "add", "--id", "journal", "--name", "Journal", "--redirect-uri", "https://journal.example.org/cb")
	added := time.Now()
	for !known() {
		if time.Since(added) > 30*time.Second {
			t.Fatal("B does not serve the client added with the CLI")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("B served the new client %s after the CLI returned", time.Since(added).Round(time.Millisecond))
}

// servesClient tells from /authorize's status whether the replica knows the client: an unknown
// client is an error page (400); a known one gets the sign-in form at /authorize itself (200)
// or, in a browser with a session, the redirect on (302, 303).
func servesClient(status int) bool {
	return status == http.StatusOK || status == http.StatusFound || status == http.StatusSeeOther
}
