package sso

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestInactiveTokenAtUserinfoIsAClientError (review s7 G5): an access token that is no longer
// live (expired, revoked, malformed, of an ended grant) at /userinfo is the client's error, not
// the server's. op logs what SetUserinfoFromToken returns at its oidc.Error's level and calls
// any other error a server_error at ERROR, one line per request, so an app polling userinfo
// after its member signed out wrote an ERROR line each time. The inactive token is now an
// access_denied error (logged at WARN, like op's other client errors) that still wraps
// errTokenInactive.
func TestInactiveTokenAtUserinfoIsAClientError(t *testing.T) {
	s := &storage{now: time.Now}
	err := s.SetUserinfoFromToken(t.Context(), new(oidc.UserInfo), "not-an-access-token", "alice", "")
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		t.Fatalf("SetUserinfoFromToken = %v (%T), want an *oidc.Error", err, err)
	}
	if oe.ErrorType == oidc.ServerError || oe.LogLevel() != slog.LevelWarn {
		t.Errorf("error type %q logged at %v, want a client error at WARN", oe.ErrorType, oe.LogLevel())
	}
	if !errors.Is(err, errTokenInactive) {
		t.Errorf("%v does not wrap errTokenInactive", err)
	}

	// What op does with it: one "request error" line at WARN, none at ERROR.
	var lines strings.Builder
	h := slog.NewTextHandler(&lines, &slog.HandlerOptions{Level: slog.LevelDebug})
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(old)
	rec := httptest.NewRecorder()
	op.WriteError(rec, httptest.NewRequest(http.MethodGet, "/userinfo", nil).WithContext(context.Background()), op.NewStatusError(err, http.StatusForbidden), nil)
	var ours []string // other tests of the package may log meanwhile: keep op's line
	for _, l := range strings.Split(lines.String(), "\n") {
		if strings.Contains(l, "request error") && strings.Contains(l, "access token inactive") {
			ours = append(ours, l)
		}
	}
	if len(ours) != 1 || !strings.Contains(ours[0], "level=WARN") {
		t.Errorf("op logged %q, want one request error line at WARN", ours)
	}
}
