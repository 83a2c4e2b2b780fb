package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestLoginPageOneDivider: the login page separates the password form from the other ways in
// (a passkey, the AMS website's hand-off, upstream providers) with one "or" divider, however
// many of them are shown.
func TestLoginPageOneDivider(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test Association", PrimaryColor: "#123456"})
	if err != nil {
		t.Fatal(err)
	}
	type data struct {
		Page
		CSRF, RequestID, ClientName, Login, Error, AMSName, Action string
		Upstreams                                                  []UpstreamButton
		Passkeys                                                   bool
	}
	ups := []UpstreamButton{{Name: "corp", Label: "Corp ID"}, {Name: "gh", Label: "GitHub"}}
	for _, tc := range []struct {
		name string
		d    data
		want int
	}{
		{"password only", data{}, 0},
		{"hand-off", data{AMSName: "the member website"}, 1},
		{"upstreams", data{Upstreams: ups}, 1},
		{"passkeys", data{Passkeys: true}, 1},
		{"hand-off and upstreams", data{AMSName: "the member website", Upstreams: ups}, 1},
		{"all three", data{AMSName: "the member website", Upstreams: ups, Passkeys: true}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.d.Page = r.Base("Sign in")
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/login", nil), rec)
			if err := r.Render(c, http.StatusOK, "login", tc.d); err != nil {
				t.Fatal(err)
			}
			body := rec.Body.String()
			if n := strings.Count(body, `class="or"`); n != tc.want {
				t.Fatalf("%d dividers, want %d:\n%s", n, tc.want, body)
			}
			if tc.d.AMSName != "" && !strings.Contains(body, "Continue with your member account on") ||
				len(tc.d.Upstreams) > 0 && !strings.Contains(body, "Continue with GitHub") ||
				tc.d.Passkeys && !strings.Contains(body, "Sign in with a passkey") {
				t.Fatalf("a way in is missing:\n%s", body)
			}
		})
	}
}
