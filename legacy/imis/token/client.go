package token

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// maxGrantInput bounds the refresh token and password we are willing to send. iMIS refresh
// tokens are 32 hex characters; anything huge is not one, and is never sent.
const maxGrantInput = 4 << 10

// Client calls the AMS token endpoint. It is safe for concurrent use.
type Client struct {
	cfg      Config // with defaults
	tokenURL string
	hc       *http.Client
	log      *slog.Logger
	backoff  func(attempt int) time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithLogger sets the logger (default: discard). Nothing secret is ever logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *Client) {
		if l != nil {
			c.log = l
		}
	}
}

// WithHTTPClient replaces the HTTP client New builds. The caller then owns the timeout and
// TLS settings; redirects are still never followed.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			cp := *hc
			cp.CheckRedirect = noRedirects
			c.hc = &cp
		}
	}
}

// New validates cfg, applies its defaults and returns a Client.
func New(cfg Config, opts ...Option) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	c := &Client{
		cfg:      cfg,
		tokenURL: cfg.TokenURL,
		log:      slog.New(slog.DiscardHandler),
		backoff:  func(attempt int) time.Duration { return time.Duration(attempt) * 200 * time.Millisecond },
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		hc, err := newHTTPClient(cfg)
		if err != nil {
			return nil, err
		}
		c.hc = hc
	}
	if cfg.InsecureSkipVerify {
		c.log.Warn("ams: TLS certificate verification is OFF (ams.insecure_skip_verify); use only for test sites",
			slog.String("token_url", c.tokenURL))
	}
	if u, err := url.Parse(c.tokenURL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		c.log.Warn("ams: the token endpoint is plain http; the client secret and members' refresh tokens cross the network unencrypted",
			slog.String("token_url", c.tokenURL))
	}
	return c, nil
}

// TokenURL is the token endpoint the client posts to.
func (c *Client) TokenURL() string { return c.tokenURL }

func newHTTPClient(cfg Config) (*http.Client, error) {
	tlsCfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // explicit, logged opt-out for test sites
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ams.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ams.ca_file: %s contains no PEM certificate", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	tr.MaxResponseHeaderBytes = MaxResponseBytes
	tr.ResponseHeaderTimeout = cfg.Timeout
	tr.TLSHandshakeTimeout = min(tr.TLSHandshakeTimeout, cfg.Timeout)
	return &http.Client{Transport: tr, Timeout: cfg.Timeout, CheckRedirect: noRedirects}, nil
}

// noRedirects: a redirect would re-send the secret (307/308) or turn the POST into a GET of
// a login page; it is reported instead.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// RefreshGrant exchanges a refresh token (the one the iMIS SSO iPart POSTs) for a token:
// grant_type=refresh_token with our client_id and client_secret. Token.UserName is the
// member's AMS login. A refresh token may be single-use, so the request is retried only when
// it never left this process.
func (c *Client) RefreshGrant(ctx context.Context, refreshToken string) (*Token, error) {
	if refreshToken == "" {
		return nil, fmt.Errorf("imis/token: refresh_token grant: empty refresh token: %w", ErrInvalidGrant)
	}
	if len(refreshToken) > maxGrantInput {
		return nil, fmt.Errorf("imis/token: refresh_token grant: refresh token longer than %d bytes: %w", maxGrantInput, ErrInvalidGrant)
	}
	return c.exchange(ctx, grantRefresh, c.refreshParams(refreshToken), []string{refreshToken, c.cfg.ClientSecret})
}

// PasswordGrant exchanges a user name and password (a service account's) for a token:
// grant_type=password&username=...&password=... (iMIS documents this grant without
// client credentials). Wrong credentials give ErrInvalidGrant.
func (c *Client) PasswordGrant(ctx context.Context, username, password string) (*Token, error) {
	if username == "" || password == "" {
		return nil, fmt.Errorf("imis/token: password grant: empty user name or password: %w", ErrInvalidGrant)
	}
	if len(username) > maxGrantInput || len(password) > maxGrantInput {
		return nil, fmt.Errorf("imis/token: password grant: user name or password longer than %d bytes: %w", maxGrantInput, ErrInvalidGrant)
	}
	params := []param{{"grant_type", "password"}, {"username", username}, {"password", password}}
	return c.exchange(ctx, grantPassword, params, []string{password, c.cfg.ClientSecret})
}

func (c *Client) refreshParams(refreshToken string) []param {
	return []param{
		{"grant_type", "refresh_token"},
		{"client_id", c.cfg.ClientID},
		{"client_secret", c.cfg.ClientSecret},
		{"refresh_token", refreshToken},
	}
}

const (
	grantRefresh  = "refresh_token"
	grantPassword = "password"
)

type param struct{ name, value string }

func (c *Client) exchange(ctx context.Context, grant string, params []param, secrets []string) (*Token, error) {
	attempts := 1 + *c.cfg.Retries
	for attempt := 1; ; attempt++ {
		tok, info := c.once(ctx, grant, params, secrets)
		if info.err == nil {
			return tok, nil
		}
		if !info.retryable || attempt >= attempts || ctx.Err() != nil {
			return nil, info.err
		}
		wait := c.backoff(attempt)
		c.log.WarnContext(ctx, "ams: token request failed, retrying",
			slog.String("grant", grant), slog.Int("attempt", attempt), slog.Duration("wait", wait),
			slog.String("error", info.err.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, info.err
		case <-t.C:
		}
	}
}

// attempt describes one HTTP exchange, for retries and for Check's diagnosis.
type attempt struct {
	err         error // nil on success; otherwise what the caller gets
	transport   error // the transport failure, if there was no HTTP answer
	status      int
	code        string // OAuth error code of a 4xx/5xx answer
	contentType string
	location    string // of a 3xx answer, without query
	notToken    error  // why a 200 answer was not a token response
	elapsed     time.Duration
	retryable   bool
}

func (c *Client) once(ctx context.Context, grant string, params []param, secrets []string) (*Token, attempt) {
	op := "imis/token " + grant + " grant"
	var a attempt
	body, ctype, err := c.encode(params)
	if err != nil {
		a.err = legacy.Unavailable(op, err)
		return nil, a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, bytes.NewReader(body))
	if err != nil {
		a.err = legacy.Unavailable(op, fmt.Errorf("building the request: %w", err))
		return nil, a
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ssobridge")
	var gotConn atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { gotConn.Store(true) },
	}))

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		a.elapsed = time.Since(start)
		a.transport = err
		a.err = legacy.Unavailable(op, err)
		switch grant {
		case grantRefresh:
			// Only a failed dial proves that not one byte of the token reached the AMS.
			a.retryable = !gotConn.Load() && isDialError(err)
		default:
			a.retryable = !isTimeout(err) && ctx.Err() == nil
		}
		c.log.DebugContext(ctx, "ams: token request failed", slog.String("grant", grant),
			slog.Duration("elapsed", a.elapsed), slog.String("error", err.Error()))
		return nil, a
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	a.elapsed = time.Since(start)
	a.status = resp.StatusCode
	a.contentType = sanitize(resp.Header.Get("Content-Type"))
	c.log.DebugContext(ctx, "ams: token response", slog.String("grant", grant),
		slog.Int("status", resp.StatusCode), slog.Duration("elapsed", a.elapsed), slog.Int("bytes", len(data)))
	if err != nil {
		a.transport = err
		a.err = legacy.Unavailable(op, fmt.Errorf("HTTP %d: reading the answer: %w", resp.StatusCode, err))
		return nil, a
	}
	if len(data) > MaxResponseBytes {
		a.err = legacy.Unavailable(op, fmt.Errorf("HTTP %d: the answer is larger than %d bytes", resp.StatusCode, MaxResponseBytes))
		return nil, a
	}

	switch st := resp.StatusCode; {
	case st == http.StatusOK:
		tok, err := parseToken(data, c.cfg.Fields)
		if err != nil {
			a.notToken = err
			a.err = legacy.Unavailable(op, fmt.Errorf("HTTP 200 (content-type %q, %d bytes): %w", a.contentType, len(data), err))
			return nil, a
		}
		return tok, a
	case st >= 300 && st < 400:
		a.location = safeLocation(resp)
		a.err = legacy.Unavailable(op, fmt.Errorf("HTTP %d: the token endpoint redirects to %q (redirects are not followed; set token_url to the final URL)", st, a.location))
		return nil, a
	}

	oe, isOAuth := parseOAuthError(data)
	e := &Error{Grant: grant, StatusCode: resp.StatusCode}
	if isOAuth {
		e.Code = oe.Code
		e.Description = sanitize(oe.Description, secrets...)
	}
	a.code = e.Code
	switch {
	case e.Code == "invalid_grant" && resp.StatusCode == http.StatusBadRequest:
		a.err = e
	case e.Code == "invalid_client" && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized):
		a.err = e
	default:
		if !isOAuth && len(data) > 0 {
			a.err = legacy.Unavailable(op, fmt.Errorf("%w (content-type %q, %d bytes)", e, a.contentType, len(data)))
		} else {
			a.err = legacy.Unavailable(op, e)
		}
		// A busy or restarting AMS did not process the request; a password grant may be
		// asked again. A refresh token may have been consumed: never.
		a.retryable = grant == grantPassword &&
			(resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable)
	}
	return nil, a
}

func (c *Client) encode(params []param) ([]byte, string, error) {
	if c.cfg.BodyEncoding == EncodingJSON {
		m := make(map[string]string, len(params))
		for _, p := range params {
			m[p.name] = p.value
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, "", fmt.Errorf("encoding the request: %w", err)
		}
		return b, "application/json", nil
	}
	v := url.Values{}
	for _, p := range params {
		v.Set(p.name, p.value)
	}
	return []byte(v.Encode()), "application/x-www-form-urlencoded", nil
}

// safeLocation returns the redirect target without query, fragment or credentials.
func safeLocation(resp *http.Response) string {
	u, err := resp.Location()
	if err != nil {
		return "(unreadable Location header)"
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return sanitize(u.String())
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
