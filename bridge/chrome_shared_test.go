package bridge_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
)

// Session 27 (T): each browser test started its own Chromium (bridgetest.Chrome), seconds a
// test on a loaded machine. The package's browser tests now share one Chromium process,
// started by the first and stopped by TestMain, and each test gets its own browser context
// (Target.createBrowserContext: its own cookies, storage, cache and permissions, as a fresh
// profile had; disposed when the test ends) in a new tab, with the test's own deadline.
// The browser tests are t.Parallel (each has its own bridge, servers and browser context, and
// no package state but the mutex-held shared keys): they run two at a time (go test's
// -parallel, GOMAXPROCS) after the serial tests, while Chromium's processes and the Go side
// wait on each other.

// sharedChromium is the package's one Chromium (started on first use).
var sharedChromium struct {
	once    sync.Once
	browser context.Context // the browser's first tab, kept open; its cancel stops Chromium
	stop    func()
	dir     string
	err     error
}

// chrome is headless Chromium for one test, as bridgetest.Chrome (skipped when Chromium is not
// installed, unless SSOBRIDGE_REQUIRE_BROWSER is set): a fresh browser context in the
// package's shared Chromium, closed when the test ends, and everything done in it by timeout.
func chrome(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := bridgetest.ChromiumPath()
	if path == "" {
		if os.Getenv("SSOBRIDGE_REQUIRE_BROWSER") != "" {
			t.Fatal("chromium is required (SSOBRIDGE_REQUIRE_BROWSER is set) but not installed")
		}
		t.Skip("chromium not installed")
	}
	s := &sharedChromium
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "bridge-chromium-"); s.err != nil {
			return
		}
		// The flags of bridgetest.ChromeAt.
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
			chromedp.UserDataDir(s.dir))
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelB := chromedp.NewContext(actx)
		s.browser, s.stop = bctx, func() { cancelB(); cancelA() }
		s.err = chromedp.Do(bctx) // starts Chromium
	})
	if s.err != nil {
		t.Fatalf("start chromium: %v", s.err)
	}
	ctx, cancelC := chromedp.NewContext(s.browser, chromedp.WithNewBrowserContext())
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelT(); cancelC() })
	return ctx
}

// TestMain stops the shared Chromium (if a test started it) when the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	s := &sharedChromium
	if s.stop != nil {
		s.stop()
	}
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
	os.Exit(code)
}
