package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestPreparedPage: a login page prepared once and filled with a request's values is, byte for
// byte, the page rendered for that request, for each mix of the page's parts (the values fill
// several places: every form's token and id) and for names that need escaping; a value that
// escaping would change is not put in (the caller renders the page); a slot missing from the
// page is refused when preparing.
func TestPreparedPage(t *testing.T) {
	r, err := NewRenderer(Brand{Name: "Test & <Association>"})
	if err != nil {
		t.Fatal(err)
	}
	type data struct {
		Page
		CSRF, RequestID, ClientName, Login, Error, AMSName, Action string
		Upstreams                                                  []UpstreamButton
		Passkeys                                                   bool
	}
	ups := []UpstreamButton{{Name: "corp", Label: "Corp <ID>"}}
	e := echo.New()
	render := func(f func(c echo.Context) error) (string, http.Header) {
		t.Helper()
		rec := httptest.NewRecorder()
		if err := f(e.NewContext(httptest.NewRequest(http.MethodGet, "/authorize", nil), rec)); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String(), rec.Header()
	}
	csrf, id := "Zm9v-YmFy_0123456789abcdefghijklmnopqrstu", "aWQtb2YtdGhlLXJlcXVlc3Q_-0123456789ABCDEFG"
	for _, d := range []data{
		{ClientName: "Web App"},
		{ClientName: `"Quotes" & <tags>`, AMSName: "the member website", Upstreams: ups, Passkeys: true},
		{ClientName: "", Passkeys: true},
	} {
		d.Page = r.Base("Sign in")
		cs, is := Slot(), Slot()
		pd := d
		pd.CSRF, pd.RequestID = cs, is
		p, err := r.Prepare("login", pd, cs, is)
		if err != nil {
			t.Fatal(err)
		}
		d.CSRF, d.RequestID = csrf, id
		want, wantH := render(func(c echo.Context) error { return r.Render(c, http.StatusOK, "login", d) })
		got, gotH := render(func(c echo.Context) error {
			ok, err := r.RenderPrepared(c, http.StatusOK, p, csrf, id)
			if !ok && err == nil {
				t.Fatal("plain values refused")
			}
			return err
		})
		if got != want {
			t.Fatalf("prepared page differs from the rendered one:\n%s\n---\n%s", got, want)
		}
		if gotH.Get("Cache-Control") != "no-store" || gotH.Get("Content-Type") != wantH.Get("Content-Type") {
			t.Fatalf("headers %v, want %v", gotH, wantH)
		}
		for _, bad := range []string{`a"b`, "a<b", "a&b", "a b", "a+b", "a/b", "é"} {
			rec := httptest.NewRecorder()
			ok, err := r.RenderPrepared(e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec), http.StatusOK, p, bad, id)
			if ok || err != nil || rec.Body.Len() != 0 {
				t.Fatalf("value %q put in as it is: %v %v %q", bad, ok, err, rec.Body.String())
			}
		}
	}
	if _, err := r.Prepare("login", data{Page: r.Base("Sign in")}, Slot()); err == nil {
		t.Fatal("a slot missing from the page was accepted")
	}
}
