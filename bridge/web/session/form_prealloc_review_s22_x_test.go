package session

// Review s22 X, on p6 08d5aa4: parseForm allocates the body's declared Content-Length
// (up to the frame's 1 MB) before a byte of it has arrived, for any anonymous form post (it runs
// in CheckCSRF, before the token is checked). A client that declares 1 MB and sends a few bytes
// slowly holds 1 MB of the server's memory per connection for as long as the server waits for
// the body; net/http's ParseForm grows its buffer with what arrives. Drop into
// bridge/web/session.

import (
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// trickle sends a few bytes of a body declared much longer, then ends (a client that stopped
// sending: the server's read timeout ends such a body).
func trickleRequest() *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://bridge.example/login", io.NopCloser(strings.NewReader("csrf=x")))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ContentLength = 1 << 20
	return r
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestXFormParseAllocatesWhatArrives(t *testing.T) {
	netHTTP := allocated(func() { _ = trickleRequest().ParseForm() })
	ours := allocated(func() { parseForm(trickleRequest()) })
	t.Logf("6 bytes arrived of 1 MB declared: net/http's ParseForm allocated %d B, parseForm %d B", netHTTP, ours)
	if ours > 64<<10 {
		t.Fatalf("parseForm allocated %d B for a body of which 6 B arrived (net/http: %d B): the declared length is allocated up front", ours, netHTTP)
	}
}
