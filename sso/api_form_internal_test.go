package sso

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// TestParseFormMatchesNetHTTP: serveAPI's form parsing gives the parameters and the error (or
// none) that Request.ParseForm gives for the same request (escapes, '+', empty and valueless
// parameters, a broken escape, bodies past the pooled buffer's size and past the API's bound,
// a Content-Type with good and malformed parameters, a body of undeclared length, or longer
// than declared, within and past the bound), and r.Form holds what r.PostForm does. net/http's
// side reads through MaxBytesReader, parseForm's through apiBody, as serveAPI does.
func TestParseFormMatchesNetHTTP(t *testing.T) {
	p := &Provider{}
	const ct = "application/x-www-form-urlencoded"
	big := "refresh_token=" + strings.Repeat("A", 3000) + "&grant_type=refresh_token"
	type form struct {
		name, ct, body string
		declared       int64 // Content-Length when not 0 (-1: not declared)
	}
	for _, c := range []form{
		{"plain", ct, "grant_type=refresh_token&refresh_token=abc.0.d.xyz", 0},
		{"escapes and plus", ct, "scope=openid+profile%20email&redirect_uri=http%3A%2F%2Fx%2Fcb", 0},
		{"empty and valueless", ct, "a=&b&=c&&d=1", 0},
		{"repeated", ct, "grant_type=a&grant_type=b", 0},
		{"broken escape", ct, "grant_type=%zz&code=%", 0},
		{"semicolon", ct, "a=1;b=2&c=3", 0},
		{"past the pooled buffer", ct, big, 0},
		{"past the bound", ct, "x=" + strings.Repeat("A", maxFormBytes), 0},
		{"empty body", ct, "", 0},
		{"charset parameter", ct + "; charset=utf-8", "a=1", 0},
		{"malformed parameter", ct + "; charset", "a=1", 0},
		{"undeclared length", ct, "grant_type=refresh_token&refresh_token=abc", -1},
		{"undeclared length past the bound", ct, "x=" + strings.Repeat("A", maxFormBytes), -1},
		{"longer than declared past the bound", ct, "x=" + strings.Repeat("A", maxFormBytes), 10},
		{"declared at the bound", ct, "x=" + strings.Repeat("A", maxFormBytes-2), 0},
		{"eight parameters, repeats", ct, "a=1&b=2&a=3&c=%41&d&e=&a=4&=5", 0},
		{"nine parameters", ct, "a=1&b=2&a=3&c=%41&d&e=&a=4&=5&f=6", 0},
		{"broken escapes in key and value", ct, "%zz=1&a=%&b=2", 0},
		{"semicolon escaped", ct, "a=%3B&b=2", 0},
		{"many parameters", ct, strings.Repeat("a=1&", 10001), 0},
		{"only separators", ct, "&&&", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := func(bound func(http.ResponseWriter, *http.Request)) *http.Request {
				r := httptest.NewRequest(http.MethodPost, "http://op.example/oauth/token", strings.NewReader(c.body))
				r.Header.Set("Content-Type", c.ct)
				if c.declared != 0 {
					r.ContentLength = c.declared
				}
				bound(httptest.NewRecorder(), r)
				return r
			}
			want := req(func(w http.ResponseWriter, r *http.Request) { r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes) })
			wantErr := want.ParseForm()
			got := req(apiBody)
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

// FuzzParseQueryMatchesURL: parseQuery (the short-form parser of every token request's body)
// gives what url.ParseQuery gives for any body: the same values in the same order per key,
// and an error exactly when it errs, with the same text.
func FuzzParseQueryMatchesURL(f *testing.F) {
	for _, s := range []string{"", "a=1", "a=1&b=2&a=3", "&&a", "a=%zz&b=2", "%zz=1&b", "a;b=1", "=x&=y", "a=1+2%2B3",
		"grant_type=refresh_token&refresh_token=abc&scope=openid+profile", "a&a&a&a&a&a&a&a", "a&a&a&a&a&a&a&a&a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		got, gerr := parseQuery(body)
		want, werr := url.ParseQuery(body)
		if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
			t.Fatalf("%q: error %v, url.ParseQuery %v", body, gerr, werr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: %v, url.ParseQuery %v", body, got, want)
		}
	})
}
