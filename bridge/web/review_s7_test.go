package web

import (
	"context"
	"errors"
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
