package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/static"
)

// TestStaticServesFilesOnly (review s23 X2-4): /static/ answers its files, by their exact names,
// and nothing else. The directory itself was an HTML listing of the files (http.FileServer), and
// every answer, a 404 (text/plain) among them, carried Cache-Control: public, max-age=3600, set
// before FileServer answered: a proxy could keep a 404 for an hour. Now anything under /static/
// that is not a file is the site's 404 page, not cacheable; a file's answer (200, 304) is
// cacheable, and HEAD answers as GET without the body.
func TestStaticServesFilesOnly(t *testing.T) {
	srv := httptest.NewServer(newTestRouter(t, false))
	t.Cleanup(srv.Close)
	style, err := static.FS.ReadFile("style.css")
	if err != nil {
		t.Fatal(err)
	}
	do := func(t *testing.T, method, path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	for _, path := range []string{"/static/", "/static/nope.css", "/static/embed.go", "/static//style.css",
		"/static/./style.css", "/static/STYLE.CSS", "/static/style.css/"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+path, func(t *testing.T) {
				res, body := do(t, method, path)
				if res.StatusCode != http.StatusNotFound {
					t.Fatalf("status %d, want 404; body %.200q", res.StatusCode, body)
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want the site's page (text/html)", ct)
				}
				if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q, want no-store", cc)
				}
				if res.Header.Get("Etag") != "" {
					t.Errorf("Etag %q on a 404", res.Header.Get("Etag"))
				}
				switch method {
				case http.MethodGet:
					if !strings.Contains(body, "There is no page at this address.") || strings.Contains(body, `href="logout.js"`) {
						t.Errorf("body is not the site's 404 page (or lists the files): %.300q", body)
					}
				case http.MethodHead:
					if body != "" {
						t.Errorf("HEAD body %q", body)
					}
				}
			})
		}
	}
	t.Run("file", func(t *testing.T) {
		get, body := do(t, http.MethodGet, "/static/style.css")
		if get.StatusCode != http.StatusOK || body != string(style) {
			t.Fatalf("GET: %d, %d bytes (want 200, %d)", get.StatusCode, len(body), len(style))
		}
		if cc := get.Header.Get("Cache-Control"); cc != staticCacheControl {
			t.Errorf("GET Cache-Control %q", cc)
		}
		if ct := get.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("GET Content-Type %q", ct)
		}
		etag := get.Header.Get("Etag")
		if etag == "" {
			t.Fatal("no Etag")
		}
		head, hbody := do(t, http.MethodHead, "/static/style.css")
		if head.StatusCode != http.StatusOK || hbody != "" {
			t.Fatalf("HEAD: %d, body %q", head.StatusCode, hbody)
		}
		for _, k := range []string{"Cache-Control", "Content-Type", "Etag", "Content-Security-Policy", "X-Content-Type-Options"} {
			if head.Header.Get(k) != get.Header.Get(k) {
				t.Errorf("HEAD %s %q, GET's %q", k, head.Header.Get(k), get.Header.Get(k))
			}
		}
		if cl := head.Header.Get("Content-Length"); cl != strconv.Itoa(len(style)) {
			t.Errorf("HEAD Content-Length %q, want %d", cl, len(style))
		}
		again, abody := do(t, http.MethodGet, "/static/style.css", "If-None-Match", etag)
		if again.StatusCode != http.StatusNotModified || abody != "" {
			t.Fatalf("If-None-Match: %d, body %q", again.StatusCode, abody)
		}
		if cc := again.Header.Get("Cache-Control"); cc != staticCacheControl {
			t.Errorf("304 Cache-Control %q", cc)
		}
		bad, _ := do(t, http.MethodGet, "/static/style.css", "Range", "bytes=999999-")
		if bad.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("unsatisfiable range: %d", bad.StatusCode)
		}
		if cc := bad.Header.Get("Cache-Control"); strings.Contains(cc, "public") {
			t.Errorf("416 Cache-Control %q", cc)
		}
	})
}
