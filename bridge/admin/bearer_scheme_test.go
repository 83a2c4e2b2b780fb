package admin_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestBearerSchemeCaseInsensitive (RFC 7235 2.1: "It uses a case-insensitive token as a means to
// identify the authentication scheme"; RFC 6750 2.1): the admin API takes its token with the
// scheme spelled in any case, and still refuses a missing token, another scheme and a wrong
// token. Before, only "Bearer " was accepted and "bearer <right token>" was answered 401.
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	h := f.svc.Handler(token)
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"Bearer " + token, http.StatusOK},
		{"bearer " + token, http.StatusOK},
		{"BEARER " + token, http.StatusOK},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Basic " + token, http.StatusUnauthorized},
		{"Bearer " + token + "x", http.StatusUnauthorized},
		{"", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", "/admin/tokens", nil)
		req.RemoteAddr = "192.0.2.10:40000"
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, rec.Code, tc.want)
		}
	}
}
