package bridge

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// AdminHandler is the admin HTTP API (JSON), or nil when the admin API is off. Serve it on
// Config.Admin.Listen, never on the public listener:
//
//	GET    /admin/tokens?login=&subject=&client=&id=   live grants (refresh-token families)
//	POST   /admin/tokens/revoke    {"id"|"login"|"subject", "client"}
//	GET    /admin/sessions?login=&subject=&client=&id=
//	POST   /admin/sessions/revoke  {"id"|"login"|"subject", "client"}
//	GET    /admin/clients          POST /admin/clients (the secret is in the answer, once)
//	GET    /admin/clients/{id}     DELETE /admin/clients/{id}
//	POST   /admin/clients/{id}/rotate-secret
//	GET    /admin/claims-preview?client=&login=&scope=...   (HTML for browsers, JSON otherwise)
//
// Every call needs "Authorization: Bearer <admin.token>" and is written to the audit log.
func (s *Server) AdminHandler() http.Handler {
	if !s.cfg.Admin.Enabled() || s.admin == nil {
		return nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/tokens", s.adminTokens)
	mux.HandleFunc("POST /admin/tokens/revoke", s.adminRevokeTokens)
	mux.HandleFunc("GET /admin/sessions", s.adminSessions)
	mux.HandleFunc("POST /admin/sessions/revoke", s.adminEndSessions)
	mux.HandleFunc("GET /admin/clients", s.adminClients)
	mux.HandleFunc("POST /admin/clients", s.adminCreateClient)
	mux.HandleFunc("GET /admin/clients/{id}", s.adminClient)
	mux.HandleFunc("DELETE /admin/clients/{id}", s.adminDeleteClient)
	mux.HandleFunc("POST /admin/clients/{id}/rotate-secret", s.adminRotateSecret)
	mux.HandleFunc("GET /admin/claims-preview", s.adminClaimsPreview)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
	})
	want := sha256.Sum256([]byte(s.cfg.Admin.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			h.Set("WWW-Authenticate", `Bearer realm="ssobridge-admin"`)
			adminError(w, http.StatusUnauthorized, "invalid_request", "admin bearer token required")
			return
		}
		// Compare digests in constant time: neither the content nor the length leaks.
		got := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			s.audit(r.Context(), &store.AuditEvent{Event: "admin.auth_failure", IP: adminIP(r), Detail: r.Method + " " + r.URL.Path})
			h.Set("WWW-Authenticate", `Bearer realm="ssobridge-admin", error="invalid_token"`)
			adminError(w, http.StatusUnauthorized, "invalid_token", "wrong admin token")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		mux.ServeHTTP(w, r)
	})
}

func adminIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// adminActor names the caller in the audit log.
func adminActor(r *http.Request) string { return "admin-api@" + adminIP(r) }

func adminError(w http.ResponseWriter, status int, code, desc string) {
	writeAdminJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeAdminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// adminFail answers an Admin error with its status.
func (s *Server) adminFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrAdminNotFound):
		adminError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrAdminInvalid):
		adminError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, ErrAdminStatic):
		adminError(w, http.StatusConflict, "static_client", err.Error())
	default:
		s.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		adminError(w, http.StatusInternalServerError, "server_error", "the request failed; see the server log")
	}
}

func filterFromQuery(r *http.Request) Filter {
	q := r.URL.Query()
	return Filter{ID: q.Get("id"), Login: q.Get("login"), Subject: q.Get("subject"), Client: q.Get("client")}
}

func decodeAdminBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return fmt.Errorf("%w: Content-Type must be application/json", ErrAdminInvalid)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %v", ErrAdminInvalid, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: body: one JSON object expected", ErrAdminInvalid)
	}
	return nil
}

func (s *Server) adminTokens(w http.ResponseWriter, r *http.Request) {
	out, err := s.admin.Tokens(r.Context(), adminActor(r), filterFromQuery(r))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"tokens": out})
}

func (s *Server) adminRevokeTokens(w http.ResponseWriter, r *http.Request) {
	var f Filter
	if err := decodeAdminBody(r, &f); err != nil {
		s.adminFail(w, r, err)
		return
	}
	n, err := s.admin.RevokeTokens(r.Context(), adminActor(r), f)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]int{"revoked": n})
}

func (s *Server) adminSessions(w http.ResponseWriter, r *http.Request) {
	out, err := s.admin.Sessions(r.Context(), adminActor(r), filterFromQuery(r))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"sessions": out})
}

func (s *Server) adminEndSessions(w http.ResponseWriter, r *http.Request) {
	var f Filter
	if err := decodeAdminBody(r, &f); err != nil {
		s.adminFail(w, r, err)
		return
	}
	n, err := s.admin.EndSessions(r.Context(), adminActor(r), f)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]int{"ended": n})
}

func (s *Server) staticClients(ctx context.Context) []*sso.ClientConfig {
	var out []*sso.ClientConfig
	for _, c := range s.registry.All(ctx) {
		if s.registry.IsStatic(c.ID) {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) adminClients(w http.ResponseWriter, r *http.Request) {
	out, err := s.admin.Clients(r.Context(), adminActor(r), s.staticClients(r.Context()))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]any{"clients": out})
}

func (s *Server) adminClient(w http.ResponseWriter, r *http.Request) {
	c, err := s.admin.Client(r.Context(), adminActor(r), r.PathValue("id"), s.staticClients(r.Context()))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, c)
}

func (s *Server) adminCreateClient(w http.ResponseWriter, r *http.Request) {
	var c sso.ClientConfig
	if err := decodeAdminBody(r, &c); err != nil {
		s.adminFail(w, r, err)
		return
	}
	info, secret, err := s.admin.CreateClient(r.Context(), adminActor(r), c)
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusCreated, struct {
		*ClientInfo
		ClientSecret string `json:"client_secret,omitempty"`
	}{info, secret})
}

func (s *Server) adminDeleteClient(w http.ResponseWriter, r *http.Request) {
	if err := s.admin.DeleteClient(r.Context(), adminActor(r), r.PathValue("id")); err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]string{"deleted": r.PathValue("id")})
}

func (s *Server) adminRotateSecret(w http.ResponseWriter, r *http.Request) {
	secret, err := s.admin.RotateSecret(r.Context(), adminActor(r), r.PathValue("id"))
	if err != nil {
		s.adminFail(w, r, err)
		return
	}
	writeAdminJSON(w, http.StatusOK, map[string]string{"client_id": r.PathValue("id"), "client_secret": secret})
}
