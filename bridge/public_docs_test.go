package bridge_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/logging"
)

// TestPublicDocsThroughTheBridge: discovery and JWKS, served from memory past op, keep what
// every response of the bridge has: the security headers and a request id, one request line
// with that id, the request metrics; and their own: any origin, Cache-Control, an ETag that a
// conditional GET answers with 304 (with the same headers).
func TestPublicDocsThroughTheBridge(t *testing.T) {
	var out lockedBuffer
	log := logging.New(&out, logging.FormatJSON, slog.LevelInfo)
	e := newEnvDeps(t, false, nil, envDeps{logger: log}, withAdmin)
	admin := e.adminServer()
	before, _ := scrapeMetrics(t, admin.URL)
	ids := map[string]int{} // request id -> status
	get := func(path, ifNoneMatch string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.issuer+path, nil)
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		h := resp.Header
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
			"Cross-Origin-Opener-Policy": "same-origin", "Access-Control-Allow-Origin": "*",
		} {
			if h.Get(k) != want {
				t.Errorf("%s %s: %s = %q, want %q", path, ifNoneMatch, k, h.Get(k), want)
			}
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") ||
			!strings.HasPrefix(h.Get("Cache-Control"), "public, max-age=") || h.Get("ETag") == "" {
			t.Errorf("%s: headers %v", path, h)
		}
		rid := h.Get("X-Request-Id")
		if rid == "" || ids[rid] != 0 {
			t.Errorf("%s: request id %q (seen before: %v)", path, rid, ids[rid] != 0)
		}
		ids[rid] = resp.StatusCode
		return resp
	}
	for _, path := range []string{"/.well-known/openid-configuration", "/keys"} {
		full := get(path, "")
		if full.StatusCode != 200 || full.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %s", path, full.StatusCode, full.Header.Get("Content-Type"))
		}
		if r := get(path, full.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
			t.Fatalf("%s with If-None-Match: %d", path, r.StatusCode)
		}
	}
	after, _ := scrapeMetrics(t, admin.URL)
	for _, c := range []struct {
		series string
		delta  float64
	}{
		{`ssobridge_http_requests_total{code="200",method="GET",route="/.well-known/openid-configuration"}`, 1},
		{`ssobridge_http_requests_total{code="304",method="GET",route="/.well-known/openid-configuration"}`, 1},
		{`ssobridge_http_requests_total{code="200",method="GET",route="/keys"}`, 1},
		{`ssobridge_http_requests_total{code="304",method="GET",route="/keys"}`, 1},
	} {
		if got := after[c.series] - before[c.series]; got != c.delta {
			t.Errorf("%s: changed by %v, want %v", c.series, got, c.delta)
		}
	}
	lines := 0
	for _, raw := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var l struct {
			Msg       string `json:"msg"`
			Status    int    `json:"status"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(raw), &l) != nil || l.Msg != "http" {
			continue
		}
		if status, ok := ids[l.RequestID]; ok {
			lines++
			if status != l.Status {
				t.Errorf("request %s logged with %d, answered %d", l.RequestID, l.Status, status)
			}
			delete(ids, l.RequestID)
		}
	}
	if lines != 4 || len(ids) != 0 {
		t.Fatalf("%d request lines; requests without one: %v", lines, ids)
	}
}
