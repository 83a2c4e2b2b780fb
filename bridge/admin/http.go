package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/throttle"
)

// Handler is the admin HTTP API (JSON) of the service, guarded by the bearer token. Serve it on
// its own listener, never on the public one:
//
//	GET    /admin/tokens?login=&subject=&client=&id=   live grants (refresh-token families)
//	POST   /admin/tokens/revoke    {"id"|"login"|"subject", "client"}
//	GET    /admin/sessions?login=&subject=&client=&id=
//	POST   /admin/sessions/revoke  {"id"|"login"|"subject", "client"}
//	GET    /admin/clients          POST /admin/clients (the secret is in the answer, once)
//	GET    /admin/clients/{id}     DELETE /admin/clients/{id}
//	PUT    /admin/clients/{id}     the whole registration replaced (a field left out takes its
//	                               default: mfa optional); its id, secret and type stay
//	POST   /admin/clients/{id}/rotate-secret
//	GET    /admin/claims-preview?client=&login=&scope=...   (HTML for browsers, JSON otherwise)
//	POST   /admin/mfa/reset        {"login"|"subject"}   a member's second factors removed, their sessions ended and grants revoked
//	POST   /admin/mfa/invite       {"login"|"subject"}   a one-time enrolment invitation for the member: {"subject", "code", "expires_at"}, the code shown this once
//	GET    /admin/log-level        PUT /admin/log-level {"level": "debug"|"info"|"warn"|"error"}
//	GET    /admin/keys             the published signing keys (kid, alg, signs from/until, in JWKS until,
//	                               signing, openssl_refused: this server's OpenSSL refused it)
//	POST   /admin/keys/{kid}/retire  the key withdrawn now (it may be compromised): it leaves JWKS,
//	                               tokens it signed stop verifying, a successor signs at once (409
//	                               openssl_refused, nothing changed, when OpenSSL refuses it here)
//	GET    /admin/saml/keys        the SAML signing keys in the metadata (kid, signs from/until,
//	                               in metadata until, certificate SHA-256)
//	POST   /admin/saml/keys/{kid}/retire  the SAML key withdrawn now: it leaves the metadata, a
//	                               successor signs at once (SPs must read the metadata again)
//	GET    /admin/saml/service-providers/{sp}  a SAML SP (id or entity id): its settings, endpoints,
//	                               certificates (expiry), validUntil, whether it is served (saml.go)
//	PATCH  /admin/saml/service-providers/{sp}  a registered SAML SP's settings changed in place
//	                               {"name_id_format", "allow_insecure_soap_slo"} (saml.go)
//
// Every call needs "Authorization: Bearer <token>" and is written to the audit log. Wrong
// tokens are audited up to AuthFailureBudget a minute per source address, then answered 429
// and summarised (authlimit.go).
func (a *Service) Handler(token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/tokens", a.httpTokens)
	mux.HandleFunc("POST /admin/tokens/revoke", a.httpRevoke("revoked", a.RevokeTokens))
	mux.HandleFunc("GET /admin/sessions", a.httpSessions)
	mux.HandleFunc("POST /admin/sessions/revoke", a.httpRevoke("ended", a.EndSessions))
	mux.HandleFunc("GET /admin/clients", a.httpClients)
	mux.HandleFunc("POST /admin/clients", a.httpCreateClient)
	mux.HandleFunc("GET /admin/clients/{id}", a.httpClient)
	mux.HandleFunc("DELETE /admin/clients/{id}", a.httpDeleteClient)
	mux.HandleFunc("PUT /admin/clients/{id}", a.httpUpdateClient)
	mux.HandleFunc("POST /admin/clients/{id}/rotate-secret", a.httpRotateSecret)
	mux.HandleFunc("GET /admin/claims-preview", a.httpClaimsPreview)
	mux.HandleFunc("POST /admin/mfa/reset", a.httpRevoke("reset", a.ResetFactors))
	mux.HandleFunc("POST /admin/mfa/invite", a.httpIssueInvite)
	mux.HandleFunc("GET /admin/log-level", a.httpLogLevel)
	mux.HandleFunc("PUT /admin/log-level", a.httpSetLogLevel)
	mux.HandleFunc("GET /admin/keys", a.httpSigningKeys)
	mux.HandleFunc("POST /admin/keys/{kid}/retire", a.httpRetireSigningKey)
	mux.HandleFunc("GET /admin/saml/keys", a.httpSAMLSigningKeys)
	mux.HandleFunc("POST /admin/saml/keys/{kid}/retire", a.httpRetireSAMLSigningKey)
	mux.HandleFunc("GET /admin/saml/service-providers/{sp}", a.httpSAMLServiceProvider)
	mux.HandleFunc("PATCH /admin/saml/service-providers/{sp}", a.httpChangeSAMLSettings)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
	})
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		// RFC 7235 2.1: the scheme name is case-insensitive ("bearer", "BEARER").
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			h.Set("WWW-Authenticate", `Bearer realm="ssobridge-admin"`)
			writeError(w, http.StatusUnauthorized, "invalid_request", "admin bearer token required")
			return
		}
		// Compare digests in constant time: neither the content nor the length leaks.
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			// Bounded per source address (authlimit.go): the first ones audited, the rest 429.
			if refused, wait := a.wrongToken(r.Context(), clientIP(r), r.Method+" "+r.URL.Path); refused {
				h.Set("Retry-After", throttle.RetryAfterSeconds(wait))
				writeError(w, http.StatusTooManyRequests, "slow_down", "too many wrong admin tokens from this address; retry later")
				return
			}
			h.Set("WWW-Authenticate", `Bearer realm="ssobridge-admin", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid_token", "wrong admin token")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		mux.ServeHTTP(w, r)
	})
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// actor names the caller in the audit log.
func actor(r *http.Request) string { return "admin-api@" + clientIP(r) }

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail answers an error of the service with its status.
func (a *Service) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, ErrStatic):
		writeError(w, http.StatusConflict, "static_client", err.Error())
	case errors.Is(err, ErrOtherEncryptionKey):
		writeError(w, http.StatusConflict, "other_encryption_key", err.Error())
	case errors.Is(err, ErrSuccessorRefused):
		writeError(w, http.StatusConflict, "openssl_refused", err.Error())
	default:
		a.log().ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "the request failed; see the server log")
	}
}

func filterFromQuery(r *http.Request) Filter {
	q := r.URL.Query()
	return Filter{ID: q.Get("id"), Login: q.Get("login"), Subject: q.Get("subject"), Client: q.Get("client")}
}

func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: Content-Type must be application/json", ErrInvalid)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body: one JSON object expected", ErrInvalid)
	}
	return nil
}

// answer writes v with status, or the error's answer when err is set.
func (a *Service) answer(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// bodyFilter decodes the JSON body of a revoke call.
func bodyFilter(r *http.Request) (Filter, error) {
	var f Filter
	err := decodeBody(r, &f)
	return f, err
}

func (a *Service) httpTokens(w http.ResponseWriter, r *http.Request) {
	out, err := a.Tokens(r.Context(), actor(r), filterFromQuery(r))
	a.answer(w, r, http.StatusOK, map[string]any{"tokens": out}, err)
}

// httpRevoke answers a revoke call: the filter in the body, the count under key.
func (a *Service) httpRevoke(key string, revoke func(ctx context.Context, actor string, f Filter) (int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := bodyFilter(r)
		n := 0
		if err == nil {
			n, err = revoke(r.Context(), actor(r), f)
		}
		a.answer(w, r, http.StatusOK, map[string]int{key: n}, err)
	}
}

func (a *Service) httpIssueInvite(w http.ResponseWriter, r *http.Request) {
	f, err := bodyFilter(r)
	var inv *Invitation
	if err == nil {
		inv, err = a.IssueInvite(r.Context(), actor(r), f)
	}
	a.answer(w, r, http.StatusCreated, inv, err)
}

func (a *Service) httpSessions(w http.ResponseWriter, r *http.Request) {
	out, err := a.Sessions(r.Context(), actor(r), filterFromQuery(r))
	a.answer(w, r, http.StatusOK, map[string]any{"sessions": out}, err)
}

func (a *Service) httpClients(w http.ResponseWriter, r *http.Request) {
	out, err := a.Clients(r.Context(), actor(r))
	a.answer(w, r, http.StatusOK, map[string]any{"clients": out}, err)
}

func (a *Service) httpClient(w http.ResponseWriter, r *http.Request) {
	c, err := a.Client(r.Context(), actor(r), r.PathValue("id"))
	a.answer(w, r, http.StatusOK, c, err)
}

func (a *Service) httpCreateClient(w http.ResponseWriter, r *http.Request) {
	var c Client
	var info *ClientInfo
	secret := ""
	err := decodeBody(r, &c)
	if err == nil {
		info, secret, err = a.CreateClient(r.Context(), actor(r), c)
	}
	a.answer(w, r, http.StatusCreated, struct {
		*ClientInfo
		ClientSecret string `json:"client_secret,omitempty"`
	}{info, secret}, err)
}

// httpUpdateClient replaces a dynamic client's registration (RFC 7592 style: what the body
// leaves out takes its default); an id in the body must be the path's.
func (a *Service) httpUpdateClient(w http.ResponseWriter, r *http.Request) {
	var c Client
	var info *ClientInfo
	err := decodeBody(r, &c)
	if err == nil && c.ID != "" && c.ID != r.PathValue("id") {
		err = fmt.Errorf("%w: id %q in the body is not the client %q of the path", ErrInvalid, c.ID, r.PathValue("id"))
	}
	if err == nil {
		info, err = a.UpdateClient(r.Context(), actor(r), r.PathValue("id"), c)
	}
	a.answer(w, r, http.StatusOK, info, err)
}

func (a *Service) httpDeleteClient(w http.ResponseWriter, r *http.Request) {
	removed, err := a.RemoveClient(r.Context(), actor(r), r.PathValue("id"))
	a.answer(w, r, http.StatusOK, removed, err)
}

func (a *Service) httpRotateSecret(w http.ResponseWriter, r *http.Request) {
	secret, err := a.RotateSecret(r.Context(), actor(r), r.PathValue("id"))
	a.answer(w, r, http.StatusOK, map[string]string{"client_id": r.PathValue("id"), "client_secret": secret}, err)
}

// previewPage renders a claims preview for an administrator's browser.
var previewPage = template.Must(template.New("preview").Parse(`<!doctype html>
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

// httpClaimsPreview answers GET /admin/claims-preview?client=&login=&scope=... with exactly
// the claims the client would get for the member (HTML for browsers, JSON otherwise).
func (a *Service) httpClaimsPreview(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	client, login := q.Get("client"), q.Get("login")
	if client == "" || login == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "client and login are required")
		return
	}
	var scopes []string
	for _, sc := range q["scope"] {
		scopes = append(scopes, strings.Fields(sc)...)
	}
	p, err := a.ClaimsPreview(r.Context(), actor(r), client, login, scopes)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", err.Error())
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeJSON(w, http.StatusOK, p)
		return
	}
	js := func(v any) string {
		b, _ := json.MarshalIndent(v, "", "  ")
		return string(b)
	}
	var buf bytes.Buffer
	err = previewPage.Execute(&buf, struct {
		*ClaimsPreview
		IDTokenJSON, UserinfoJSON, AccessTokenJSON string
	}{p, js(p.IDToken), js(p.Userinfo), js(p.AccessToken)})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}
