package replicas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
)

const (
	webSecret = "web-secret-0123456789abcdef0123456789"
	rp        = "http://127.0.0.1:9/app"
	login     = "staff"
	password  = "staff-demo-1"
	kek       = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" // 32 zero bytes: a test key
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the ssobridge binary once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ssobridge-replicas-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ssobridge")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/ssobridge/ssobridge/cmd/ssobridge").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// lockedBuffer is a replica's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replica is one ssobridge serve process.
type replica struct {
	name  string
	url   string // http://127.0.0.1:port
	admin string // the admin listener (metrics, health), with withAdmin
	cmd   *exec.Cmd
	out   *lockedBuffer
	done  chan struct{}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (r *replica) Kill() {
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// env is a set of replicas behind a load balancer, on one database.
type env struct {
	t        testing.TB
	dsn      string
	admin    bool   // the replicas have an admin listener each (withAdmin)
	config   string // the YAML every replica and the CLI read
	issuer   string // the load balancer
	replicas []*replica
	target   atomic.Pointer[replica] // where the load balancer sends requests now
}

// newEnv starts n replicas on a fresh database; extraYAML is appended to their configuration.
func newEnv(t testing.TB, n int, extraYAML string, opts ...envOption) *env {
	t.Helper()
	var o envOptions
	for _, f := range opts {
		f(&o)
	}
	dsn := pgtest.NewDatabase(t)
	if o.dsn != nil {
		dsn = o.dsn(dsn)
	}
	bin := binary(t)
	e := &env{t: t, dsn: dsn, admin: o.admin}
	if o.admin {
		// The CLI reads the same file: it opens no listener, but the reference must resolve.
		t.Setenv(adminListenEnv, "127.0.0.1:0")
		extraYAML += "admin:\n  listen: ${" + adminListenEnv + "}\n  token: " + adminToken + "\n"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.issuer = "http://" + ln.Addr().String()
	lb := &http.Server{Handler: &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		u, _ := url.Parse(e.target.Load().url)
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host // the issuer's host, as a load balancer keeps it
	}}}
	go lb.Serve(ln)
	t.Cleanup(func() { lb.Close() })
	dir := t.TempDir()
	e.config = filepath.Join(dir, "ssobridge.yaml")
	yaml := fmt.Sprintf(`issuer: %s
store:
  type: postgres
  dsn: %q
%skeys:
  encryption_key: %s
clients:
  - id: web
    name: Member Portal
    secret: %s
    trusted: true
    redirect_uris: [%s/callback]
    post_logout_redirect_uris: [%s/signed-out]
%s%s`, e.issuer, dsn, o.storeYAML, kek, webSecret, rp, rp, o.clientYAML, extraYAML)
	if err := os.WriteFile(e.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		e.replicas = append(e.replicas, e.start(t, bin, string(rune('A'+i)), filepath.Join(dir, fmt.Sprintf("data%d", i))))
	}
	e.target.Store(e.replicas[0])
	return e
}

// envOptions change the replicas' configuration.
type envOptions struct {
	clientYAML string // more lines of the web client
	storeYAML  string // more lines of the store section
	dsn        func(string) string
	admin      bool
}

// withDSN has the replicas (and the CLI) reach the database through another DSN, e.g. a proxy.
func withDSN(f func(dsn string) string) envOption {
	return func(o *envOptions) { o.dsn = f }
}

// withStoreYAML adds lines (indented, each ending in a newline) to the store section.
func withStoreYAML(lines string) envOption {
	return func(o *envOptions) { o.storeYAML += lines }
}

// withAdmin gives each replica an admin listener of its own (replica.admin: /metrics).
func withAdmin() envOption {
	return func(o *envOptions) { o.admin = true }
}

const (
	adminListenEnv = "SSOBRIDGE_TEST_ADMIN_LISTEN"
	adminToken     = "admin-token-0123456789abcdef0123456789"
)

type envOption func(*envOptions)

// withBackchannel gives the web client a back-channel logout URI.
func withBackchannel(uri string) envOption {
	return func(o *envOptions) {
		o.clientYAML += "    backchannel_logout_uri: " + uri + "\n    allow_internal_targets: true\n"
	}
}

// freeAddrs returns n distinct free loopback addresses. It holds every listener open until all
// are picked: a port closed and picked again at once can come back from the kernel, which once
// handed a replica the same port for its listener and its admin listener.
func freeAddrs(t testing.TB, n int) []string {
	t.Helper()
	addrs := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

// start runs one replica and waits until it serves discovery.
func (e *env) start(t testing.TB, bin, name, dataDir string) *replica {
	t.Helper()
	addrs := freeAddrs(t, 2)
	addr := addrs[0]
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "serve", "--config", e.config, "--data-dir", dataDir, "--listen", addr)
	cmd.Stdout, cmd.Stderr = out, out
	adminAddr := ""
	if e.admin {
		adminAddr = addrs[1]
		cmd.Env = append(os.Environ(), adminListenEnv+"="+adminAddr)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if runtime.GOOS == "linux" {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{name: name, url: "http://" + addr, cmd: cmd, out: out, done: make(chan struct{})}
	if adminAddr != "" {
		r.admin = "http://" + adminAddr
	}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
			r.Kill()
		}
		if t.Failed() {
			t.Logf("replica %s output:\n%s", name, out.String())
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(r.url + "/.well-known/openid-configuration")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		select {
		case <-r.done:
			t.Fatalf("replica %s exited at start-up:\n%s", name, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not serving within 90s:\n%s", name, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// via sends the load balancer's requests to r from now on.
func (e *env) via(r *replica) { e.target.Store(r) }

// cli runs an ssobridge command against the replicas' configuration and database.
func (e *env) cli(args ...string) string {
	e.t.Helper()
	cmd := exec.Command(binary(e.t), append(args, "--config", e.config, "--data-dir", e.t.TempDir())...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("ssobridge %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// decodeJSON reads a JSON response body into v.
func decodeJSON(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}
