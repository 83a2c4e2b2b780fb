package rpharness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
)

// The demo member signed in by these tests: the staff user holds several roles (some with a
// space) and had one more, Member, marked for delete in the AMS (it must not reach any app); see
// Bridge.LiveRoles.
const (
	StaffLogin    = "staff"
	StaffPassword = "staff-demo-1"
	StaffEmail    = "stacy.staff@demo.example"
)

// ---- software lookup ----

// Require reports a missing piece of RP software: a skip, or a failure when
// SSOBRIDGE_REQUIRE_RP=1 (CI installs everything and must not skip silently).
func Require(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SSOBRIDGE_REQUIRE_RP") == "1" {
		t.Fatalf("%s (SSOBRIDGE_REQUIRE_RP=1: CI installs it, see .ci/install.d)", msg)
	}
	t.Skipf("%s; SSOBRIDGE_REQUIRE_RP=1 makes this a failure (.ci/install.d installs it)", msg)
}

// LookTool finds an executable: the path in the environment variable, else the first candidate
// found on PATH or as an absolute path.
func LookTool(envVar string, candidates ...string) string {
	if p := os.Getenv(envVar); p != "" {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
		return ""
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// WaitingFor skips a check that fails today only because a bridge fix has not landed yet, with
// the item named; remove the call once the fix is on main (never weaken the check instead).
func WaitingFor(t *testing.T, item string) {
	t.Helper()
	t.Skip("waiting for " + item)
}

// ---- the bridge ----

// Bridge is one bridge running in-Process over the embedded demo AMS database.
type Bridge struct {
	Issuer string
	App    *bridge.App
	Log    *Buffer // the bridge's log (debug level)
}

// StartBridge runs the bridge on an ephemeral 127.0.0.1 port with the given clients added to the
// embedded defaults. mutate may change the config further before start-up.
func StartBridge(t *testing.T, clients []config.Client, mutate ...func(*bridge.Config)) *Bridge {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := bridge.Defaults()
	cfg.Listen = ln.Addr().String()
	cfg.Issuer = "http://" + ln.Addr().String()
	cfg.DataDir = t.TempDir()
	cfg.Keys.EncryptionKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes: a test key
	cfg.Clients = append(cfg.Clients, clients...)
	for _, m := range mutate {
		m(&cfg)
	}
	logs := &Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	chk, err := cfg.Check(log)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("bridge config: %v", err)
	}
	app, err := bridge.Open(ctx, chk, log)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("start the bridge: %v", err)
	}
	srv := &http.Server{Handler: app.Server.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go app.Server.Run(ctx) // back-channel logout delivery runs here
	go srv.Serve(ln)
	DumpOnFailure(t, "bridge log", logs)
	t.Cleanup(func() {
		cancel()
		srv.Close()
		app.Close()
	})
	return &Bridge{Issuer: cfg.Issuer, App: app, Log: logs}
}

// LiveRoles returns a member's roles as the AMS directory reports them for a sign-in
// (MemberByLogin), sorted: what every app must receive in the roles claim (no allowed_roles).
// It fails the test when the member has none, so that a comparison cannot pass on two empty
// lists.
func (b *Bridge) LiveRoles(t *testing.T, login string) []string {
	t.Helper()
	m, err := b.App.Directory.MemberByLogin(context.Background(), login)
	if err != nil {
		t.Fatalf("the demo AMS does not find %s: %v", login, err)
	}
	roles := slices.Clone(m.Roles)
	slices.Sort(roles)
	if len(roles) == 0 {
		t.Fatalf("the demo AMS lists no roles for %s", login)
	}
	return roles
}

// Userinfo calls the bridge's userinfo endpoint with an access token.
func (b *Bridge) Userinfo(t *testing.T, accessToken string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	defer resp.Body.Close()
	var claims map[string]any
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &claims); err != nil {
			t.Fatalf("userinfo answer is not JSON: %v: %.300s", err, body)
		}
	}
	return resp.StatusCode, claims
}

// ---- the upstream app behind a proxy ----

// Upstream is the protected app behind a reverse proxy: it records every request's headers and
// answers with a page the browser can wait for.
type Upstream struct {
	URL  string
	srv  *httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func StartUpstream(t *testing.T) *Upstream {
	t.Helper()
	u := &Upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" { // the browser's own request: not the member's
			http.NotFound(w, r)
			return
		}
		u.mu.Lock()
		u.seen = append(u.seen, r.Clone(context.Background()))
		n := len(u.seen)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "<!doctype html><title>upstream</title><p id=upstream data-n=%d>%s</p>", n, r.URL.Path)
	}))
	t.Cleanup(u.srv.Close)
	u.URL = u.srv.URL
	return u
}

// Last returns the last request the upstream received (nil when none).
func (u *Upstream) Last() *http.Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		return nil
	}
	return u.seen[len(u.seen)-1]
}

// Count is the number of requests the upstream received.
func (u *Upstream) Count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// HeaderList splits a header's values (several lines or comma-joined) into a sorted list.
func HeaderList(h http.Header, name string) []string {
	var out []string
	for _, v := range h.Values(name) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	slices.Sort(out)
	return out
}

// ---- processes ----

// FreePort returns a 127.0.0.1 port that was free a moment ago (for software that must be told
// its port; the bridge and the upstreams keep their listeners instead).
func FreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Process is an RP server run in the foreground for one test.
type Process struct {
	cmd    *exec.Cmd
	Output *Buffer
	done   chan struct{}
	err    error
}

// StartProcess runs name with args, its output kept for failure reports, and stops it (SIGTERM,
// then SIGKILL) when the test ends.
func StartProcess(t *testing.T, label, name string, args ...string) *Process {
	t.Helper()
	return StartCmd(t, label, exec.Command(name, args...))
}

// StartCmd is StartProcess for a command the caller prepared (its Env, Dir or ExtraFiles, such
// as a listener handed over so that the RP needs no port chosen in advance); its Stdout, Stderr
// and SysProcAttr are set here.
func StartCmd(t *testing.T, label string, cmd *exec.Cmd) *Process {
	t.Helper()
	p := &Process{Output: &Buffer{}, done: make(chan struct{})}
	p.cmd = cmd
	p.cmd.Stdout, p.cmd.Stderr = p.Output, p.Output
	p.cmd.SysProcAttr = procAttr()
	// The kernel sends Pdeathsig when the thread that forked the process ends, not the test
	// binary (go.dev/issue/27505): fork from a goroutine locked to its thread, which stays
	// there, blocked in Wait, for as long as the process runs.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		t.Fatalf("start %s: %v", label, err)
	}
	DumpOnFailure(t, label+" output", p.Output)
	t.Cleanup(func() {
		// Only this Process group (the server we started and any children it forked).
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// ErrPortTaken is the answer of Ready when another process holds the server's port (a port
// from FreePort is only free until someone takes it): start over on a new port.
var ErrPortTaken = errors.New("another process holds the port")

// WaitHTTP waits until url answers (any status) or the Process exits.
func (p *Process) WaitHTTP(t *testing.T, label, url string) {
	t.Helper()
	if err := p.ready(label, url, ""); err != nil {
		t.Fatal(err)
	}
}

// WaitReady is Ready, failing the test on an error.
func (p *Process) WaitReady(t *testing.T, label, url, marker string) {
	t.Helper()
	if err := p.Ready(label, url, marker); err != nil {
		t.Fatal(err)
	}
}

// Ready waits (30 s at most) until url answers with a body containing marker, a value unique
// to this start, and the Process still runs. An answer without the marker, or the Process
// exiting while the port answers or over an address in use, is ErrPortTaken: another process
// holds the port, and an answer from it must not pass for this server's.
func (p *Process) Ready(label, url, marker string) error {
	if marker == "" {
		return errors.New("rpharness: Ready needs a marker")
	}
	return p.ready(label, url, marker)
}

func (p *Process) ready(label, url, marker string) error {
	// Each attempt is bounded: a port whose owner accepts but never answers must not hang the
	// test past its own deadline.
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	exited := func(answered bool) error {
		out := p.Output.String()
		if answered || strings.Contains(strings.ToLower(out), "address already in use") {
			return fmt.Errorf("%s exited (%v) and %s is another process's: %w\n%s", label, p.err, url, ErrPortTaken, out)
		}
		return fmt.Errorf("%s exited before serving: %v\n%s", label, p.err, out)
	}
	for {
		resp, err := client.Get(url)
		answered := false
		if err == nil {
			answered = true
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			switch {
			case rerr != nil:
				err = rerr
			case marker != "" && !strings.Contains(string(body), marker):
				select {
				case <-p.done:
					return exited(true)
				default:
				}
				return fmt.Errorf("%s answered without %s's start marker: %w (%d %.200s)", url, label, ErrPortTaken, resp.StatusCode, body)
			default:
				select {
				case <-p.done:
					return exited(true)
				default:
				}
				return nil
			}
		}
		select {
		case <-p.done:
			return exited(answered)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not answer at %s: %v\n%s", label, url, err, p.Output.String())
		}
	}
}

// ---- the browser ----

// NewChrome starts headless Chromium for one test, or skips when it is not installed
// (SSOBRIDGE_REQUIRE_BROWSER=1 or SSOBRIDGE_REQUIRE_RP=1 makes that a failure).
func NewChrome(t *testing.T) context.Context {
	t.Helper()
	path := bridgetest.ChromiumPath()
	if path == "" {
		if os.Getenv("SSOBRIDGE_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium is required (SSOBRIDGE_REQUIRE_BROWSER is set) but not installed")
		}
		Require(t, "chromium is not installed")
	}
	return bridgetest.ChromeAt(t, path, 90*time.Second)
}

// css is shorthand for a CSS selector.
type css = chromedp.CSS

// SignIn opens url, which must lead to the bridge's login page, and signs in there; it leaves
// the browser wherever the RP sends it next.
func SignIn(t *testing.T, ctx context.Context, b *Bridge, url, login, password string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(css("#login"))); err != nil {
		t.Fatalf("open %s: no login page: %v (browser at %s: %.300s)", url, err, Location(ctx), BodyText(ctx))
	}
	loc, ttl := Location(ctx), Title(ctx)
	if !strings.HasPrefix(loc, b.Issuer+"/") || !strings.Contains(ttl, "Sign in") {
		t.Fatalf("%s led to %s (%q), not the bridge's login page", url, loc, ttl)
	}
	err := chromedp.Do(ctx,
		chromedp.SendKeys(css("#login"), login),
		chromedp.SendKeys(css("#password"), password),
		chromedp.Click(css("button[type=submit].primary")),
	)
	if err != nil {
		t.Fatalf("submit the login form: %v", err)
	}
}

// WaitUpstream waits for the upstream's page in the browser and returns the request it got.
func WaitUpstream(t *testing.T, ctx context.Context, up *Upstream, what string) *http.Request {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.WaitVisible(css("#upstream"))); err != nil {
		t.Fatalf("%s: the upstream page never showed: %v (browser at %s: %.500s)", what, err, Location(ctx), BodyText(ctx))
	}
	r := up.Last()
	if r == nil {
		t.Fatalf("%s: upstream page shown but no request recorded", what)
	}
	return r
}

// Location, Title and BodyText read the current page for assertions and failure messages.
func Location(ctx context.Context) string { return quick(ctx, chromedp.Location()) }
func Title(ctx context.Context) string    { return quick(ctx, chromedp.Title()) }
func BodyText(ctx context.Context) string { return quick(ctx, chromedp.Text(css("body"))) }

func quick(ctx context.Context, a chromedp.Action[string]) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, _ := chromedp.Run(c, a)
	return v
}

// WaitJS waits up to 20 s until the JavaScript expression is true on the current page, across
// navigations (a page that navigates away while being evaluated is evaluated again on the next).
func WaitJS(ctx context.Context, expr string) error {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		c, cancelEval := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](expr))
		cancelEval()
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ErrTimeout
			}
			return fmt.Errorf("waiting for %s: %w", expr, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ---- small things ----

// Buffer is a goroutine-safe log sink.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// DumpOnFailure logs the tail of a log when the test fails.
func DumpOnFailure(t *testing.T, label string, b interface{ String() string }) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		s := b.String()
		if len(s) > 12000 {
			s = "..." + s[len(s)-12000:]
		}
		t.Logf("---- %s ----\n%s", label, s)
	})
}

func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

var ErrTimeout = errors.New("timed out")

// Eventually polls cond every 100 ms for up to 20 s (for asynchronous effects such as a
// back-channel logout; no assertion is made on how long it took).
func Eventually(cond func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return ErrTimeout
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}
