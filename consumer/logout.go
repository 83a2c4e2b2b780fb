package consumer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// BackChannelLogoutEvent is the events member of a logout token.
const BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a validated logout token.
type LogoutToken struct {
	Subject   string
	SessionID string
	ID        string // jti
	IssuedAt  time.Time
}

// maxLogoutAge bounds how old (by iat) a logout token may be, and the clock skew allowed.
const maxLogoutAge = 5 * time.Minute

// audience accepts a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = []string{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// VerifyLogoutToken validates a logout token as OIDC Back-Channel Logout 1.0 section 2.6 says:
// signature by a key of the issuer's JWKS, typ logout+jwt when present, iss, aud containing
// our client id, iat (not older than 5 minutes), exp (REQUIRED by section 2.4 since errata set
// 1; checked as for an ID token, with the same skew), sub and/or sid, the events claim with the
// back-channel logout member as a JSON object, no nonce, and a jti not seen before.
func (c *Consumer) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a signed JWT")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("bad JOSE header")
	}
	var hdr struct {
		Typ string `json:"typ"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, errors.New("bad JOSE header")
	}
	if hdr.Typ != "" && !strings.EqualFold(hdr.Typ, "logout+jwt") && !strings.EqualFold(hdr.Typ, "application/logout+jwt") {
		return nil, fmt.Errorf("typ %q is not logout+jwt", hdr.Typ)
	}
	if hdr.Alg == "none" || strings.HasPrefix(hdr.Alg, "HS") {
		return nil, fmt.Errorf("alg %q is not accepted", hdr.Alg)
	}
	payload, err := c.keys.VerifySignature(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	var cl struct {
		Iss    string                     `json:"iss"`
		Aud    audience                   `json:"aud"`
		Iat    *int64                     `json:"iat"`
		Exp    *int64                     `json:"exp"`
		Jti    string                     `json:"jti"`
		Sub    string                     `json:"sub"`
		Sid    string                     `json:"sid"`
		Events map[string]json.RawMessage `json:"events"`
		Nonce  *json.RawMessage           `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &cl); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	now := c.now()
	switch {
	case cl.Iss != c.cfg.Issuer:
		return nil, fmt.Errorf("iss %q is not %q", cl.Iss, c.cfg.Issuer)
	case !slices.Contains(cl.Aud, c.cfg.ClientID):
		return nil, errors.New("aud does not contain this client")
	case cl.Iat == nil:
		return nil, errors.New("no iat")
	case now.Sub(time.Unix(*cl.Iat, 0)) > maxLogoutAge || time.Unix(*cl.Iat, 0).Sub(now) > maxLogoutAge:
		return nil, errors.New("iat is too far from now")
	case cl.Exp == nil:
		return nil, errors.New("no exp")
	case !now.Before(time.Unix(*cl.Exp, 0).Add(maxLogoutAge)):
		return nil, errors.New("expired")
	case cl.Sub == "" && cl.Sid == "":
		return nil, errors.New("neither sub nor sid")
	case cl.Nonce != nil:
		return nil, errors.New("a logout token must not have a nonce")
	case cl.Jti == "":
		return nil, errors.New("no jti")
	}
	ev, ok := cl.Events[BackChannelLogoutEvent]
	var obj map[string]any
	if !ok || json.Unmarshal(ev, &obj) != nil || obj == nil {
		return nil, errors.New("events has no back-channel logout member object")
	}
	replay, err := c.seen(ctx, "jti:"+cl.Iss+":"+cl.Jti)
	if err != nil {
		return nil, err
	}
	if replay {
		return nil, errors.New("jti already used")
	}
	return &LogoutToken{Subject: cl.Sub, SessionID: cl.Sid, ID: cl.Jti, IssuedAt: time.Unix(*cl.Iat, 0)}, nil
}

// BackchannelLogoutHandler is the app's backchannel_logout_uri: it validates the logout token
// and ends the local sessions of that bridge session (sid) or member (sub).
func (c *Consumer) BackchannelLogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			logoutError(w, "the body must be a form")
			return
		}
		lt, err := c.VerifyLogoutToken(r.Context(), r.PostForm.Get("logout_token"))
		if err != nil {
			c.log.WarnContext(r.Context(), "consumer: logout token refused", "err", err)
			logoutError(w, err.Error())
			return
		}
		n, err := c.endSessions(r.Context(), lt.Subject, lt.SessionID)
		if err != nil {
			c.log.ErrorContext(r.Context(), "consumer: back-channel logout failed", "err", err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		c.log.InfoContext(r.Context(), "consumer: back-channel logout", "subject", lt.Subject, "sessions_ended", n)
		w.WriteHeader(http.StatusOK)
	})
}

func logoutError(w http.ResponseWriter, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": desc})
}
