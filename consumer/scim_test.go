package consumer_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/consumer"
)

// TestSCIMHandlerBearerChallenge: RFC 6750 section 3: a 401 of a resource server protected by
// a bearer token carries WWW-Authenticate with the Bearer scheme; with no credentials no error
// code (3.1), with a wrong token error="invalid_token". The scheme name is case-insensitive
// (RFC 7235 2.1), so "bearer <token>" is accepted.
func TestSCIMHandlerBearerChallenge(t *testing.T) {
	o := newOP(t)
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	c, err := consumer.New(ctx, consumer.Config{Issuer: o.srv.URL, ClientID: "app", DB: db, SCIMToken: "scim-secret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := c.SCIMHandler()
	for _, tc := range []struct {
		name, authz string
		status      int
		challenge   string // "" = no header expected
	}{
		{"none", "", http.StatusUnauthorized, `Bearer realm="scim"`},
		{"wrong token", "Bearer nope", http.StatusUnauthorized, `Bearer realm="scim", error="invalid_token"`},
		{"basic", "Basic c2NpbTpzY2lt", http.StatusUnauthorized, `Bearer realm="scim", error="invalid_token"`},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, `Bearer realm="scim", error="invalid_token"`},
		{"right token", "Bearer scim-secret", http.StatusOK, ""},
		{"scheme case", "bearer scim-secret", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, `/Users?filter=externalId+eq+"sub-1"`, nil)
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			got := w.Header().Get("WWW-Authenticate")
			if got != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if tc.status == http.StatusUnauthorized && !strings.Contains(w.Body.String(), "invalid token") {
				t.Fatalf("body %s", w.Body)
			}
		})
	}
}
