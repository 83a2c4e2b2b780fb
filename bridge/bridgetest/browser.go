package bridgetest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// Browser is a cookie-keeping HTTP client that stops at redirects leaving the bridge (to an
// app's redirect_uri), so tests can read codes and errors from them.
type Browser struct {
	T      testing.TB
	Client *http.Client
	Base   string // the bridge's origin
}

// NewBrowser returns a browser for the bridge at base.
func NewBrowser(t testing.TB, base string) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{T: t, Base: base}
	b.Client = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), base+"/") {
			return http.ErrUseLastResponse
		}
		if len(via) > 10 {
			return fmt.Errorf("too many redirects")
		}
		return nil
	}}
	return b
}

// Page is a fetched response with its body.
type Page struct {
	Status   int
	URL      *url.URL
	Body     string
	Location string // set when the bridge redirected out (to an app)
	Header   http.Header
}

func (b *Browser) do(req *http.Request) *Page {
	b.T.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body), Location: resp.Header.Get("Location"), Header: resp.Header}
}

// Get fetches a URL.
func (b *Browser) Get(u string) *Page {
	b.T.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

// Post submits a form.
func (b *Browser) Post(u string, form url.Values) *Page {
	b.T.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// Hidden returns the hidden form fields of the page (the first form's values win).
func (p *Page) Hidden() url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(p.Body, -1) {
		if v.Get(m[1]) == "" {
			v.Set(m[1], htmlUnescape(m[2]))
		}
	}
	return v
}

func htmlUnescape(s string) string {
	r := strings.NewReplacer("&amp;", "&", "&#43;", "+", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">")
	return r.Replace(s)
}

// Login submits the login form on p with the credentials and returns the result.
func (b *Browser) Login(p *Page, login, password string) *Page {
	b.T.Helper()
	f := p.Hidden()
	if f.Get("csrf") == "" || f.Get("id") == "" {
		b.T.Fatalf("no login form at %s (status %d): %.500s", p.URL, p.Status, p.Body)
	}
	form := url.Values{"csrf": {f.Get("csrf")}, "id": {f.Get("id")}, "login": {login}, "password": {password}}
	return b.Post(b.Base+"/login", form)
}

// Redirected returns the query of the redirect out to the app, failing when there is none.
func (p *Page) Redirected(t testing.TB) url.Values {
	t.Helper()
	if p.Location == "" {
		t.Fatalf("expected a redirect to the app, got status %d at %s: %.800s", p.Status, p.URL, p.Body)
	}
	u, err := url.Parse(p.Location)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
