package session

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestParseFormIsNetHTTPs: parseForm gives a form post the fields, values and order net/http's
// ParseForm gives it, and leaves every request it does not handle to net/http untouched (its
// body unread).
func TestParseFormIsNetHTTPs(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	many := strings.Repeat("a=1&", maxFormPairs) + "b=2"
	for _, tc := range []struct {
		name, method, target, contentType, body string
		handled                                 bool
	}{
		{"login", "POST", "/login", form, "csrf=tok-en_1&id=18eebe84&login=alice&password=p%40ss+word%26%3D", true},
		{"empty", "POST", "/login", form, "", true},
		{"repeated", "POST", "/consent", form, "scope=a&x=1&scope=b&scope=&x=2", true},
		{"no value, no equals", "POST", "/login", form, "a&b=&=c&&d==e", true},
		{"semicolons", "POST", "/login", form, "a=1;b=2&c=3&d;=4&e=%3B", true},
		{"bad escapes", "POST", "/login", form, "a=%zz&b%=1&c=%41%&d=ok&%41=%42", true},
		{"plus and unicode", "POST", "/login", form, "n=J%C3%BCrgen+M%C3%BCller&m=%E2%82%AC+1", true},
		{"trailing ampersand", "POST", "/login", form, "a=1&", true},
		{"many fields", "POST", "/login", form, many, false},
		{"query in the URL", "POST", "/login?id=q", form, "id=b&csrf=t", false},
		{"charset", "POST", "/login", form + "; charset=UTF-8", "a=1", false},
		{"multipart", "POST", "/login", "multipart/form-data; boundary=x", "--x--\r\n", false},
		{"no content type", "POST", "/login", "", "a=1", false},
		{"PUT", "PUT", "/login", form, "a=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := func() *http.Request {
				r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
				if tc.contentType != "" {
					r.Header.Set("Content-Type", tc.contentType)
				}
				return r
			}
			got, want := req(), req()
			parseForm(got)
			if handled := got.Form != nil; handled != tc.handled {
				t.Fatalf("handled %v, want %v", handled, tc.handled)
			}
			if !tc.handled && got.PostForm != nil {
				t.Fatal("PostForm set on a request left to net/http")
			}
			errGot, errWant := got.ParseForm(), want.ParseForm()
			if !reflect.DeepEqual(got.Form, want.Form) || !reflect.DeepEqual(got.PostForm, want.PostForm) {
				t.Errorf("Form %v PostForm %v\nnet/http: Form %v PostForm %v (%v)", got.Form, got.PostForm, want.Form, want.PostForm, errWant)
			}
			if !tc.handled && (errGot == nil) != (errWant == nil) {
				t.Errorf("ParseForm after parseForm: %v, net/http: %v", errGot, errWant)
			}
			if got, want := got.FormValue("a"), want.FormValue("a"); got != want {
				t.Errorf("FormValue(a) = %q, net/http %q", got, want)
			}
		})
	}
}

// TestParseFormBodyNotItsLength: a body shorter or longer than its declared length is left to
// net/http, which reads the same bytes to the same end.
func TestParseFormBodyNotItsLength(t *testing.T) {
	for _, length := range []int64{100, 3} {
		req := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("csrf=abc&id=x"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.ContentLength = length
			return r
		}
		got, want := req(), req()
		parseForm(got)
		if got.Form != nil || got.PostForm != nil {
			t.Fatalf("length %d: parsed: Form %v", length, got.Form)
		}
		errGot, errWant := got.ParseForm(), want.ParseForm()
		if !reflect.DeepEqual(got.Form, want.Form) || (errGot == nil) != (errWant == nil) {
			t.Errorf("length %d: Form %v (%v), net/http %v (%v)", length, got.Form, errGot, want.Form, errWant)
		}
	}
}
