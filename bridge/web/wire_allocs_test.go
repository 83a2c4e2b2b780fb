package web

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/metrics"
)

// TestDocumentAllocationsOnTheWire: a document served through the router, net/http and a
// real connection (the server's timeouts as cmd/ssobridge sets them) allocates no more per
// request than the plain net/http floor (scripts/loadtest/floor: one header, the same body),
// over http and over https (HSTS). All of a document's allocations are net/http's (18 for
// this request with Go 1.26: the request, its request line, URL, header map and values and
// context; the response; the handler's header map (its group) and the map's clone when the
// status is written; the background read); the frame's own (the request ids, a block of 63
// at a time) round to nothing, and the floor makes one more (Header.Set's value slice). A
// document's header map holds 8 entries over https (the frame's 4 and the handler's 4): a
// 9th would make Go's map a table, in the handler's map and in its clone (5 allocations and
// about 1.1 KB more per response), and fail this test. Counted as the process's allocations
// over 2,000 keep-alive requests from a client that allocates nothing.
func TestDocumentAllocationsOnTheWire(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations over 2,000 requests")
	}
	body := []byte(`{"pad":"` + strings.Repeat("x", 2053) + `"}`) // as large as the discovery document (2,055 bytes with its newline)
	// (Over net/http's 2 KiB buffer, sso's publicDoc sets Content-Length in its header map, a
	// 9th entry over https that docHeaders leaves out: 23 allocations a request, not 19.)
	floor := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	// The headers of sso's public documents (publicDoc), set as it sets them.
	docHeaders := []headerValue{{"Access-Control-Allow-Origin", []string{"*"}}, {"Cache-Control", []string{"public, max-age=3600"}},
		{"Etag", []string{`"aEfMd2L88c_5y6yRKXoEb63_"`}}, {"Content-Type", []string{"application/json"}}}
	doc := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for _, v := range docHeaders {
			h[v.name] = v.value
		}
		_, _ = w.Write(body)
	})
	router := func(https bool) http.Handler {
		return New(RouterConfig{HTTPS: https, Logger: logging.New(io.Discard, logging.FormatJSON, slog.LevelWarn),
			Requests: metrics.New(metrics.BuildInfo{}), Documents: map[string]http.Handler{"/doc": doc}})
	}
	base := wireAllocs(t, floor)
	for _, https := range []bool{false, true} {
		got := wireAllocs(t, router(https))
		t.Logf("allocations per request: floor %.2f, document (https %v) %.2f", base, https, got)
		if got > base+0.25 {
			t.Errorf("a document (https %v) allocates %.2f per request on the wire, the floor %.2f", https, got, base)
		}
	}
}

// wireAllocs serves h with the server's timeouts on 127.0.0.1 and returns the process's
// allocations per GET /doc over one keep-alive connection.
func wireAllocs(t *testing.T, h http.Handler) float64 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw := []byte("GET /doc HTTP/1.1\r\nHost: " + ln.Addr().String() + "\r\nUser-Agent: wrk\r\n\r\n")
	// The first answer, read as a client would, gives the length of every answer (the same
	// headers, a request id and a date of fixed lengths).
	cr := &countingReader{r: conn}
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(cr), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	answer := make([]byte, cr.n)
	get := func() {
		if _, err := conn.Write(raw); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(conn, answer); err != nil {
			t.Fatal(err)
		}
	}
	for range 200 {
		get()
	}
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		get()
	}
	runtime.ReadMemStats(&after)
	if !strings.HasPrefix(string(answer), "HTTP/1.1 200 OK\r\n") {
		t.Fatalf("answer %q", answer)
	}
	return float64(after.Mallocs-before.Mallocs) / n
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}
