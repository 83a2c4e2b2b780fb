package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"

	"golang.org/x/oauth2"
)

// peer is what differs between the peer providers for the load tool: the demo user's login
// name and extra authorization parameters. Endpoints come from the peer's discovery document.
type peer struct {
	login    string
	authOpts []oauth2.AuthCodeOption
}

// loginFor is the login of chain (or worker) i: login with %d replaced by i.
func (p *peer) loginFor(login string, i int) string {
	if strings.Contains(login, "%d") {
		return fmt.Sprintf(login, i)
	}
	return login
}

// newPeer reads the issuer's discovery document and points cfg at its endpoints.
func newPeer(name, issuer string, cfg *oauth2.Config) (*peer, error) {
	var p peer
	switch name {
	case "dex":
		// Dex's password database signs in by email, and Dex keeps one refresh token per user
		// and client (a new login deletes the previous one): one user per chain.
		p.login = "alice%d@example.com"
	case "oidc-provider":
		p.login = "alice"
		// oidc-provider drops offline_access (no refresh token) unless the request has
		// prompt=consent (OIDC Core 11); its consent step then runs, shown or not.
		p.authOpts = []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "consent")}
	default:
		return nil, fmt.Errorf("-peer %q: want dex or oidc-provider", name)
	}
	resp, err := http.Get(strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration")
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	var d struct {
		Auth  string `json:"authorization_endpoint"`
		Token string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusOK || d.Auth == "" || d.Token == "" {
		return nil, fmt.Errorf("discovery: status %d, %v", resp.StatusCode, err)
	}
	cfg.Endpoint.AuthURL, cfg.Endpoint.TokenURL = d.Auth, d.Token
	return &p, nil
}

var (
	formTag  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputTag = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attr     = regexp.MustCompile(`(?is)\b([a-z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>=]+))`)
)

// formSignIn is a browser-less login against a peer: it follows the redirects from authURL and,
// on each page, fills in and posts the page's first POST form (the login form: a password field
// and a text field; the consent form: its hidden fields, e.g. Dex's approval=approve), with one
// cookie jar, until the peer redirects to the client's redirect URI with a code.
func formSignIn(authURL, login, password, redirect string) (string, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := hc.Get(authURL)
	sentPassword := false
	for step := 0; ; step++ {
		if err != nil {
			return "", err
		}
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, redirect) {
			u, err := url.Parse(loc)
			if err != nil || u.Query().Get("code") == "" {
				return "", fmt.Errorf("no code in %q", loc)
			}
			return u.Query().Get("code"), nil
		}
		if rerr != nil {
			return "", rerr
		}
		if resp.StatusCode != http.StatusOK || step == 5 {
			return "", fmt.Errorf("step %d at %s: status %d, no code", step, resp.Request.URL.Path, resp.StatusCode)
		}
		action, form, isLogin, err := fillForm(string(body), resp.Request.URL, login, password)
		if err != nil {
			return "", fmt.Errorf("step %d at %s: %w", step, resp.Request.URL.Path, err)
		}
		if isLogin && sentPassword {
			return "", fmt.Errorf("step %d at %s: the login form again (login refused)", step, resp.Request.URL.Path)
		}
		sentPassword = sentPassword || isLogin
		resp, err = hc.PostForm(action, form)
	}
}

// fillForm finds the page's first POST form and returns its absolute action and the values to
// post: hidden (and other valued) fields as they are, the password field and the login field
// filled in; isLogin says it has a password field.
func fillForm(page string, base *url.URL, login, password string) (action string, form url.Values, isLogin bool, err error) {
	for _, f := range formTag.FindAllStringSubmatch(page, -1) {
		fa := attrs(f[1])
		if !strings.EqualFold(fa["method"], "post") {
			continue
		}
		u, err := base.Parse(fa["action"])
		if err != nil {
			return "", nil, false, fmt.Errorf("form action %q: %w", fa["action"], err)
		}
		form = url.Values{}
		for _, in := range inputTag.FindAllStringSubmatch(f[2], -1) {
			a := attrs(in[1])
			name := a["name"]
			switch typ := strings.ToLower(a["type"]); {
			case name == "":
			case typ == "password":
				form.Set(name, password)
				isLogin = true
			case typ == "hidden" || typ == "checkbox" || typ == "radio" || typ == "submit":
				if _, seen := form[name]; !seen {
					form.Set(name, a["value"])
				}
			default: // text, email or none: the login field
				form.Set(name, login)
			}
		}
		return u.String(), form, isLogin, nil
	}
	return "", nil, false, errors.New("no POST form on the page")
}

// attrs parses a tag's attributes (quoted or unquoted values, entities decoded).
func attrs(tag string) map[string]string {
	m := map[string]string{}
	for _, a := range attr.FindAllStringSubmatch(tag, -1) {
		m[strings.ToLower(a[1])] = html.UnescapeString(a[2] + a[3] + strings.TrimSuffix(a[4], "/"))
	}
	return m
}
