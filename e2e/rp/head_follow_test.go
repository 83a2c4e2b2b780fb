package rp

import (
	"bufio"
	"html"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

// curlHop is one response of a `curl -sIL` run: its status line's code and its fields.
type curlHop struct {
	Status int
	Header textproto.MIMEHeader
}

// curlHead runs `curl -sIL` (HEAD, redirects followed as HEAD) on target with the cookie jar,
// and returns each response of the chain; extra are more curl arguments.
func curlHead(t *testing.T, curl, jar, target string, extra ...string) []curlHop {
	t.Helper()
	args := append([]string{"-sIL", "--max-redirs", "10", "-b", jar, "-c", jar}, extra...)
	out, err := exec.Command(curl, append(args, target)...).Output()
	if err != nil {
		t.Fatalf("curl -sIL %s: %v: %s", target, err, out)
	}
	return parseCurlHeads(t, string(out))
}

// parseCurlHeads parses the responses' heads curl wrote (-I or -D), one after another.
func parseCurlHeads(t *testing.T, out string) []curlHop {
	t.Helper()
	var hops []curlHop
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(out)))
	for {
		line, err := r.ReadLine()
		if err != nil {
			break
		}
		if line == "" {
			continue
		}
		var code int
		if _, err := fmtSscanStatus(line, &code); err != nil {
			t.Fatalf("curl's output: %q is no status line: %s", line, out)
		}
		h, err := r.ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			t.Fatalf("curl's output: %v: %s", err, out)
		}
		hops = append(hops, curlHop{Status: code, Header: h})
	}
	if len(hops) == 0 {
		t.Fatalf("curl: no response: %q", out)
	}
	return hops
}

var statusLineRe = regexp.MustCompile(`^HTTP/[0-9.]+ ([0-9]{3})`)

func fmtSscanStatus(line string, code *int) (int, error) {
	m := statusLineRe.FindStringSubmatch(line)
	if m == nil {
		return 0, os.ErrInvalid
	}
	*code = int(m[1][0]-'0')*100 + int(m[1][1]-'0')*10 + int(m[1][2]-'0')
	return 1, nil
}

// curlDo runs curl once (no redirects followed) with the jar and args, and returns the status,
// the fields and the body.
func curlDo(t *testing.T, curl, jar string, args ...string) (int, textproto.MIMEHeader, string) {
	t.Helper()
	dir := t.TempDir()
	hdrs, body := filepath.Join(dir, "h"), filepath.Join(dir, "b")
	if out, err := exec.Command(curl, append([]string{"-s", "-b", jar, "-c", jar, "-D", hdrs, "-o", body}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("curl %v: %v: %s", args, err, out)
	}
	rawH, _ := os.ReadFile(hdrs)
	rawB, _ := os.ReadFile(body)
	hops := parseCurlHeads(t, string(rawH))
	return hops[len(hops)-1].Status, hops[len(hops)-1].Header, string(rawB)
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)"`)

// hidden is a page's hidden form fields.
func hidden(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

var (
	headTOTPSecretRe = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	headContinueRe   = regexp.MustCompile(`id="mfa-continue" href="([^"]+)"`)
)

// TestHeadFollowingClient (session 27 Q; session 26 D's HEAD handling, until then tested only by
// the project's own HTTP client): curl -sIL, a real client that asks HEAD and follows the
// redirects with HEAD (as link checkers and monitors do), walks the sign-in pages with its own
// cookie jar: the authorization endpoint signed out, the login page, the consent page, the
// second-factor step before an enrolment, and a continuation's step. No answer in any chain is
// a redirect without Location (RFC 9110 9.3.2, 15.4: the client would be left with a redirect
// to nowhere; the continuation's HEAD is refused 405 with Allow instead, review s26 R2-7), none
// sets a cookie, and the store records no write for any HEAD; the GET after each still does
// what it did (the request was not bound, used or passed by the HEAD).
func TestHeadFollowingClient(t *testing.T) {
	curl := rpharness.LookTool("SSOBRIDGE_CURL", "curl")
	if curl == "" {
		rpharness.Require(t, "curl is not installed")
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }))
	t.Cleanup(app.Close)
	const secret = "head-app-secret-0123456789abcdef0123456789"
	b := rpharness.StartBridge(t, []config.Client{
		{ID: "head-consent", Name: "An app that asks consent", Secret: secret, RedirectURIs: []string{app.URL + "/cb"}},
		{ID: "head-mfa", Name: "An app that needs a second factor", Secret: secret, Trusted: true, MFA: "required", RedirectURIs: []string{app.URL + "/cb"}},
	})
	st, ok := b.App.Store.(*sqlite.Store)
	if !ok {
		t.Fatalf("the bridge's store is %T, not SQLite: its writes cannot be counted", b.App.Store)
	}
	jar := filepath.Join(t.TempDir(), "jar")
	authorize := func(client, state string) string {
		return b.Issuer + "/authorize?" + url.Values{"client_id": {client}, "response_type": {"code"}, "scope": {"openid profile"},
			"redirect_uri": {app.URL + "/cb"}, "state": {state}, "nonce": {"n-" + state}}.Encode()
	}
	// settled waits until the bridge's start-up writes are done and returns the count.
	settled := func() int64 {
		n := st.WriteStats().Writes
		for range 50 {
			time.Sleep(100 * time.Millisecond)
			m := st.WriteStats().Writes
			if m == n {
				return m
			}
			n = m
		}
		t.Fatal("the store never stopped writing")
		return 0
	}
	// head asks HEAD of target with curl -sIL and checks every answer of the chain; it returns
	// the last.
	head := func(t *testing.T, target string) curlHop {
		t.Helper()
		before := settled()
		hops := curlHead(t, curl, jar, target)
		if n := st.WriteStats().Writes - before; n != 0 {
			t.Errorf("HEAD %s: %d store writes, want none", target, n)
		}
		for i, h := range hops {
			if h.Status >= 300 && h.Status < 400 && h.Header.Get("Location") == "" {
				t.Errorf("HEAD %s, answer %d of %d: %d without Location (a redirect to nowhere)", target, i+1, len(hops), h.Status)
			}
			if sc := h.Header.Values("Set-Cookie"); len(sc) > 0 {
				t.Errorf("HEAD %s, answer %d: Set-Cookie %q", target, i+1, sc)
			}
			if h.Status == http.StatusMethodNotAllowed && h.Header.Get("Allow") == "" {
				t.Errorf("HEAD %s, answer %d: 405 without Allow (RFC 9110 15.5.6)", target, i+1)
			}
		}
		last := hops[len(hops)-1]
		t.Logf("HEAD %s: %d answers, last %d", strings.TrimPrefix(target, b.Issuer), len(hops), last.Status)
		return last
	}

	var form url.Values
	t.Run("signed out: the authorization endpoint and the login page", func(t *testing.T) {
		if h := head(t, authorize("head-consent", "s1")); h.Status != http.StatusMethodNotAllowed {
			t.Errorf("HEAD /authorize: %d, want 405 (op's endpoint takes GET and POST)", h.Status)
		}
		status, _, body := curlDo(t, curl, jar, authorize("head-consent", "s1"))
		form = hidden(body)
		if status != http.StatusOK || form.Get("id") == "" || form.Get("csrf") == "" {
			t.Fatalf("GET /authorize signed out: %d, hidden fields %v; want the login form", status, form)
		}
		if h := head(t, b.Issuer+"/login?id="+url.QueryEscape(form.Get("id"))); h.Status >= 300 && h.Status < 400 {
			t.Errorf("HEAD /login: %d", h.Status)
		}
	})

	t.Run("signed in: the consent page", func(t *testing.T) {
		form.Set("login", rpharness.StaffLogin)
		form.Set("password", rpharness.StaffPassword)
		status, hdr, body := curlDo(t, curl, jar, "--data", form.Encode(), b.Issuer+"/login")
		loc := hdr.Get("Location")
		if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/consent?") {
			t.Fatalf("sign-in: %d, Location %q (%.300s); want 303 to the consent page", status, loc, body)
		}
		if h := head(t, b.Issuer+loc); h.Status != http.StatusOK {
			t.Errorf("HEAD %s: %d, want 200", loc, h.Status)
		}
		status, _, body = curlDo(t, curl, jar, b.Issuer+loc)
		if status != http.StatusOK || hidden(body).Get("id") == "" {
			t.Fatalf("GET %s after the HEAD: %d; want the consent form", loc, status)
		}
	})

	t.Run("the second-factor step: an enrolment not begun, then a continuation", func(t *testing.T) {
		// The member has no second factor yet: the app's request asks for the password again,
		// which leads to the step (an enrolment).
		status, _, body := curlDo(t, curl, jar, authorize("head-mfa", "s2"))
		f := hidden(body)
		if status != http.StatusOK || f.Get("id") == "" {
			t.Fatalf("GET /authorize for an app that needs a second factor: %d, hidden fields %v; want the login form", status, f)
		}
		f.Set("login", rpharness.StaffLogin)
		f.Set("password", rpharness.StaffPassword)
		status, hdr, body := curlDo(t, curl, jar, "--data", f.Encode(), b.Issuer+"/login")
		step := hdr.Get("Location")
		if status != http.StatusSeeOther || !strings.HasPrefix(step, "/login/mfa?") {
			t.Fatalf("the password for an app that needs a second factor: %d, Location %q (%.300s); want the step", status, step, body)
		}
		if h := head(t, b.Issuer+step); h.Status != http.StatusOK {
			t.Errorf("HEAD %s: %d, want 200", step, h.Status)
		}
		status, _, body = curlDo(t, curl, jar, b.Issuer+step)
		m := headTOTPSecretRe.FindStringSubmatch(body)
		if status != http.StatusOK || m == nil {
			t.Fatalf("GET %s after the HEAD: %d, no enrolment begun: %.400s", step, status, body)
		}
		code, err := totp.GenerateCode(m[1], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		f = hidden(body)
		post := url.Values{"csrf": {f.Get("csrf")}, "c": {f.Get("c")}, "method": {"enrol"}, "code": {code}}
		status, _, body = curlDo(t, curl, jar, "--data", post.Encode(), b.Issuer+"/login/mfa")
		next := headContinueRe.FindStringSubmatch(body)
		if next == nil {
			t.Fatalf("enrolment: %d, no continuation: %.400s", status, body)
		}
		cont := b.Issuer + html.UnescapeString(next[1])
		h := head(t, cont)
		if h.Status != http.StatusMethodNotAllowed || h.Header.Get("Allow") != "GET, POST" {
			t.Errorf("HEAD of the continuation: %d, Allow %q; want 405 with Allow: GET, POST", h.Status, h.Header.Get("Allow"))
		}
		status, hdr, _ = curlDo(t, curl, jar, cont)
		if loc := hdr.Get("Location"); status != http.StatusSeeOther || !strings.HasPrefix(loc, app.URL+"/cb?") || !strings.Contains(loc, "code=") {
			t.Fatalf("GET of the continuation after the HEAD: %d, Location %q; want 303 to the app with a code", status, loc)
		}
	})
}
