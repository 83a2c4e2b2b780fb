package bridgetest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is the headless browser the tests drive: $SSOBRIDGE_CHROMIUM, else the first of
// chromium, chromium-browser and google-chrome on PATH; "" when there is none.
func ChromiumPath() string {
	if p := os.Getenv("SSOBRIDGE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Chrome starts headless Chromium for one test, bounded by timeout, or skips when it is not
// installed (CI installs it and sets SSOBRIDGE_REQUIRE_BROWSER=1, which turns the skip into a
// failure).
func Chrome(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := ChromiumPath()
	if path == "" {
		if os.Getenv("SSOBRIDGE_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium is required (SSOBRIDGE_REQUIRE_BROWSER is set) but not installed")
		}
		t.Skip("chromium not installed")
	}
	return ChromeAt(t, path, timeout)
}

// ChromeAt starts the Chromium at path with the flags this machine needs (no sandbox as root,
// no GPU, no QUIC and no background connections: the network is closed but for loopback) and a
// fresh profile; everything stops when the test ends.
func ChromeAt(t *testing.T, path string, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	return ctx
}
