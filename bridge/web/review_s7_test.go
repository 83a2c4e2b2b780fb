package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/logging"
)

// TestClientGoneKeepsRealFailures (review s7 G3): a request whose client went away is not the
// bridge's failure when it failed because of that (its error is the cancellation), but a real
// failure (a store error, a bug) of a request whose client hung up meanwhile is still an error
// line: otherwise a caller hides the failures it provokes by closing the connection before the
// answer.
func TestClientGoneKeepsRealFailures(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		err    error
		logged bool // a "request failed" error line
	}{
		{"real failure", errors.New("sqlite: disk I/O error"), true},
		{"cancelled", context.Canceled, false},
		{"wrapped cancellation", errors.Join(errors.New("load auth request"), context.Canceled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged safeBuffer
			e := NewRouter(RouterConfig{Renderer: r, Logger: logging.New(&logged, logging.FormatJSON, slog.LevelInfo)})
			ctx, cancel := context.WithCancel(context.Background())
			e.GET("/fail", func(echo.Context) error {
				cancel() // the client hangs up while the handler works
				return tc.err
			})
			req := httptest.NewRequest(http.MethodGet, "/fail", nil).WithContext(ctx)
			e.ServeHTTP(httptest.NewRecorder(), req)
			got := strings.Contains(logged.String(), `"msg":"request failed"`) && strings.Contains(logged.String(), `"level":"ERROR"`)
			if got != tc.logged {
				t.Fatalf("request failed logged as an error: %v, want %v:\n%s", got, tc.logged, logged.String())
			}
		})
	}
}

// countingBody is a request body of n bytes of a form field that counts what was read of it.
type countingBody struct {
	n, read int
	prefix  string
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.read >= b.n {
		return 0, io.EOF
	}
	k := min(len(p), b.n-b.read)
	for i := range k {
		if j := b.read + i; j < len(b.prefix) {
			p[i] = b.prefix[j]
		} else {
			p[i] = 'a'
		}
	}
	b.read += k
	return k, nil
}

func (b *countingBody) Close() error { return nil }

// TestRequestBodyBounded (review s7 G4): the page forms (the sign-in form, consent, the second
// factor, sign-out, the account page, the SAML sign-in) read their fields with echo's FormValue,
// which parses whatever body comes, before any check (the CSRF token is one of the fields): up
// to 10 MB of a urlencoded body into memory, and a multipart body 32 MB into memory and the rest
// into temporary files, for any anonymous caller. Every request body is now cut at
// MaxRequestBody: a larger declared one is answered 413 unread, a larger streamed one stops
// being read there.
func TestRequestBodyBounded(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association"})
	if err != nil {
		t.Fatal(err)
	}
	e := NewRouter(RouterConfig{Renderer: r, Logger: slog.New(slog.DiscardHandler)})
	e.POST("/form", func(c echo.Context) error { return c.String(http.StatusOK, fmt.Sprint(len(c.FormValue("csrf")))) })
	const size = 12 << 20
	for _, tc := range []struct {
		name, contentType, prefix string
		declared                  bool
	}{
		{"urlencoded, length declared", "application/x-www-form-urlencoded", "csrf=", true},
		{"urlencoded, chunked", "application/x-www-form-urlencoded", "csrf=", false},
		{"multipart, chunked", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{n: size, prefix: tc.prefix}
			req := httptest.NewRequest(http.MethodPost, "/form", body)
			req.Header.Set("Content-Type", tc.contentType)
			req.ContentLength = -1
			if tc.declared {
				req.ContentLength = size
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if body.read > MaxRequestBody+64<<10 {
				t.Fatalf("read %d bytes of an anonymous form post (status %d), want at most about %d", body.read, rec.Code, MaxRequestBody)
			}
			if tc.declared && rec.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("declared %d bytes: status %d, want 413", size, rec.Code)
			}
		})
	}
	// A form of ordinary size is read as before.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("csrf=abc"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != "3" {
		t.Fatalf("small form: %d %q", rec.Code, rec.Body.String())
	}
}
