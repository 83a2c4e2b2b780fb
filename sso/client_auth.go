package sso

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client authentication (RFC 6749 2.3) for every API endpoint: token, revocation,
// introspection and device authorization, and any endpoint added later through serveAPI. It
// runs before any grant is looked at, so a wrong secret is always 401 invalid_client, and a
// code or refresh token is never touched (nor its replay detection triggered) for a caller
// who has not authenticated.

// ClientAuthLimiter is an optional Hooks capability that throttles failed client
// authentications per client and client IP.
type ClientAuthLimiter interface {
	// ClientAuthAttempt reserves an attempt by clientID from r's client IP; a retryAfter > 0
	// refuses it (nothing is reserved then), and so does an error (the limiter cannot count:
	// the request is refused as temporarily unavailable, never let through).
	ClientAuthAttempt(r *http.Request, clientID string) (retryAfter time.Duration, err error)
	// ClientAuthResult reports a reserved attempt's outcome: a success takes the reservation
	// back, a failure keeps it counted.
	ClientAuthResult(r *http.Request, clientID string, ok bool)
}

// Client authentication methods (RFC 7591 2).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
)

type authenticatedKey struct{}

// authenticatedClient returns the client id the authenticator verified for this request.
func authenticatedClient(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(authenticatedKey{}).(string)
	return id, ok && id != ""
}

// clientAuthFailed is invalid_client's description for credentials that do not authenticate a
// confidential client, whether the id is unknown or the secret wrong or missing.
const clientAuthFailed = "client authentication failed"

func invalidClient(desc string) *GrantError {
	return &GrantError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: desc}
}

// credentials are what a request presents to identify its client.
type credentials struct {
	id, secret string
	method     string
}

// parseCredentials reads the client's credentials from the Basic header (both parts
// form-urlencoded by the client, RFC 6749 2.3.1) or the body (client_secret_post, or a
// public client's client_id). More than one method is refused (RFC 6749 2.3).
func parseCredentials(r *http.Request) (credentials, *GrantError) {
	form := r.PostForm
	if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
		return credentials{}, invalidClient("private_key_jwt and client assertions are not supported")
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		c := credentials{id: form.Get("client_id"), secret: form.Get("client_secret"), method: AuthMethodPost}
		if c.secret == "" {
			c.method = AuthMethodNone
		}
		if c.id == "" {
			return c, invalidClient("client authentication is required")
		}
		return c, nil
	}
	rawID, rawSecret, ok := basicAuth(authz)
	if !ok {
		return credentials{}, invalidClient("malformed or unsupported Authorization header; use Basic")
	}
	id, err1 := url.QueryUnescape(rawID)
	secret, err2 := url.QueryUnescape(rawSecret)
	if err1 != nil || err2 != nil || id == "" {
		return credentials{}, invalidClient("malformed Basic credentials (RFC 6749 2.3.1: form-urlencoded client id and secret)")
	}
	if form.Get("client_secret") != "" {
		return credentials{}, &GrantError{Status: http.StatusBadRequest, Code: "invalid_request",
			Description: "use one client authentication method, not Basic and client_secret together"}
	}
	if fid := form.Get("client_id"); fid != "" && fid != id {
		return credentials{}, &GrantError{Status: http.StatusBadRequest, Code: "invalid_request",
			Description: "client_id does not match the authenticated client"}
	}
	return credentials{id: id, secret: secret, method: AuthMethodBasic}, nil
}

// basicAuth is net/http's parseBasicAuth (Request.BasicAuth) of the Authorization header
// authz: the scheme's name in any case, standard base64 of "id:secret". The decoded
// credentials are one string (one allocation instead of the decoder's slice and its copy as a
// string) when they fit a stack buffer.
func basicAuth(authz string) (id, secret string, ok bool) {
	const prefix = "Basic "
	if len(authz) < len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return "", "", false
	}
	enc := authz[len(prefix):]
	var decoded string
	var stack [384]byte
	if base64.StdEncoding.DecodedLen(len(enc)) <= len(stack) {
		n, err := base64.StdEncoding.Decode(stack[:], []byte(enc))
		if err != nil {
			return "", "", false
		}
		decoded = string(stack[:n])
	} else {
		b, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return "", "", false
		}
		decoded = string(b)
	}
	if id, secret, ok = strings.Cut(decoded, ":"); !ok {
		return "", "", false
	}
	return id, secret, true
}

// authenticate identifies and authenticates the caller of an API endpoint. A confidential
// client must present its secret by client_secret_basic or client_secret_post; a public
// client presents its client_id only, and not at a confidential endpoint (introspection). On
// success the request's context carries the authenticated client and, unless forOp says op
// never reads it (the refresh grant, validated by the provider itself), the request is
// rewritten into one form op reads (decoded credentials), so op's own checks of the same
// credentials pass without a second verification.
func (p *Provider) authenticate(r *http.Request, confidential bool, forOp func(*http.Request) bool) (*ClientConfig, *http.Request, *GrantError) {
	ctx := r.Context()
	c, aerr := parseCredentials(r)
	if aerr != nil {
		if aerr.Status == http.StatusUnauthorized && c.id == "" && r.Header.Get("Authorization") != "" {
			p.storage.hooks.Event(ctx, "client.auth_failure", "", "", "malformed credentials")
		}
		return nil, nil, aerr
	}
	if len(c.id) > 128 || len(c.secret) > 512 {
		return nil, nil, invalidClient(clientAuthFailed)
	}
	limiter := p.storage.limiter
	cfg, err := p.storage.clientConfig(ctx, c.id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		p.log(ctx).ErrorContext(ctx, "client lookup failed", "err", err)
		return nil, nil, &GrantError{Status: http.StatusInternalServerError, Code: "server_error", Description: "client lookup failed"}
	}
	if cfg != nil && cfg.Public {
		// Nothing to verify, nothing to guess: no throttling. "a public client has no secret"
		// tells that the id is a public client's, which hides nothing: a public client is
		// authenticated by its id alone, so the same request without the secret tells it too
		// (review s25 X-10), and the description points its developer at the mistake.
		if c.secret != "" {
			return nil, nil, invalidClient("a public client has no secret")
		}
		if confidential {
			return nil, nil, invalidClient("introspection requires an authenticated confidential client")
		}
		if e := p.unusableClient(ctx, cfg); e != nil {
			return nil, nil, e
		}
		return cfg, p.normalize(r, c, forOp(r)), nil
	}
	if limiter != nil {
		ra, err := limiter.ClientAuthAttempt(r, c.id)
		if err != nil {
			p.log(ctx).ErrorContext(ctx, "client authentication limiter unavailable", "err", err)
			return nil, nil, &GrantError{Status: http.StatusServiceUnavailable, Code: "temporarily_unavailable",
				Description: "client authentication cannot be checked right now; retry later", RetryAfter: 30 * time.Second}
		}
		if ra > 0 {
			p.storage.hooks.Event(ctx, "client.throttled", "", clientIDIfKnown(cfg), "too many failed client authentications")
			e := &GrantError{Status: http.StatusTooManyRequests, Code: "invalid_client",
				Description: "too many failed client authentications; try again later", RetryAfter: ra}
			return nil, nil, e
		}
	}
	ok := false
	if cfg == nil {
		(&ClientConfig{SecretHash: dummySecretHash}).VerifySecret(c.secret) // same work as a known client
	} else {
		ok = cfg.VerifySecret(c.secret)
	}
	if limiter != nil {
		limiter.ClientAuthResult(r, c.id, ok)
	}
	if !ok {
		detail := "wrong secret (" + c.method + ")"
		switch {
		case cfg == nil:
			detail = "unknown client"
		case c.secret == "":
			detail = "no secret presented"
		}
		p.storage.hooks.Event(ctx, "client.auth_failure", "", clientIDIfKnown(cfg), detail)
		// One answer for an unknown id and a known one with a wrong or missing secret (review
		// s25 X-10): RFC 6749 5.2 has one error for both ("Client authentication failed (e.g.,
		// unknown client, no client authentication included, or unsupported authentication
		// method)"), and the dummy verification above gives both the same work, which a
		// description telling them apart would undo. The audit row (detail) keeps the reason.
		return nil, nil, invalidClient(clientAuthFailed)
	}
	if e := p.unusableClient(ctx, cfg); e != nil {
		return nil, nil, e
	}
	return cfg, p.normalize(r, c, forOp(r)), nil
}

// unusableClient refuses, once it has authenticated, a client that is not served
// (ClientConfig.Unusable): unauthorized_client (RFC 6749 5.2: the client is known, and may not
// use the endpoint), with the reason, and an audit line (client.unusable).
func (p *Provider) unusableClient(ctx context.Context, cfg *ClientConfig) *GrantError {
	why := cfg.Unusable()
	if why == "" {
		return nil
	}
	p.storage.hooks.Event(ctx, "client.unusable", "", cfg.ID, "refused at an API endpoint")
	return &GrantError{Code: "unauthorized_client", Description: why}
}

// clientIDIfKnown names the client in audit rows only when it exists (a typed id may be junk).
func clientIDIfKnown(cfg *ClientConfig) string {
	if cfg == nil {
		return ""
	}
	return cfg.ID
}

// normalize rewrites an authenticated request into the form op reads (forOp): a confidential
// client's decoded credentials in a Basic header op decodes again (op's introspection reads
// only Basic), a public client's id in the body; the context carries the authenticated client
// id. A request op does not read (the token endpoint's: its grants are the provider's own) is
// left as it is.
func (p *Provider) normalize(r *http.Request, c credentials, forOp bool) *http.Request {
	if !forOp {
		// Only op's check of the credentials (storage.AuthorizeClientIDSecret) reads the
		// authenticated client from the context: a request op never reads needs no copy.
		return r
	}
	r = r.WithContext(context.WithValue(r.Context(), authenticatedKey{}, c.id))
	r.Header = r.Header.Clone()
	r.Header.Del("Authorization")
	for _, f := range []url.Values{r.Form, r.PostForm} {
		f.Del("client_secret")
		f.Del("client_id")
	}
	if c.secret != "" {
		r.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	} else {
		r.Form.Set("client_id", c.id)
		r.PostForm.Set("client_id", c.id)
	}
	return r
}
