package sim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// tokenResponse is the OWIN token answer, fields in OWIN's order.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	UserName     string `json:"userName"`
	Issued       string `json:".issued"`
	Expires      string `json:".expires"`
}

// OWIN-style error descriptions.
const (
	descBadPassword   = "The user name or password is incorrect."
	descBadClient     = "Client credentials are invalid."
	descBadRefresh    = "The refresh token is invalid or has expired."
	descUnavailable   = "The membership system is unavailable."
	descNotForm       = "The token request must be a POST with Content-Type application/x-www-form-urlencoded."
	descNoGrantType   = "grant_type is required."
	descUnknownGrant  = "The grant type is not supported."
	descTooManyTokens = "Too many outstanding tokens; try again later."
)

// token is the OWIN token endpoint.
func (s *Simulator) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !s.applyFaults(w, r) {
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", descNotForm)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", descNotForm)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "The request body could not be read.")
		return
	}
	f := r.PostForm
	switch gt := f.Get("grant_type"); gt {
	case "refresh_token":
		c, ok := s.clientAuth(r)
		if !ok {
			s.log.InfoContext(ctx, "token: client authentication failed", slog.String("client_id", clientIDOf(r)))
			oauthError(w, http.StatusBadRequest, "invalid_client", descBadClient)
			return
		}
		g, ok := s.store.takeGrant(f.Get("refresh_token"))
		if !ok || g.clientID != c.ClientID {
			s.log.InfoContext(ctx, "token: refresh token rejected", slog.String("client_id", c.ClientID))
			oauthError(w, http.StatusBadRequest, "invalid_grant", descBadRefresh)
			return
		}
		next, _, err := s.store.newGrant(g.login, c.ClientID, c.RefreshTokenLifetime)
		if err != nil {
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", descTooManyTokens)
			return
		}
		s.log.InfoContext(ctx, "token: refresh grant", slog.String("login", g.login), slog.String("client_id", c.ClientID))
		s.writeToken(w, g.login, next)
	case "password":
		if f.Get("client_id") != "" || hasBasicAuth(r) {
			if _, ok := s.clientAuth(r); !ok {
				oauthError(w, http.StatusBadRequest, "invalid_client", descBadClient)
				return
			}
		}
		username, password := f.Get("username"), f.Get("password")
		if username == "" || password == "" {
			oauthError(w, http.StatusBadRequest, "invalid_grant", descBadPassword)
			return
		}
		m, err := s.cfg.Authenticator.Authenticate(ctx, username, password)
		switch {
		case errors.Is(err, legacy.ErrUnavailable):
			s.log.WarnContext(ctx, "token: password grant: directory unavailable", slog.String("error", err.Error()))
			oauthError(w, http.StatusServiceUnavailable, "server_error", descUnavailable)
			return
		case err != nil:
			s.log.InfoContext(ctx, "token: password grant rejected", slog.String("reason", legacy.Reason(err)))
			oauthError(w, http.StatusBadRequest, "invalid_grant", descBadPassword)
			return
		}
		login := m.Login
		if login == "" {
			login = username
		}
		s.log.InfoContext(ctx, "token: password grant", slog.String("login", login))
		s.writeToken(w, login, "")
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", descNoGrantType)
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", descUnknownGrant)
	}
}

// applyFaults injects the configured faults; false means the answer has been given.
func (s *Simulator) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	f := s.currentFaults()
	if f.Delay > 0 {
		// Read the body first: only then does the server notice a client that gives up.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
		if err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "The request body could not be read.")
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	switch {
	case f.HangUp:
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxFormBytes))
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
		} else {
			panic(http.ErrAbortHandler)
		}
		return false
	case f.Status != 0:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, "<!DOCTYPE html><html><head><title>Runtime Error</title></head><body><h1>Server Error in '/' Application.</h1></body></html>")
		return false
	case f.Garbage:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = io.WriteString(w, "<html><body>Object moved to <a href=\"/Login.aspx\">here</a>.</body></html>")
		return false
	}
	return true
}

// clientAuth authenticates the client from the form or HTTP Basic, comparing the secret
// in constant time.
func (s *Simulator) clientAuth(r *http.Request) (*ClientApp, bool) {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok && id == "" {
		id, secret = bid, bsecret
	}
	c, known := s.clients[id]
	want := "\x00no client" // compared anyway, so that unknown clients take the same time
	if known {
		want = c.ClientSecret
	}
	a, b := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(want))
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 || !known || secret == "" {
		return nil, false
	}
	return c, true
}

func clientIDOf(r *http.Request) string {
	if id := r.PostForm.Get("client_id"); id != "" {
		return id
	}
	id, _, _ := r.BasicAuth()
	return id
}

func hasBasicAuth(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}

func (s *Simulator) writeToken(w http.ResponseWriter, login, refresh string) {
	now := s.cfg.Now().UTC()
	life := s.cfg.AccessTokenLifetime
	resp := tokenResponse{
		AccessToken:  accessToken(), // opaque; nothing in the simulator accepts it
		TokenType:    "bearer",
		ExpiresIn:    int64((life - time.Second) / time.Second), // OWIN reports one second less
		RefreshToken: refresh,
		UserName:     login,
		Issued:       now.Format(http.TimeFormat),
		Expires:      now.Add(life).Format(http.TimeFormat),
	}
	writeJSON(w, http.StatusOK, resp)
}

func accessToken() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
