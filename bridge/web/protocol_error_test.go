package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// TestProtocolErrorPageHeading (review s9 Z12): a refused end_session (an unregistered
// post_logout_redirect_uri, an unknown client) is a sign-out request: its page says so in the
// heading and does not wrap sso's sentence about the sign-out in the sign-in one; a refused
// authorization request keeps the sign-in wording.
func TestProtocolErrorPageHeading(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, msg    string
		want, absent []string
	}{
		{sso.PathEndSession, "The app asked to sign you out with a request we cannot accept.",
			[]string{"This sign-out request cannot be used", "The app asked to sign you out", "You were not signed out"},
			[]string{"sign-in request", "The app that sent you here made a request"}},
		{"/sso" + sso.PathEndSession, "The app asked to sign you out with a request we cannot accept.",
			[]string{"This sign-out request cannot be used"}, []string{"sign-in request"}},
		{"/authorize", "redirect_uri is not registered",
			[]string{"This sign-in request cannot be used", "The app that sent you here made a request we cannot accept: redirect_uri"},
			[]string{"sign-out"}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			r.ProtocolErrorPage(rec, httptest.NewRequest(http.MethodGet, tc.path+"?client_id=x", nil), http.StatusBadRequest, tc.msg)
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d", rec.Code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %q in the page: %.800s", w, body)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(body, a) {
					t.Errorf("%q in the page: %.800s", a, body)
				}
			}
		})
	}
}

// TestProtocolErrorPageNoEchoContext (D4's note, session 22): the protocol error page costs what
// rendering the error page costs, no more: the renderer held a whole echo.Echo (about 2.5 KB
// live) only to build an echo context and response for each of these pages (5 allocations and
// about 420 bytes more per page: BenchmarkProtocolErrorPage). Its answer is the error page's,
// with the answer's request id as the reference.
func TestProtocolErrorPageNoEchoContext(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/authorize?client_id=x", nil)
	w := &discardWriter{h: http.Header{}}
	const msg = "redirect_uri is not registered"
	page := testing.AllocsPerRun(50, func() {
		clear(w.h)
		r.ProtocolErrorPage(w, req, http.StatusBadRequest, msg)
	})
	plain := testing.AllocsPerRun(50, func() {
		clear(w.h)
		_ = r.write(w, http.StatusBadRequest, "error", r.protocolErrorData(req.URL.Path, msg, ""))
	})
	if page > plain {
		t.Errorf("ProtocolErrorPage: %.0f allocations, the error page alone %.0f", page, plain)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Request-Id", "req-123")
	r.ProtocolErrorPage(rec, req, http.StatusBadRequest, msg)
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusBadRequest || ct != "text/html; charset=UTF-8" ||
		rec.Header().Get("Cache-Control") != "no-store" || !strings.Contains(rec.Body.String(), "req-123") {
		t.Errorf("%d %q %v: %.300s", rec.Code, ct, rec.Header(), rec.Body.String())
	}
}
