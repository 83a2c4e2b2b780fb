package sso

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzEtagMatches: any If-None-Match value is read without panicking; one that lists the tag
// (among any others, weak or strong) or "*" matches, and one that lists neither does not.
func FuzzEtagMatches(f *testing.F) {
	const etag = `"abc"`
	for _, s := range []string{etag, `W/"abc"`, `"x", "abc"`, "*", `"abcd"`, `abc`, ``, `,,,`, ` W/"abc" ,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := etagMatches([]string{v}, etag)
		want := false
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			want = want || tag == "*" || tag == etag || tag == "W/"+etag
		}
		if got != want {
			t.Fatalf("etagMatches(%q) = %v, want %v", v, got, want)
		}
	})
}

// TestPublicDocLengthOnTheWire: a document's Content-Length reaches the client for GET and
// HEAD whatever its size: from net/http for a short body (serverCountsBelow), from the
// document otherwise; never chunked.
func TestPublicDocLengthOnTheWire(t *testing.T) {
	for _, size := range []int{100, serverCountsBelow - 2, serverCountsBelow - 1, serverCountsBelow, 5000, 70000} {
		doc := newPublicDoc([]byte(`{"pad":"`+strings.Repeat("x", size-11)+`"}`), "public, max-age=60")
		if len(doc.body) != size {
			t.Fatalf("body of %d bytes, want %d", len(doc.body), size)
		}
		srv := httptest.NewServer(http.HandlerFunc(doc.serve))
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			req, _ := http.NewRequest(method, srv.URL, nil)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.ContentLength != int64(size) || len(resp.TransferEncoding) != 0 ||
				resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s of %d bytes: %d, Content-Length %d, Transfer-Encoding %v, Content-Type %q", method, size,
					resp.StatusCode, resp.ContentLength, resp.TransferEncoding, resp.Header.Get("Content-Type"))
			}
			if want := map[bool]int{true: size, false: 0}[method == http.MethodGet]; len(body) != want {
				t.Errorf("%s of %d bytes: body of %d", method, size, len(body))
			}
		}
		srv.Close()
	}
}

// headerOnlyWriter is a ResponseWriter that keeps its header map and drops the rest.
type headerOnlyWriter struct{ h http.Header }

func (w *headerOnlyWriter) Header() http.Header         { return w.h }
func (w *headerOnlyWriter) WriteHeader(int)             {}
func (w *headerOnlyWriter) Write(p []byte) (int, error) { return len(p), nil }

// TestPublicDocAllocatesNothing: answering a document (GET, HEAD, a 304 to its entity tag; a
// body net/http counts and one it does not) allocates nothing: its header values are shared
// (newPublicDoc), so what the request allocates is net/http's alone.
func TestPublicDocAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation count")
	}
	for _, size := range []int{100, 5000} {
		doc := newPublicDoc([]byte(`{"pad":"`+strings.Repeat("x", size-11)+`"}`), "public, max-age=60")
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			for _, inm := range []string{"", doc.etag, `"other", ` + doc.etag} {
				req := httptest.NewRequest(method, "/doc", nil)
				if inm != "" {
					req.Header.Set("If-None-Match", inm)
				}
				w := &headerOnlyWriter{h: http.Header{}}
				if n := testing.AllocsPerRun(200, func() {
					clear(w.h)
					doc.serve(w, req)
				}); n != 0 {
					t.Errorf("%d bytes, %s, If-None-Match %q: %v allocations, want 0", size, method, inm, n)
				}
			}
		}
	}
}
