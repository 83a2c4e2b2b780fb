package authflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/sso"
)

// q27Provider is a Provider whose Client read fails with clientErr (when set), and whose
// ErrorRedirect answers at the request's redirect_uri with error, state and iss, as
// sso.Provider.ErrorRedirect does (RFC 6749 4.1.2.1, RFC 9207).
type q27Provider struct {
	fakeProvider
	clientErr error
}

func (p q27Provider) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	if p.clientErr != nil {
		return nil, fmt.Errorf("sqlite: clients: %w", p.clientErr)
	}
	return p.fakeProvider.Client(ctx, id)
}

func (q27Provider) ErrorRedirect(ar *sso.AuthRequest, e *oidc.Error) (string, error) {
	q := url.Values{"error": {string(e.ErrorType)}, "state": {ar.State}, "iss": {"https://sso.example"}}
	return ar.RedirectURI + "?" + q.Encode(), nil
}

// q27Store is a Store holding one stored, unbound request the login page can claim; the
// requests it ends are kept.
type q27Store struct {
	Store
	ar    *sso.AuthRequest
	ended []string
}

func (s *q27Store) ClaimAuthRequest(_ context.Context, id, browser string) (*sso.AuthRequest, error) {
	if s.ar == nil || id != s.ar.ID {
		return nil, nil
	}
	ar := *s.ar
	ar.Browser = browser
	return &ar, nil
}

func (s *q27Store) DeleteAuthRequest(_ context.Context, id string) error {
	s.ended = append(s.ended, id)
	return nil
}

var errQ27Locked = errors.New("database is locked")

// Session 27 (Q), review s26 R2-6: a fault after op accepted and stored the request, before
// the sign-in page (the binding cookie's save, the client's read), was an HTML page even for
// a silent request (prompt=none), which nobody sees in the hidden iframe it runs in; and a
// store fault reading the client said "This app is not registered" (400), the browser's
// fault. op has verified the client and redirect_uri by then: a silent request is answered
// at the redirect_uri with server_error, or temporarily_unavailable when the store is
// unavailable, with state and iss (OIDC Core 3.1.2.6, RFC 6749 4.1.2.1, RFC 9207), and the
// request ended; any other request gets the error handler's 500 page (503 with Retry-After
// when the store is unavailable). A client that is really gone keeps the "not registered"
// page (its redirect_uri is no longer one the service vouches for). Both ways in are
// checked: /authorize answering the request it stored (answerAuthorized) and the login page
// opening one (loginPage); and the pages that load a pending request (PendingRequest: consent,
// the second-factor step, the upstream callback) no longer call a store fault "not registered".
func TestQ27SilentFaultsBeforeTheSignInPage(t *testing.T) {
	pages, err := web.NewRenderer(web.Brand{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router := web.NewRouter(web.RouterConfig{Renderer: pages, Logger: log}) // its error handler
	key := []byte(strings.Repeat("k", 32))
	cookies := session.New(session.Config{HashKey: key, BlockKey: key, CSRFKey: key, Lifetime: time.Hour}, nil, pages)
	// A block key that is no AES key: securecookie's codec then fails every encode, so the
	// binding cookie cannot be saved.
	brokenCookies := session.New(session.Config{HashKey: key, BlockKey: key[:17], CSRFKey: key, Lifetime: time.Hour}, nil, pages)

	tests := []struct {
		name       string
		silent     bool
		clientErr  error
		badCookies bool
		// wantError is the error the app hears at its redirect_uri ("": no redirect).
		wantError  string
		wantStatus int    // the page's status when there is no redirect
		wantPage   string // what the page says
	}{
		{"silent, client read fails", true, errQ27Locked, false, "server_error", 0, ""},
		{"silent, store unavailable", true, sso.ErrUnavailable, false, "temporarily_unavailable", 0, ""},
		{"silent, cookie not saved", true, nil, true, "server_error", 0, ""},
		{"silent, client gone", true, sso.ErrNotFound, false, "", http.StatusBadRequest, "This app is not registered"},
		{"page, client read fails", false, errQ27Locked, false, "", http.StatusInternalServerError, "Something went wrong on our side"},
		{"page, store unavailable", false, sso.ErrUnavailable, false, "", http.StatusServiceUnavailable, "Please try again in a minute"},
		{"page, cookie not saved", false, nil, true, "", http.StatusInternalServerError, "Something went wrong on our side"},
		{"page, client gone", false, sso.ErrNotFound, false, "", http.StatusBadRequest, "This app is not registered"},
	}
	for _, way := range []string{"authorize", "login page", "pending request"} {
		for _, tc := range tests {
			if way == "pending request" && tc.badCookies {
				continue // the consent and step pages' requests are never silent ones
			}
			if way == "pending request" && tc.wantError != "" {
				// Review s27 R6-1: these pages read the client before ClaimRequest checks the
				// request is pending and this browser's, and a HEAD comes here too: a fault is
				// the error handler's page, never an answer at the app.
				tc.wantError, tc.wantStatus, tc.wantPage = "", http.StatusInternalServerError, "Something went wrong on our side"
				if errors.Is(tc.clientErr, sso.ErrUnavailable) {
					tc.wantStatus, tc.wantPage = http.StatusServiceUnavailable, "Please try again in a minute"
				}
			}
			t.Run(way+"/"+tc.name, func(t *testing.T) {
				ar := &sso.AuthRequest{ID: "req1", ClientID: "app", RedirectURI: "https://app.example/cb", State: "st-" + tc.name,
					ResponseType: "code"}
				if tc.silent {
					ar.Prompt = []string{oidc.PromptNone}
				}
				st := &q27Store{ar: ar}
				h := &Handler{Pages: pages, Logger: log, Issuer: "https://sso.example", Now: time.Now, Store: st, Cookies: cookies,
					Audit: audit.New(&auditRows{}, log, nil, nil),
					Provider: q27Provider{fakeProvider: fakeProvider{requests: map[string]*sso.AuthRequest{ar.ID: ar},
						clients: map[string]*sso.ClientConfig{"app": {ID: "app", Name: "App"}}}, clientErr: tc.clientErr}}
				if tc.badCookies {
					h.Cookies = brokenCookies
				}
				rec := httptest.NewRecorder()
				var c echo.Context
				if way == "authorize" {
					c = router.NewContext(httptest.NewRequest(http.MethodGet, sso.PathAuthorize+"?client_id=app", nil), rec)
					_, fresh := h.Cookies.PeekRequestBrowser(c)
					bound := *ar
					bound.Browser = "b"
					err = h.answerAuthorized(c, &bound, fresh)
				} else if way == "login page" {
					c = router.NewContext(httptest.NewRequest(http.MethodGet, PathLogin+"?id="+ar.ID, nil), rec)
					err = h.loginPage(c)
				} else {
					// The consent and step pages, the upstream callback (PendingLoaded).
					c = router.NewContext(httptest.NewRequest(http.MethodGet, "/consent?id="+ar.ID, nil), rec)
					_, _, err = h.PendingRequest(c, ar.ID)
				}
				if err != nil {
					router.HTTPErrorHandler(err, c)
				}
				loc := rec.Header().Get("Location")
				if tc.wantError != "" {
					if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, ar.RedirectURI+"?") {
						t.Fatalf("answered %d (Location %q): %.300s; want 303 to the app's redirect_uri", rec.Code, loc, rec.Body)
					}
					u, _ := url.Parse(loc)
					q := u.Query()
					if q.Get("error") != tc.wantError || q.Get("state") != ar.State || q.Get("iss") != "https://sso.example" || q.Get("code") != "" {
						t.Fatalf("app told %v, want error=%s with state and iss", q, tc.wantError)
					}
					if len(st.ended) != 1 || st.ended[0] != ar.ID {
						t.Fatalf("requests ended %v, want [%s] (its one answer was sent)", st.ended, ar.ID)
					}
					return
				}
				if loc != "" {
					t.Fatalf("redirected to %q, want a page", loc)
				}
				body := rec.Body.String()
				if rec.Code != tc.wantStatus || !strings.Contains(body, tc.wantPage) {
					t.Fatalf("answered %d: %.400s; want %d saying %q", rec.Code, body, tc.wantStatus, tc.wantPage)
				}
				if tc.wantStatus == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After (RFC 9110 15.6.4)")
				}
				if strings.Contains(body, "sqlite") || strings.Contains(body, "locked") {
					t.Fatalf("the store's text on the page: %.400s", body)
				}
			})
		}
	}
}
