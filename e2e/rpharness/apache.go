package rpharness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
)

// Apache httpd as a relying party or service provider (mod_auth_openidc in e2e/proxies,
// mod_auth_mellon in e2e/samlsp): what the two harnesses share. Each adds its module's
// directives after ApacheHead.

// ApacheBinaries finds apache2 (SSOBRIDGE_APACHE2, apache2, /usr/sbin/apache2 or httpd) and its
// module directory (SSOBRIDGE_APACHE_MODULES, default /usr/lib/apache2/modules) holding each of
// mods; what is missing goes to missing (a skip, or a failure in CI), its message ending with
// hint (the Debian package).
func ApacheBinaries(t *testing.T, missing func(t *testing.T, format string, args ...any), hint string, mods ...string) (bin, modules string) {
	t.Helper()
	bin = LookTool("SSOBRIDGE_APACHE2", "apache2", "/usr/sbin/apache2", "httpd")
	if bin == "" {
		missing(t, "Apache httpd is not installed (SSOBRIDGE_APACHE2, apache2 or httpd)")
	}
	modules = os.Getenv("SSOBRIDGE_APACHE_MODULES")
	if modules == "" {
		modules = "/usr/lib/apache2/modules"
	}
	for _, m := range append([]string{"mod_mpm_event.so"}, mods...) {
		if _, err := os.Stat(filepath.Join(modules, m)); err != nil {
			missing(t, "%s is not installed in %s (SSOBRIDGE_APACHE_MODULES; %s)", m, modules, hint)
		}
	}
	return bin, modules
}

// ApacheHead begins both harnesses' httpd.conf: the server on 127.0.0.1:{{.Port}} with its
// files in {{.Dir}}, logs to the process's output ({{.LogLevel}}, one "access" line a request),
// the core modules from {{.Modules}} (the harness loads its own after), one small child, the
// child as nobody when the tests run as root ({{.Root}}), and the readiness probe answering
// {{.Ready}}. ApacheConfig parses it with the harness's part.
const ApacheHead = `
ServerRoot "{{.Dir}}"
Listen 127.0.0.1:{{.Port}}
ServerName 127.0.0.1:{{.Port}}
PidFile "{{.Dir}}/httpd.pid"
DefaultRuntimeDir "{{.Dir}}"
ErrorLog /dev/stderr
LogLevel {{.LogLevel}}
LogFormat "access %m %U%q %>s" short
CustomLog /dev/stdout short

LoadModule mpm_event_module "{{.Modules}}/mod_mpm_event.so"
LoadModule authn_core_module "{{.Modules}}/mod_authn_core.so"
LoadModule authz_core_module "{{.Modules}}/mod_authz_core.so"
LoadModule authz_user_module "{{.Modules}}/mod_authz_user.so"

# One small child: a test needs no more, and CI machines are shared.
StartServers 1
ServerLimit 1
ThreadsPerChild 16
MinSpareThreads 1
MaxSpareThreads 32
MaxRequestWorkers 16
{{if .Root}}
# CI runs as root, and httpd refuses to serve as root: its child drops to nobody.
User nobody
Group nogroup
{{end}}
# The harness's readiness probe: an answer carrying this start's marker comes from this httpd.
<Location /ready>
	ErrorDocument 404 "ready {{.Ready}}"
</Location>
`

// ApacheConfig is the template of an httpd.conf: ApacheHead, then the harness's own part.
func ApacheConfig(name, own string) *template.Template {
	return template.Must(template.New(name).Parse(ApacheHead + own))
}

// Apache is one httpd about to start: its directory and the values ApacheHead needs.
type Apache struct {
	Dir, Modules, LogLevel string
	Port                   int
	// Base is http://127.0.0.1:Port; Ready the marker its readiness probe answers.
	Base, Ready string
}

// NewApache makes httpd's directory (not t.TempDir: under root, httpd's child runs as nobody
// and must reach its files; removed when the test ends) for a server on port.
func NewApache(t *testing.T, prefix, modules, logLevel string, port int) *Apache {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &Apache{Dir: dir, Modules: modules, LogLevel: logLevel, Port: port,
		Base: "http://127.0.0.1:" + strconv.Itoa(port), Ready: RandomHex(8)}
}

// Start writes conf, executed with ApacheHead's values and the harness's own (data), to
// httpd.conf (readable by the owner only: the parent reads it before dropping privileges, and it
// may hold secrets), runs bin -DFOREGROUND with env added to the environment, and waits until it
// serves; ErrPortTaken when another process holds the port.
func (a *Apache) Start(t *testing.T, label, bin string, conf *template.Template, data map[string]any, env []string) (*Process, error) {
	t.Helper()
	all := map[string]any{"Dir": a.Dir, "Port": a.Port, "Modules": a.Modules, "LogLevel": a.LogLevel,
		"Root": os.Geteuid() == 0, "Ready": a.Ready}
	for k, v := range data {
		all[k] = v
	}
	var b strings.Builder
	if err := conf.Execute(&b, all); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(a.Dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-DFOREGROUND", "-d", a.Dir, "-f", confPath)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	p := StartCmd(t, label, cmd)
	if err := p.Ready(label, a.Base+"/ready", "ready "+a.Ready); err != nil {
		return nil, err
	}
	return p, nil
}
