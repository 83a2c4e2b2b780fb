package sso

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestParseFormMatchesNetHTTP: serveAPI's form parsing gives the parameters and the error (or
// none) that Request.ParseForm gives for the same request (escapes, '+', empty and valueless
// parameters, a broken escape, bodies past the pooled buffer's size and past the API's bound,
// a Content-Type with good and malformed parameters), and r.Form holds what r.PostForm does.
func TestParseFormMatchesNetHTTP(t *testing.T) {
	p := &Provider{}
	const ct = "application/x-www-form-urlencoded"
	big := "refresh_token=" + strings.Repeat("A", 3000) + "&grant_type=refresh_token"
	for _, c := range []struct{ name, ct, body string }{
		{"plain", ct, "grant_type=refresh_token&refresh_token=abc.0.d.xyz"},
		{"escapes and plus", ct, "scope=openid+profile%20email&redirect_uri=http%3A%2F%2Fx%2Fcb"},
		{"empty and valueless", ct, "a=&b&=c&&d=1"},
		{"repeated", ct, "grant_type=a&grant_type=b"},
		{"broken escape", ct, "grant_type=%zz&code=%"},
		{"semicolon", ct, "a=1;b=2&c=3"},
		{"past the pooled buffer", ct, big},
		{"past the bound", ct, "x=" + strings.Repeat("A", maxFormBytes)},
		{"empty body", ct, ""},
		{"charset parameter", ct + "; charset=utf-8", "a=1"},
		{"malformed parameter", ct + "; charset", "a=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := func() (*http.Request, *httptest.ResponseRecorder) {
				r := httptest.NewRequest(http.MethodPost, "http://op.example/oauth/token", strings.NewReader(c.body))
				r.Header.Set("Content-Type", c.ct)
				w := httptest.NewRecorder()
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
				return r, w
			}
			want, _ := req()
			wantErr := want.ParseForm()
			got, _ := req()
			gotErr := p.parseForm(got, c.ct)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("error %v, net/http's %v", gotErr, wantErr)
			}
			var tooBig *http.MaxBytesError
			if errors.As(wantErr, &tooBig) != errors.As(gotErr, &tooBig) {
				t.Fatalf("error %v, net/http's %v", gotErr, wantErr)
			}
			if wantErr == nil && (!reflect.DeepEqual(got.PostForm, want.PostForm) || !reflect.DeepEqual(got.Form, want.Form)) {
				t.Fatalf("PostForm %v Form %v, net/http's %v %v", got.PostForm, got.Form, want.PostForm, want.Form)
			}
		})
	}
}
