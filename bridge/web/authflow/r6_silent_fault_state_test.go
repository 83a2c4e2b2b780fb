package authflow

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/sso"
)

// Review s27 R6-1: the pages that load a stored request (PendingRequest / PendingLoaded: the
// consent page, the second-factor step, the upstream callback, the login page's fallback for
// a request it could not claim) read the client before ClaimRequest checks that the request
// is pending and this browser's. Session 27 Q sent a client read fault of a silent
// (prompt=none) request to silentFault there: the app was told server_error with the
// request's state at its redirect_uri, and the request deleted, for a request already
// answered (Done: its code not exchanged yet), for another browser's request (its state
// handed to this browser), and for a HEAD (a write, RFC 9110 9.3.2). The silent answer
// belongs to the request's one answer (Authorize, the login page that claims it); a page that
// loads a request someone may come back to with any browser or method must not send it.
// Such a fault is the error handler's page (500, or 503 when the store is unavailable), and
// the request is left as it is.
func TestR6SilentFaultOnlyForThisBrowsersPendingRequest(t *testing.T) {
	pages, err := web.NewRenderer(web.Brand{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router := web.NewRouter(web.RouterConfig{Renderer: pages, Logger: log})
	key := []byte(strings.Repeat("k", 32))
	cookies := session.New(session.Config{HashKey: key, BlockKey: key, CSRFKey: key, Lifetime: time.Hour}, nil, pages)

	tests := []struct {
		name    string
		method  string
		path    string
		done    bool
		browser string // the browser the request is bound to ("": not bound yet)
		err     error
		// wantStatus is the page's status.
		wantStatus int
	}{
		{"answered request (code not exchanged), GET /consent", http.MethodGet, "/consent?id=req1", true, "victim", errQ27Locked, http.StatusInternalServerError},
		{"answered request, the login page's fallback", http.MethodGet, PathLogin + "?id=req1", true, "victim", errQ27Locked, http.StatusInternalServerError},
		{"another browser's request, GET /consent", http.MethodGet, "/consent?id=req1", false, "victim", errQ27Locked, http.StatusInternalServerError},
		{"another browser's request, store unavailable", http.MethodGet, "/consent?id=req1", false, "victim", sso.ErrUnavailable, http.StatusServiceUnavailable},
		{"HEAD /consent of a request not bound yet", http.MethodHead, "/consent?id=req1", false, "", errQ27Locked, http.StatusInternalServerError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ar := &sso.AuthRequest{ID: "req1", ClientID: "app", RedirectURI: "https://app.example/cb", State: "victim-state",
				ResponseType: "code", Prompt: []string{oidc.PromptNone}, Done: tc.done, Browser: tc.browser}
			st := &q27Store{} // the login page claims nothing: the request is answered or bound
			h := &Handler{Pages: pages, Logger: log, Issuer: "https://sso.example", Now: time.Now, Store: st, Cookies: cookies,
				Audit: audit.New(&auditRows{}, log, nil, nil),
				Provider: q27Provider{fakeProvider: fakeProvider{requests: map[string]*sso.AuthRequest{ar.ID: ar},
					clients: map[string]*sso.ClientConfig{"app": {ID: "app", Name: "App"}}}, clientErr: tc.err}}
			rec := httptest.NewRecorder()
			c := router.NewContext(httptest.NewRequest(tc.method, tc.path, nil), rec)
			if strings.HasPrefix(tc.path, PathLogin) {
				err = h.loginPage(c)
			} else {
				_, _, err = h.PendingRequest(c, ar.ID)
			}
			if err != nil {
				router.HTTPErrorHandler(err, c)
			}
			if loc := rec.Header().Get("Location"); loc != "" {
				t.Errorf("answered %d to %q: the app is told about a request this %s may not go on with", rec.Code, loc, tc.method)
			}
			if len(st.ended) != 0 {
				t.Errorf("requests ended %v: the %s deleted a request it may not answer", st.ended, tc.method)
			}
			if rec.Code != tc.wantStatus {
				t.Errorf("answered %d, want %d (the store's fault, a page)", rec.Code, tc.wantStatus)
			}
		})
	}
}
