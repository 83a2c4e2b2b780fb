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
