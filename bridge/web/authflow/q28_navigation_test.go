package authflow

import (
	"encoding/json"
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
	"github.com/ssobridge/ssobridge/sso"
)

// Session 28 (Q): an authorization error goes to the app (a 303 to its redirect_uri, the request
// ended) only for a browser navigation; any other request gets it in RFC 6749 JSON and the
// request is left pending (navigation, answerNotNavigation). Both ways out, redirectError (the
// member's or the request's answer) and faultRedirect (a fault's), for each kind of request a
// browser sends; TestQ28SilentAnswersOnlyToANavigation (bridge) drives them through the server.
func TestQ28AuthorizationErrorsOnlyToANavigation(t *testing.T) {
	pages, err := web.NewRenderer(web.Brand{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	router := web.NewRouter(web.RouterConfig{Renderer: pages, Logger: log})
	const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	kinds := []struct {
		name       string
		hdr        map[string]string
		navigation bool
	}{
		{"page opened", map[string]string{"Accept": html, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, true},
		{"hidden iframe", map[string]string{"Accept": html, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"}, true},
		{"iframe, early Chrome", map[string]string{"Accept": html, "Sec-Fetch-Mode": "nested-navigate"}, true},
		{"browser without Fetch Metadata", map[string]string{"Accept": html}, true},
		{"no headers at all", nil, true},
		{"JSON caller", map[string]string{"Accept": "application/json"}, false},
		{"JSON caller that says navigate", map[string]string{"Accept": "application/json", "Sec-Fetch-Mode": "navigate"}, false},
		{"fetch", map[string]string{"Accept": "*/*", "Sec-Fetch-Mode": "cors"}, false},
		{"same-origin fetch", map[string]string{"Accept": "*/*", "Sec-Fetch-Mode": "same-origin"}, false},
		{"image", map[string]string{"Accept": "image/webp,*/*", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, false},
	}
	answers := []struct {
		name       string
		fault      bool
		e          *oidc.Error
		wantStatus int
	}{
		{"login_required", false, oidc.ErrLoginRequired(), http.StatusBadRequest},
		{"access_denied", false, oidc.ErrAccessDenied(), http.StatusForbidden},
		{"server_error (fault)", true, oidc.ErrServerError(), http.StatusInternalServerError},
		{"temporarily_unavailable (fault)", true, errTemporarilyUnavailable(), http.StatusServiceUnavailable},
	}
	for _, k := range kinds {
		for _, a := range answers {
			t.Run(k.name+"/"+a.name, func(t *testing.T) {
				ar := &sso.AuthRequest{ID: "req1", ClientID: "app", RedirectURI: "https://app.example/cb", State: "st-secret",
					ResponseType: "code", Prompt: []string{oidc.PromptNone}, Browser: "b"}
				st := &q27Store{}
				h := &Handler{Pages: pages, Logger: log, Issuer: "https://sso.example", Now: time.Now, Store: st,
					Audit:    audit.New(&auditRows{}, log, nil, nil),
					Provider: q27Provider{fakeProvider: fakeProvider{requests: map[string]*sso.AuthRequest{ar.ID: ar}}}}
				req := httptest.NewRequest(http.MethodGet, "/login?id=req1", nil)
				for name, v := range k.hdr {
					req.Header.Set(name, v)
				}
				rec := httptest.NewRecorder()
				c := router.NewContext(req, rec)
				var err error
				if a.fault {
					err = h.faultRedirect(c, ar, a.e)
				} else {
					err = h.redirectError(c, ar, a.e)
				}
				if err != nil {
					t.Fatal(err)
				}
				if k.navigation {
					if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), ar.RedirectURI+"?") {
						t.Fatalf("answered %d (Location %q), want 303 to the app", rec.Code, rec.Header().Get("Location"))
					}
					if len(st.ended) != 1 {
						t.Fatalf("requests ended %v, want [req1] (its one answer was sent)", st.ended)
					}
					return
				}
				if loc := rec.Header().Get("Location"); loc != "" || rec.Code != a.wantStatus {
					t.Fatalf("answered %d (Location %q), want %d in JSON", rec.Code, loc, a.wantStatus)
				}
				var body map[string]string
				if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
					t.Fatalf("answered %q: %s, want JSON", rec.Header().Get("Content-Type"), rec.Body)
				}
				if body["error"] != string(a.e.ErrorType) || strings.Contains(rec.Body.String(), ar.State) || strings.Contains(rec.Body.String(), ar.ID) {
					t.Fatalf("answered %s, want error %s and nothing of the request", rec.Body, a.e.ErrorType)
				}
				if rec.Header().Get("Cache-Control") != "no-store" {
					t.Fatal("a JSON error without Cache-Control: no-store (RFC 6749 5.1)")
				}
				if a.wantStatus == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After")
				}
				if len(st.ended) != 0 {
					t.Fatalf("requests ended %v: the answer owed to the app's navigation is gone", st.ended)
				}
			})
		}
	}
}
