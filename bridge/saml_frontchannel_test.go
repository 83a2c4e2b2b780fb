package bridge_test

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// chainEnv: the bridge with two SAML SPs that have only browser single logout services and an
// OIDC app: "lms" (in the configuration file, HTTP-Redirect) and "jobs" (registered from its
// metadata, HTTP-POST only: it is sent its LogoutRequest in a posted form and answers with one).
// broken, when set, makes jobs's single logout service fail (an SP that never answers).
func chainEnv(t *testing.T) (*env, *samlSP, *samlSP, *relyingParty, *atomic.Bool) {
	t.Helper()
	lms, jobs := newSAMLSP(t), newSAMLSP(t)
	jobs.logoutBinding = crewjam.HTTPPostBinding
	rp, addClient := newRelyingParty(t)
	e := newEnv(t, addClient, func(c *bridge.Config) {
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{lms.config("lms", "Learning Portal")}
	})
	rp.connect(e)
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	jobs.start(t, e, crewjam.HTTPRedirectBinding, "jobs_token")
	broken := &atomic.Bool{}
	mux := jobs.handler.Load()
	wrapped := http.NewServeMux()
	wrapped.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if broken.Load() && r.URL.Path == "/saml/slo" {
			http.Error(w, "the job board is down", http.StatusInternalServerError)
			return
		}
		mux.ServeHTTP(w, r)
	})
	jobs.handler.Store(wrapped)
	raw, err := xml.Marshal(jobs.mw.ServiceProvider.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := saml.NewRegistry(config.SAMLConfig{}, e.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(t.Context(), config.SAMLServiceProvider{ID: "jobs", Name: "Job Board"}, raw, time.Now()); err != nil {
		t.Fatalf("register jobs SP: %v", err)
	}
	return e, lms, jobs, rp, broken
}

// TestSAMLFrontChannelBrowser (SAML profiles 4.4.3.2-4.4.3.4): a sign-out through the browser
// takes it, at the top level, to each SP of the session that has only browser single logout
// services, with a signed LogoutRequest (HTTP-Redirect: a signed query string; HTTP-POST: a
// posted form with an enveloped signature), back with the SP's LogoutResponse (RelayState: the
// chain) and on to the next, then to where the sign-out was going. Started at the bridge's
// sign-out page and by an SP's own LogoutRequest (answered at the end of the chain). An SP that
// fails to answer does not trap the member: back at the bridge, a page offers to go on.
// (Frames, as before, cannot do this once SPs are on other sites: their session cookies in a
// frame are third-party cookies.)
func TestSAMLFrontChannelBrowser(t *testing.T) {
	t.Parallel() // a browser test: with the others, after the serial tests (chrome_shared_test.go)
	e, lms, jobs, rp, broken := chainEnv(t)
	ctx := chrome(t, 3*time.Minute)
	go_ := func(u string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatal(err)
		}
	}
	signInBoth := func() {
		t.Helper()
		go_(lms.srv.URL + "/app")
		if shows(t, ctx, "#login", "#who") == "#login" {
			signInAt(t, ctx, "alice", "alice-password")
			shows(t, ctx, "#who")
		}
		go_(jobs.srv.URL + "/app")
		shows(t, ctx, "#who")
		go_(rp.srv.URL + "/start")
		shows(t, ctx, "#result")
	}
	signedOutEverywhere := func(when string) {
		t.Helper()
		for _, u := range []string{lms.srv.URL + "/app", jobs.srv.URL + "/app", rp.srv.URL + "/start"} {
			go_(u)
			if got := shows(t, ctx, "#login", "#who", "#result"); got != "#login" {
				t.Fatalf("%s: %s did not ask for a sign-in (%s)", when, u, got)
			}
		}
	}

	// 1. The sign-out page: lms (HTTP-Redirect), then jobs (HTTP-POST), then the signed-out page.
	signInBoth()
	go_(e.issuer + "/logout")
	if err := chromedp.Do(ctx, chromedp.Click(css("button[type=submit].primary"))); err != nil {
		t.Fatal(err)
	}
	reaches(t, ctx, "/logout/done")
	signedOutEverywhere("after the sign-out page")

	// 2. SP-initiated: lms's LogoutRequest ends the bridge session; jobs is visited, and lms gets
	// its LogoutResponse at the end (its home page).
	signInBoth()
	go_(lms.srv.URL + "/logout")
	shows(t, ctx, "#home")
	signedOutEverywhere("after lms's LogoutRequest")

	// 3. jobs fails: the browser is left on its error page; back at the bridge, the page says
	// jobs did not confirm and offers to go on, which ends on the signed-out page.
	signInBoth()
	broken.Store(true)
	go_(e.issuer + "/logout")
	if err := chromedp.Do(ctx, chromedp.Click(css("button[type=submit].primary"))); err != nil {
		t.Fatal(err)
	}
	var at string
	for deadline := time.Now().Add(30 * time.Second); !strings.HasPrefix(at, jobs.srv.URL+"/saml/slo"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never reached jobs's failing single logout service (at %s)", at)
		}
		at, _ = chromedp.Run(ctx, chromedp.Location())
	}
	// The back button (history.back: chromedp's NavigateBack waits for a load event that a page
	// restored from history need not send).
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`history.back(); true`)); err != nil {
		t.Fatal(err)
	}
	shows(t, ctx, "#saml-unconfirmed")
	if got := text(t, ctx, "#saml-unconfirmed"); got != "Job Board has not confirmed that you are signed out there." {
		t.Fatalf("unconfirmed page: %q", got)
	}
	if err := chromedp.Do(ctx, chromedp.Click(css("#saml-continue"))); err != nil {
		t.Fatal(err)
	}
	reaches(t, ctx, "/logout/done")
	broken.Store(false)
	go_(lms.srv.URL + "/app")
	if got := shows(t, ctx, "#login", "#who"); got != "#login" {
		t.Fatal("lms is still signed in after a chain that jobs broke")
	}
	go_(rp.srv.URL + "/start")
	if got := shows(t, ctx, "#login", "#result"); got != "#login" {
		t.Fatal("the bridge session lives on after the sign-out")
	}
}

var (
	chainRedirect = regexp.MustCompile(`id="saml-redirect" data-history="push" href="([^"]+)"`)
	chainForm     = regexp.MustCompile(`<form method="post" action="([^"]+)" id="saml-post"`)
	anyForm       = regexp.MustCompile(`<form method="post" action="([^"]+)"`)
	anyField      = regexp.MustCompile(`<input type="hidden" name="([A-Za-z]+)" value="([^"]*)"`)
)

// fields reads the hidden fields of a form page (the bridge's or crewjam's).
func fields(body string) url.Values {
	v := url.Values{}
	for _, m := range anyField.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// TestSAMLFrontChannelReplays: the chain's steps are a state machine. A LogoutResponse moves it
// on only when it is the signed answer of the current step's SP to the current step's request,
// with the chain's RelayState, once: an answer from another SP, to another request, replayed
// after the chain moved on, or replayed with the browser's earlier cookie (the store's
// compare-and-set) moves nothing, and the member is offered to go on. A cross-site HTTP-POST
// answer (no SameSite=Lax cookie) is posted again from the bridge. The signed-out page resumes an
// unfinished chain. Over HTTP, with crewjam's SPs answering.
func TestSAMLFrontChannelReplays(t *testing.T) {
	e, lms, jobs, _, _ := chainEnv(t)
	issuer := mustURL(t, e.issuer)
	c := samlClient()
	signInAtSP(t, e, c, lms)
	signInAtSP(t, e, c, jobs)
	get := func(c *http.Client, u string) (*http.Response, string) {
		t.Helper()
		return fetch(t, func() (*http.Response, error) { return c.Get(u) })
	}
	noFollow := &http.Client{Jar: c.Jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	chainCookie := func() *http.Cookie {
		for _, ck := range c.Jar.Cookies(&issuer) {
			if ck.Name == "ssobridge-slo" {
				return ck
			}
		}
		t.Fatal("no chain cookie")
		return nil
	}
	waiting := func(body, sp string) {
		t.Helper()
		if !strings.Contains(body, `id="saml-unconfirmed">`+sp+" has not confirmed") {
			t.Fatalf("want the page offering to go on without %s: %.1200s", sp, body)
		}
	}

	// Signed out at the bridge: the first step's page, lms's signed LogoutRequest.
	_, body := get(c, e.issuer+"/logout")
	f := formFields(body)
	_, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+"/logout", url.Values{"csrf": {f.Get("csrf")}, "t": {f.Get("t")}})
	})
	m := chainRedirect.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no step for lms: %.1200s", body)
	}
	toLMS := mustURL(t, html.UnescapeString(m[1]))
	relayState := toLMS.Query().Get("RelayState")
	deflated, _ := base64.StdEncoding.DecodeString(toLMS.Query().Get("SAMLRequest"))
	raw, _ := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	var lr crewjam.LogoutRequest
	if err := xml.Unmarshal(raw, &lr); err != nil || relayState == "" || toLMS.Query().Get("Signature") == "" {
		t.Fatalf("lms's LogoutRequest: %v, RelayState %q, %s", err, relayState, toLMS.String())
	}
	atStep0 := chainCookie()

	// Out of order: jobs's signed answer to lms's request, and lms's to another request.
	for _, sp := range []struct {
		sp *samlSP
		id string
	}{{jobs, lr.ID}, {lms, "id-0123456789"}} {
		u, err := sp.sp.mw.ServiceProvider.MakeRedirectLogoutResponse(sp.id, relayState)
		if err != nil {
			t.Fatal(err)
		}
		_, body = get(c, u.String())
		waiting(body, "Learning Portal")
	}
	// The signed-out page sends the member back into the unfinished chain.
	_, body = get(c, e.issuer+"/logout/done")
	waiting(body, "Learning Portal")

	// lms answers: the chain moves on to jobs (an HTTP-POST form).
	resp, _ := get(noFollow, toLMS.String())
	answer0 := resp.Header.Get("Location")
	if !strings.HasPrefix(answer0, e.issuer+saml.PathSLO+"?SAMLResponse=") {
		t.Fatalf("lms answered %d %q", resp.StatusCode, answer0)
	}
	_, body = get(c, answer0)
	m = chainForm.FindStringSubmatch(body)
	if m == nil || !strings.HasPrefix(html.UnescapeString(m[1]), jobs.srv.URL) || !strings.Contains(body, "Job Board") {
		t.Fatalf("no step for jobs after lms answered: %.1200s", body)
	}
	toJobs, jobsFields := html.UnescapeString(m[1]), fields(body)
	atStep1 := chainCookie()

	// lms's answer again: the chain has moved on; nothing moves.
	_, body = get(c, answer0)
	waiting(body, "Job Board")
	// lms's answer again with the cookie the browser had before it: the step was left already
	// (the store's compare-and-set), so it is not left twice.
	c.Jar.SetCookies(&issuer, []*http.Cookie{atStep0})
	resp, body = get(c, answer0)
	waiting(body, "Learning Portal")
	for _, ck := range resp.Cookies() {
		if ck.Name == atStep0.Name && ck.Value != "" && ck.MaxAge >= 0 {
			t.Fatal("a replayed answer saved a new chain state")
		}
	}
	c.Jar.SetCookies(&issuer, []*http.Cookie{atStep1})

	// jobs answers with HTTP-POST, cross-site (here: without the bridge's cookies): posted again
	// from the bridge, then the chain ends on the signed-out page.
	_, body = fetch(t, func() (*http.Response, error) { return c.PostForm(toJobs, jobsFields) })
	m = anyForm.FindStringSubmatch(body)
	if m == nil || html.UnescapeString(m[1]) != e.issuer+saml.PathSLO {
		t.Fatalf("jobs did not answer with a form to the bridge: %.1200s", body)
	}
	answer1 := fields(body)
	_, body = fetch(t, func() (*http.Response, error) { return (&http.Client{}).PostForm(e.issuer+saml.PathSLO, answer1) })
	m = anyForm.FindStringSubmatch(body)
	if m == nil || !strings.Contains(m[1], "resent=1") || fields(body).Get("SAMLResponse") != answer1.Get("SAMLResponse") {
		t.Fatalf("the cross-site answer was not posted again from the bridge: %.1200s", body)
	}
	resp, body = fetch(t, func() (*http.Response, error) {
		return c.PostForm(e.issuer+html.UnescapeString(m[1]), fields(body))
	})
	if resp.Request.URL.Path != "/logout/done" || !strings.Contains(body, `id="signed-out"`) {
		t.Fatalf("the chain did not end on the signed-out page: %s %.800s", resp.Request.URL, body)
	}
	// Replayed once more after the end: no chain, the signed-out page.
	resp, _ = fetch(t, func() (*http.Response, error) { return c.PostForm(e.issuer+saml.PathSLO+"?resent=1", answer1) })
	if resp.Request.URL.Path != "/logout/done" {
		t.Fatalf("a replayed answer after the end: %s", resp.Request.URL)
	}

	// Both SPs were signed out (they ask for a sign-in again).
	for _, sp := range []*samlSP{lms, jobs} {
		_, body = get(c, sp.srv.URL+"/app")
		if f := formFields(body); f.Get("csrf") == "" || f.Get("id") == "" {
			t.Fatalf("%s still signed in after the chain: %.400s", sp.srv.URL, body)
		}
	}
}
