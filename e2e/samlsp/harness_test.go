package samlsp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"html"
	"io"
	"math/big"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

// require reports missing SP software: a skip, or a failure under SSOBRIDGE_REQUIRE_SAML_SP=1
// (CI installs it and must not skip silently).
func require(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SSOBRIDGE_REQUIRE_SAML_SP") == "1" {
		t.Fatalf("%s (SSOBRIDGE_REQUIRE_SAML_SP=1: CI installs it, see .ci/install.d/35-saml-sp.sh)", msg)
	}
	t.Skipf("%s; SSOBRIDGE_REQUIRE_SAML_SP=1 makes this a failure (.ci/install.d/35-saml-sp.sh installs it)", msg)
}

// mellonBinaries finds apache2 and its module directory with mod_auth_mellon, or skips.
func mellonBinaries(t *testing.T) (bin, modules string) {
	t.Helper()
	return rpharness.ApacheBinaries(t, require, "Debian: libapache2-mod-auth-mellon", "mod_auth_mellon.so", "mod_cgid.so")
}

// The app behind mellon: a CGI program that prints what mellon gave it, one NAME=value a line.
const appCGI = `#!/bin/sh
printf 'Content-Type: text/plain\r\nCache-Control: no-store\r\n\r\n'
echo "app $PATH_INFO"
echo "REMOTE_USER=$REMOTE_USER"
echo "AUTH_TYPE=$AUTH_TYPE"
env | grep '^MELLON_' | sort
`

// mellonConf is mod_auth_mellon's part of httpd.conf, after rpharness.ApacheHead.
var mellonConf = rpharness.ApacheConfig("httpd.conf", `
LoadModule alias_module "{{.Modules}}/mod_alias.so"
LoadModule cgid_module "{{.Modules}}/mod_cgid.so"
LoadModule auth_mellon_module "{{.Modules}}/mod_auth_mellon.so"

ScriptSock "{{.Dir}}/cgid.sock"
MellonLockFile "{{.Dir}}/mellon.lock"
MellonCacheSize 20

ScriptAlias /secure "{{.Dir}}/app.cgi"
ScriptAlias /public "{{.Dir}}/app.cgi"

<Location />
	MellonEndpointPath /mellon
	MellonSPentityId "{{.EntityID}}"
	MellonSPPrivateKeyFile "{{.Dir}}/sp.key"
	MellonSPCertFile "{{.Dir}}/sp.crt"
	MellonIdPMetadataFile "{{.Dir}}/idp.xml"
	MellonMergeEnvVars On "|"
	MellonEnvPrefix MELLON_
	MellonSessionLength 3600
	# An IdP-initiated sign-in (no RelayState) lands here.
	MellonDefaultLoginPath /secure/landed
{{.Extra}}
</Location>
<Location /secure>
	AuthType Mellon
	MellonEnable auth
	Require valid-user
</Location>
`)

// mellon is Apache httpd with mod_auth_mellon protecting /secure (and serving /public).
type mellon struct {
	URL      string // http://127.0.0.1:port
	EntityID string // its entity id: its metadata URL
	Dir      string
	*rpharness.Process
}

// spKey is mellon's signing and encryption key pair (a test key).
type spKey struct{ keyPEM, certPEM []byte }

func newSPKey(t *testing.T) spKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mellon test sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return spKey{keyPEM: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// setup is one bridge and one mellon.
type setup struct {
	b *rpharness.Bridge
	m *mellon
}

// startMellon starts a bridge and mellon on a free port, mellon with the bridge's metadata as
// its IdP's and extra as more mellon directives for <Location />. sp, when set, is the SP as
// entered in the bridge's configuration file for mellon at base with its certificate (else the
// bridge starts without SPs: see register). httpd must be told its port, free only until
// someone takes it: when another process got it first, it all starts over on another port.
func startMellon(t *testing.T, extra string, sp func(base, entityID, certPEM string) config.SAMLServiceProvider, mutate ...func(*bridge.Config)) setup {
	t.Helper()
	return startMellonEnv(t, nil, extra, sp, mutate...)
}

// faketimeLib is libfaketime's multi-threaded library, which shifts a process's clock.
const faketimeLib = "libfaketimeMT.so.1"

// findFaketime is the path of libfaketimeMT: SSOBRIDGE_LIBFAKETIME; else where dpkg says the
// libfaketime package of this machine's architecture put it (Debian and Ubuntu keep it under
// the multiarch triplet's directory, /usr/lib/<triplet>/faketime); else the usual places of
// other layouts (/usr/lib64/faketime on Fedora, /usr/lib/faketime, /usr/local/lib/faketime);
// "" when none has it.
func findFaketime() string {
	if p := os.Getenv("SSOBRIDGE_LIBFAKETIME"); p != "" {
		return p
	}
	pkg := "libfaketime"
	if arch, err := exec.Command("dpkg", "--print-architecture").Output(); err == nil {
		pkg += ":" + strings.TrimSpace(string(arch))
	}
	if out, err := exec.Command("dpkg", "-L", pkg).Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if filepath.Base(line) == faketimeLib {
				if _, err := os.Stat(line); err == nil {
					return line
				}
			}
		}
	}
	for _, dir := range []string{"/usr/lib64/faketime", "/usr/lib/faketime", "/usr/local/lib/faketime"} {
		if p := filepath.Join(dir, faketimeLib); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// startMellonSkewed is startMellon with httpd's clock shifted by offset seconds (libfaketime),
// or a skip (a failure under SSOBRIDGE_REQUIRE_SAML_SP=1) without libfaketime.
func startMellonSkewed(t *testing.T, offset int, extra string, sp func(base, entityID, certPEM string) config.SAMLServiceProvider) setup {
	t.Helper()
	faketime := findFaketime()
	if faketime == "" {
		require(t, "libfaketime is not installed (%s; Debian: libfaketime; or set SSOBRIDGE_LIBFAKETIME)", faketimeLib)
	}
	return startMellonEnv(t, []string{"LD_PRELOAD=" + faketime, fmt.Sprintf("FAKETIME=%+d", offset), "FAKETIME_DONT_FAKE_MONOTONIC=1"}, extra, sp)
}

func startMellonEnv(t *testing.T, env []string, extra string, sp func(base, entityID, certPEM string) config.SAMLServiceProvider, mutate ...func(*bridge.Config)) setup {
	t.Helper()
	bin, modules := mellonBinaries(t)
	key := newSPKey(t)
	var err error
	for range 3 {
		port := rpharness.FreePort(t)
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		entityID := base + "/mellon/metadata"
		muts := mutate
		if sp != nil {
			muts = append([]func(*bridge.Config){func(c *bridge.Config) {
				c.SAML.ServiceProviders = append(c.SAML.ServiceProviders, sp(base, entityID, string(key.certPEM)))
			}}, mutate...)
		}
		b := rpharness.StartBridge(t, nil, muts...)
		var m *mellon
		if m, err = tryMellon(t, bin, modules, port, key, get(t, b.Issuer+saml.PathMetadata), extra, env); err == nil {
			return setup{b: b, m: m}
		}
		if !errors.Is(err, rpharness.ErrPortTaken) {
			t.Fatal(err)
		}
		t.Logf("%v; starting over on another port", err)
	}
	t.Fatal(err)
	return setup{}
}

func tryMellon(t *testing.T, bin, modules string, port int, key spKey, idpMD []byte, extra string, env []string) (*mellon, error) {
	t.Helper()
	a := rpharness.NewApache(t, "ssobridge-mellon-", modules, "warn auth_mellon:info", port)
	// httpd's child (nobody under root) reads these: a test key, world-readable in a directory
	// of its own.
	for name, b := range map[string][]byte{"sp.key": key.keyPEM, "sp.crt": key.certPEM, "idp.xml": idpMD} {
		if err := os.WriteFile(filepath.Join(a.Dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(a.Dir, "app.cgi"), []byte(appCGI), 0o755); err != nil {
		t.Fatal(err)
	}
	m := &mellon{URL: a.Base, EntityID: a.Base + "/mellon/metadata", Dir: a.Dir}
	p, err := a.Start(t, "apache2 (mellon)", bin, mellonConf, map[string]any{"EntityID": m.EntityID, "Extra": extra}, env)
	if err != nil {
		return nil, err
	}
	m.Process = p
	return m, nil
}

// secondMellon starts another mellon for the bridge of s (its own key and port).
func secondMellon(t *testing.T, s setup, extra string) *mellon {
	t.Helper()
	bin, modules := mellonBinaries(t)
	key := newSPKey(t)
	var err error
	for range 3 {
		var m *mellon
		if m, err = tryMellon(t, bin, modules, rpharness.FreePort(t), key, get(t, s.b.Issuer+saml.PathMetadata), extra, nil); err == nil {
			return m
		}
		if !errors.Is(err, rpharness.ErrPortTaken) {
			t.Fatal(err)
		}
	}
	t.Fatal(err)
	return nil
}

// register registers mellon's generated metadata at the bridge as the CLI does (ssobridge saml
// register --metadata-url): the registry over the bridge's store, announcing the change.
func register(t *testing.T, b *rpharness.Bridge, m *mellon, settings config.SAMLServiceProvider, edit ...func([]byte) []byte) []byte {
	t.Helper()
	md := get(t, m.URL+"/mellon/metadata")
	for _, e := range edit {
		md = e(md)
	}
	reg, err := saml.NewRegistry(config.SAMLConfig{}, b.App.Store, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.Changed = func(ctx context.Context) error { return b.App.Cluster.Notify(ctx, cluster.TopicSAML) }
	settings.AllowInsecureSOAPSLO = true // mellon's SOAP single logout service is plain http on 127.0.0.1
	if _, err := reg.Register(t.Context(), settings, md, time.Now()); err != nil {
		t.Fatalf("register mellon's metadata: %v\n%s", err, md)
	}
	return md
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v\n%.500s", u, resp.StatusCode, err, body)
	}
	return body
}

// ---- the browser ----

// browser is a cookie-keeping HTTP client that does what the bridge's pages ask a browser to do:
// it submits the form#saml-post and follows a#saml-redirect (static/saml.js) and the signed-out
// page's a#continue (static/logout.js). Redirects are followed as browsers do.
type browser struct {
	t      *testing.T
	c      *http.Client
	visits []string // every URL requested, in order (for assertions and failure reports)
}

func newBrowser(t *testing.T) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	br := &browser{t: t}
	br.c = &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= 20 {
			return errors.New("too many redirects")
		}
		br.visits = append(br.visits, req.Method+" "+req.URL.String())
		return nil
	}}
	return br
}

// page is a page the browser shows.
type page struct {
	URL    string
	Status int
	Body   string
}

func (br *browser) do(req *http.Request) *page {
	br.t.Helper()
	br.visits = append(br.visits, req.Method+" "+req.URL.String())
	resp, err := br.c.Do(req)
	if err != nil {
		br.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		br.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return &page{URL: resp.Request.URL.String(), Status: resp.StatusCode, Body: string(body)}
}

// open loads u and goes on where the page's script would.
func (br *browser) open(u string) *page {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		br.t.Fatal(err)
	}
	return br.run(br.do(req))
}

// submit posts a form of p (values over its own) and goes on where the page's script would.
func (br *browser) submit(p *page, f *form, values url.Values) *page {
	br.t.Helper()
	v := url.Values{}
	for k, vs := range f.Values {
		v[k] = vs
	}
	for k, vs := range values {
		v[k] = vs
	}
	return br.run(br.post(resolve(br.t, p.URL, f.Action), v))
}

func (br *browser) post(u string, v url.Values) *page {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(v.Encode()))
	if err != nil {
		br.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return br.do(req)
}

// run does what static/saml.js and static/logout.js do on p, until a page asks nothing.
func (br *browser) run(p *page) *page {
	br.t.Helper()
	for range 30 {
		if f := findForm(p.Body, "saml-post"); f != nil {
			p = br.post(resolve(br.t, p.URL, f.Action), f.Values)
			continue
		}
		if href := findLink(p.Body, "saml-redirect"); href != "" {
			p = br.get(resolve(br.t, p.URL, href))
			continue
		}
		if href := findLink(p.Body, "continue"); href != "" && strings.Contains(p.Body, `id="signed-out"`) {
			p = br.get(resolve(br.t, p.URL, href))
			continue
		}
		return p
	}
	br.t.Fatalf("the pages never stopped moving on (last at %s)", p.URL)
	return nil
}

func (br *browser) get(u string) *page {
	br.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		br.t.Fatal(err)
	}
	return br.do(req)
}

// trail is the browser's requests so far, for failure messages.
func (br *browser) trail() string { return strings.Join(br.visits, "\n") }

func resolve(t *testing.T, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	return b.ResolveReference(r).String()
}

// ---- reading pages ----

var (
	tagRE  = regexp.MustCompile(`(?is)<(form|/form|input|a)\b([^>]*)>`)
	attrRE = regexp.MustCompile(`(?s)([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')`)
)

func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2] + m[3])
	}
	return out
}

// form is a form of a page: its action and the values of its named inputs.
type form struct {
	ID, Action string
	Values     url.Values
	Inputs     []string // the names of its inputs, in order
}

// forms lists the page's forms.
func forms(body string) []*form {
	var out []*form
	var cur *form
	for _, m := range tagRE.FindAllStringSubmatch(body, -1) {
		a := attrs(m[2])
		switch strings.ToLower(m[1]) {
		case "form":
			cur = &form{ID: a["id"], Action: a["action"], Values: url.Values{}}
			out = append(out, cur)
		case "/form":
			cur = nil
		case "input":
			if cur != nil && a["name"] != "" {
				cur.Values.Add(a["name"], a["value"])
				cur.Inputs = append(cur.Inputs, a["name"])
			}
		}
	}
	return out
}

func findForm(body, id string) *form {
	for _, f := range forms(body) {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// loginForm is the bridge's login form (the one with a password field), or nil.
func loginForm(body string) *form {
	for _, f := range forms(body) {
		if _, ok := f.Values["password"]; ok {
			return f
		}
	}
	return nil
}

func findLink(body, id string) string {
	for _, m := range tagRE.FindAllStringSubmatch(body, -1) {
		if strings.ToLower(m[1]) != "a" {
			continue
		}
		if a := attrs(m[2]); a["id"] == id {
			return a["href"]
		}
	}
	return ""
}

// appView is what the app behind mellon printed: its path and the variables it was given.
type appView struct {
	Path string
	Vars map[string]string
}

// app reads the app's page, or fails with where the browser is.
func (br *browser) app(p *page, what string) *appView {
	br.t.Helper()
	if p.Status != http.StatusOK || !strings.HasPrefix(p.Body, "app ") {
		br.t.Fatalf("%s: the app's page did not show: %d at %s\n%.1500s\nrequests:\n%s", what, p.Status, p.URL, p.Body, br.trail())
	}
	lines := strings.Split(strings.TrimRight(p.Body, "\n"), "\n")
	v := &appView{Path: strings.TrimPrefix(lines[0], "app "), Vars: map[string]string{}}
	for _, l := range lines[1:] {
		if k, val, ok := strings.Cut(l, "="); ok {
			v.Vars[k] = val
		}
	}
	return v
}

// signIn expects the bridge's login page at p and signs in there.
func (br *browser) signIn(p *page, issuer, login, password string) *page {
	br.t.Helper()
	f := loginForm(p.Body)
	if f == nil || !strings.HasPrefix(p.URL, issuer+"/") {
		br.t.Fatalf("expected the bridge's login page, got %d at %s\n%.1500s\nrequests:\n%s", p.Status, p.URL, p.Body, br.trail())
	}
	return br.submit(p, f, url.Values{"login": {login}, "password": {password}})
}
