package bridge

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// adminPreviewPage renders a claims preview for an administrator's browser.
var adminPreviewPage = template.Must(template.New("preview").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Claims preview · {{.Client}} · {{.Login}}</title></head>
<body>
<h1>What {{.Client}} receives for {{.Login}}</h1>
<p>Scopes: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}</p>
<p>Sign-in: <strong>{{.SignIn}}</strong>. Access rule: <strong>{{if .Access.Allowed}}admits the member{{else}}refuses the member{{end}}</strong>{{if .Access.Error}} ({{.Access.Error}}){{end}}.</p>
<h2>ID token</h2><pre>{{.IDTokenJSON}}</pre>
<h2>Userinfo</h2><pre>{{.UserinfoJSON}}</pre>
<h2>Access token</h2><pre>{{.AccessTokenJSON}}</pre>
</body></html>`))

// adminClaimsPreview answers GET /admin/claims-preview?client=&login=&scope=... with exactly
// the claims the client would get for the member (HTML for browsers, JSON otherwise).
func (s *Server) adminClaimsPreview(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, login := q.Get("client"), q.Get("login")
	if client == "" || login == "" {
		adminError(w, http.StatusBadRequest, "invalid_request", "client and login are required")
		return
	}
	var scopes []string
	for _, sc := range q["scope"] {
		scopes = append(scopes, strings.Fields(sc)...)
	}
	p, err := s.ClaimsPreview(r.Context(), client, login, scopes)
	if err != nil {
		adminError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	s.audit(r.Context(), &store.AuditEvent{Event: "admin.claims_preview", Login: login, ClientID: client, Detail: adminActor(r)})
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeAdminJSON(w, http.StatusOK, p)
		return
	}
	js := func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	}
	var buf bytes.Buffer
	err = adminPreviewPage.Execute(&buf, struct {
		*ClaimsPreview
		IDTokenJSON, UserinfoJSON, AccessTokenJSON string
	}{p, js(p.IDToken), js(p.Userinfo), js(p.AccessToken)})
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
