package rp

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/e2e/rpharness"
)

// nodePackages finds node and the pinned npm packages in ./node, or skips (fails under
// SSOBRIDGE_REQUIRE_RP=1). It returns node's path and the package directory. An installed
// version that differs from the pin in package.json counts as missing (run npm ci again).
func nodePackages(t *testing.T) (node, dir string) {
	t.Helper()
	node = rpharness.LookTool("SSOBRIDGE_NODE", "node", "nodejs")
	if node == "" {
		rpharness.Require(t, "node is not installed (SSOBRIDGE_NODE or PATH)")
	}
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		t.Fatalf("node/package.json: %v", err)
	}
	for name, pin := range pkg.Dependencies {
		var got struct {
			Version string `json:"version"`
		}
		raw, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
		if err == nil {
			err = json.Unmarshal(raw, &got)
		}
		if err != nil {
			rpharness.Require(t, "npm package %s is not installed: run `npm ci` in e2e/rp/node", name)
		}
		if got.Version != pin {
			rpharness.Require(t, "npm package %s is %s, pinned %s: run `npm ci` in e2e/rp/node", name, got.Version, pin)
		}
	}
	return node, dir
}

// listen opens an ephemeral 127.0.0.1 port for an RP and returns it with its origin.
func listen(t *testing.T) (*net.TCPListener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.(*net.TCPListener), "http://" + ln.Addr().String()
}

// startNode runs a script of ./node with env added, serving on ln (handed over as fd 3, so no
// port is chosen in advance), and waits until it answers at origin+"/healthz".
func startNode(t *testing.T, label, node, dir, script string, ln *net.TCPListener, origin string, env ...string) *rpharness.Process {
	t.Helper()
	f, err := ln.File() // a duplicate: the child keeps listening when ln is closed here
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(node, filepath.Join(dir, script))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.ExtraFiles = []*os.File{f}
	p := rpharness.StartCmd(t, label, cmd)
	ln.Close()
	p.WaitHTTP(t, label, origin+"/healthz")
	return p
}

// callbackReport is the report an openid-client program shows on its callback page: its error
// is set when it had no sign-in to finish.
type callbackReport interface{ callbackError() string }

// readReport waits for the callback page of an openid-client program in the browser (who: "the
// RP", "the app") and decodes its report into r; the page's #error (the program failed) or the
// report's own error fails the test.
func readReport(t *testing.T, ctx context.Context, who string, r callbackReport) {
	t.Helper()
	if err := rpharness.WaitJS(ctx, `!!document.querySelector("#result, #error")`); err != nil {
		t.Fatalf("%s's callback page never showed: %v (browser at %s: %.500s)", who, err, rpharness.Location(ctx), rpharness.BodyText(ctx))
	}
	text := rpharness.BodyText(ctx)
	if failed, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector("#error")`)); failed {
		t.Fatalf("%s failed at its callback: %s", who, text)
	}
	if err := json.Unmarshal([]byte(text), r); err != nil {
		t.Fatalf("%s's report is not JSON: %v: %.500s", who, err, text)
	}
	if e := r.callbackError(); e != "" {
		t.Fatalf("%s: %s", who, e)
	}
}
