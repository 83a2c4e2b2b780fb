package bridge_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/logging"
)

// TestPublicDocsThroughTheBridge: discovery and JWKS, served from memory past op, keep what
// every response of the bridge has: their security headers (nosniff, no CSP), at log level info
// a request id and one request line with that id, the request metrics; and their own: any
// origin, Cache-Control, an ETag that a conditional GET answers with 304 (with the same
// headers).
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
			"X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*",
			// Not for a public document (web documentHeaders):
			"Content-Security-Policy": "", "X-Frame-Options": "", "Referrer-Policy": "", "Cross-Origin-Opener-Policy": "",
		} {
			if h.Get(k) != want {
				t.Errorf("%s %s: %s = %q, want %q", path, ifNoneMatch, k, h.Get(k), want)
			}
		}
		if !strings.HasPrefix(h.Get("Cache-Control"), "public, max-age=") || h.Get("ETag") == "" {
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

// TestPublicDocsHeadersPinned pins every header of discovery and JWKS as a client reads them
// off the wire, for an http and an https issuer and at log levels info and warn: GET, HEAD
// (the same headers, no body), a conditional GET answered 304 (without Content-Type and
// Content-Length) and a POST answered 405 (an RFC 6749 JSON error, not cacheable, with Allow),
// each header once, nothing else. The documents carry Access-Control-Allow-Origin *,
// Cache-Control, ETag and Content-Type, and the documents' security headers (web
// documentHeaders): nosniff and, with https, HSTS; no Content-Security-Policy, X-Frame-Options,
// Referrer-Policy or COOP. X-Request-Id is there when the request's access line is logged (at
// info: it names that line), not at warn (no line to find). Date is net/http's; Content-Length
// net/http's for a body under 2 KiB, the handler's above.
func TestPublicDocsHeadersPinned(t *testing.T) {
	for _, https := range []bool{false, true} {
		for _, level := range []slog.Level{slog.LevelInfo, slog.LevelWarn} {
			t.Run(fmt.Sprintf("https=%v %s", https, level), func(t *testing.T) { testPublicDocsHeadersPinned(t, https, level) })
		}
	}
}

func testPublicDocsHeadersPinned(t *testing.T, https bool, level slog.Level) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + ln.Addr().String()
	if https {
		issuer = "https://" + ln.Addr().String() // served over http here: the headers are the issuer's
	}
	var out lockedBuffer
	e := newEnvAt(t, ln, issuer, false, nil, envDeps{logger: logging.New(&out, logging.FormatJSON, level)})
	u, err := url.Parse(e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	// raw sends one request on the kept-alive connection and returns the status line, the
	// header lines by name (in canonical form, each listed once) and the body.
	raw := func(method, path, ifNoneMatch string) (string, map[string]string, string) {
		t.Helper()
		req := method + " " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\n"
		if ifNoneMatch != "" {
			req += "If-None-Match: " + ifNoneMatch + "\r\n"
		}
		if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
			t.Fatal(err)
		}
		status, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if line == "\r\n" {
				break
			}
			k, v, ok := strings.Cut(strings.TrimSuffix(line, "\r\n"), ": ")
			if !ok || k != http.CanonicalHeaderKey(k) {
				t.Fatalf("%s %s: header line %q", method, path, line)
			}
			if _, dup := h[k]; dup {
				t.Fatalf("%s %s: %s twice", method, path, k)
			}
			h[k] = v
		}
		body := make([]byte, 0)
		if n, err := strconv.Atoi(h["Content-Length"]); err == nil && method != http.MethodHead {
			body = make([]byte, n)
			if _, err := io.ReadFull(br, body); err != nil {
				t.Fatal(err)
			}
		}
		return strings.TrimSpace(status), h, string(body)
	}
	ridRE := regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`)
	etagRE := regexp.MustCompile(`^"[A-Za-z0-9_-]{24}"$`)
	rids := map[string]bool{}
	named := level <= slog.LevelInfo
	for _, doc := range []struct{ path, cacheControl string }{
		{"/.well-known/openid-configuration", "public, max-age=3600"},
		{"/keys", "public, max-age=300"},
	} {
		status, get, body := raw(http.MethodGet, doc.path, "")
		if status != "HTTP/1.1 200 OK" || !json.Valid([]byte(body)) || !strings.HasSuffix(body, "}\n") {
			t.Fatalf("GET %s: %s %q", doc.path, status, body)
		}
		etag := get["Etag"]
		want := map[string]string{
			"Access-Control-Allow-Origin": "*",
			"Cache-Control":               doc.cacheControl,
			"Content-Length":              strconv.Itoa(len(body)),
			"Content-Type":                "application/json",
			"Etag":                        etag,
			"X-Content-Type-Options":      "nosniff",
		}
		if https {
			want["Strict-Transport-Security"] = "max-age=31536000"
		}
		check := func(what string, got, want map[string]string) {
			t.Helper()
			rid, hasRID := got["X-Request-Id"]
			if hasRID != named || hasRID && (!ridRE.MatchString(rid) || rids[rid]) {
				t.Errorf("%s %s: X-Request-Id %q (present: %v, want %v; seen before: %v)", what, doc.path, rid, hasRID, named, rids[rid])
			}
			rids[rid] = true
			if _, err := http.ParseTime(got["Date"]); err != nil {
				t.Errorf("%s %s: Date %q", what, doc.path, got["Date"])
			}
			rest := maps.Clone(got)
			delete(rest, "X-Request-Id")
			delete(rest, "Date")
			if !maps.Equal(rest, want) {
				t.Errorf("%s %s: headers\n%v\nwant (with Date, and X-Request-Id at info)\n%v", what, doc.path, got, want)
			}
		}
		if !etagRE.MatchString(etag) {
			t.Fatalf("GET %s: Etag %q", doc.path, etag)
		}
		check("GET", get, want)
		status, head, body := raw(http.MethodHead, doc.path, "")
		if status != "HTTP/1.1 200 OK" || body != "" {
			t.Fatalf("HEAD %s: %s %q", doc.path, status, body)
		}
		check("HEAD", head, want)
		status, notModified, body := raw(http.MethodGet, doc.path, etag)
		if status != "HTTP/1.1 304 Not Modified" || body != "" {
			t.Fatalf("GET %s If-None-Match: %s %q", doc.path, status, body)
		}
		delete(want, "Content-Length")
		delete(want, "Content-Type")
		check("304", notModified, want)
		status, refused, body := raw(http.MethodPost, doc.path, "")
		var oauthErr struct{ Error string }
		if status != "HTTP/1.1 405 Method Not Allowed" || json.Unmarshal([]byte(body), &oauthErr) != nil || oauthErr.Error != "invalid_request" {
			t.Fatalf("POST %s: %s %q", doc.path, status, body)
		}
		want = map[string]string{"Allow": "GET, HEAD", "Cache-Control": "no-store", "Content-Type": "application/json",
			"Content-Length": strconv.Itoa(len(body)), "X-Content-Type-Options": "nosniff"}
		if https {
			want["Strict-Transport-Security"] = "max-age=31536000"
		}
		check("POST", refused, want)
	}
	// At info every answer names its access line; at warn none was written.
	lines := 0
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "http" {
			lines++
			if !rids[m.RequestID] {
				t.Errorf("access line %s names no answer", l)
			}
		}
	}
	if want := map[bool]int{true: 8, false: 0}[named]; lines != want {
		t.Errorf("%d access lines, want %d", lines, want)
	}
}
