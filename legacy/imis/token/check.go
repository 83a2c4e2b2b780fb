package token

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// ErrCheckFailed is returned (wrapped) by Check when the diagnosis found a problem.
var ErrCheckFailed = errors.New("imis/token: token endpoint check failed")

// Check validates cfg, builds a client and runs Client.Check: the implementation of
// `ssobridge legacy check --token`. Configuration errors are printed too.
func Check(ctx context.Context, cfg Config, w io.Writer, opts ...Option) error {
	c, err := New(cfg, opts...)
	if err != nil {
		fmt.Fprintf(w, "FAIL the ams: configuration is invalid:\n")
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(w, "     %s\n", line)
		}
		return fmt.Errorf("%w: %w", ErrCheckFailed, err)
	}
	return c.Check(ctx, w)
}

// Check tests the token endpoint with the configured client and writes a diagnosis to w:
// it POSTs a refresh grant with a deliberately invalid refresh token (so that no member's
// token is used up) and explains the answer. invalid_grant is the good outcome: the endpoint
// is reachable and, since the OWIN token endpoint validates the client before the token, our
// client_id and client_secret were accepted. It returns nil when everything looks right,
// else an error wrapping ErrCheckFailed (and ErrInvalidClient or legacy.ErrUnavailable where
// they apply).
func (c *Client) Check(ctx context.Context, w io.Writer) error {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p("AMS token endpoint check")
	p("  token URL:     %s", c.tokenURL)
	p("  client ID:     %s", c.cfg.ClientID)
	p("  client secret: %s", map[bool]string{true: "set", false: "NOT SET"}[c.cfg.ClientSecret != ""])
	p("  encoding:      %s", c.cfg.BodyEncoding)
	switch {
	case !strings.HasPrefix(strings.ToLower(c.tokenURL), "https:"):
		p("  TLS:           none (plain http: secrets cross the network unencrypted)")
	case c.cfg.InsecureSkipVerify:
		p("  TLS:           certificate verification OFF (ams.insecure_skip_verify; test sites only)")
	case c.cfg.CAFile != "":
		p("  TLS:           verified against the system CAs and %s, TLS 1.2+", c.cfg.CAFile)
	default:
		p("  TLS:           verified against the system CAs, TLS 1.2+")
	}
	p("  timeout:       %s", c.cfg.Timeout)
	p("")

	probe := make([]byte, 16)
	_, _ = rand.Read(probe)
	bogus := "ssobridge-check-" + hex.EncodeToString(probe)
	p("Sending a refresh grant with a deliberately invalid refresh token...")
	_, a := c.once(ctx, grantRefresh, c.refreshParams(bogus), []string{bogus, c.cfg.ClientSecret})
	elapsed := a.elapsed.Round(100 * time.Microsecond)

	fail := func(err error, format string, args ...any) error {
		p("FAIL "+format, args...)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCheckFailed, err)
		}
		return ErrCheckFailed
	}

	if a.transport != nil && a.status == 0 {
		return fail(a.err, "%s", diagnoseTransport(a.transport, c.cfg.Timeout))
	}
	if a.transport != nil {
		return fail(a.err, "the AMS answered HTTP %d but the answer could not be read: %v", a.status, a.transport)
	}
	p("OK   endpoint reachable: HTTP %d in %s", a.status, elapsed)

	switch {
	case a.err == nil:
		return fail(nil, "the AMS ACCEPTED a made-up refresh token and returned a token. Do not use this endpoint: it is not a genuine iMIS token endpoint or it is badly broken.")
	case errors.Is(a.err, ErrInvalidGrant):
		p("OK   client recognised: the AMS answered invalid_grant for the made-up token, so it accepted client_id %q and its secret", c.cfg.ClientID)
		p("     (the OWIN token endpoint checks the client before the token)")
		p("")
		p("Result: the token endpoint and the client registration look right.")
		p("Next: sign in to the AMS and open the page with the Single Sign-On content item; the AMS should POST a refresh_token to our hand-off URL (the client application's Login redirect URL).")
		return nil
	case errors.Is(a.err, ErrInvalidClient):
		return fail(a.err, "client rejected (HTTP %d invalid_client): ams.client_id %q or ams.client_secret does not match a client application in the AMS. In iMIS: Settings > Contacts > Client applications (iMIS 2017: RiSE > Maintenance > Client Applications).", a.status, c.cfg.ClientID)
	case a.status >= 300 && a.status < 400:
		return fail(a.err, "the token endpoint redirects (HTTP %d) to %s. Redirects are not followed (they would re-send the secret); set ams.base_url or ams.token_url to the final URL (often http:// -> https://).", a.status, a.location)
	case a.status == http.StatusNotFound || a.status == http.StatusMethodNotAllowed:
		return fail(a.err, "HTTP %d: there is no token endpoint at %s. iMIS serves it at the site root (https://<site>/token, not /api/token); check ams.base_url and ams.token_url.", a.status, c.tokenURL)
	case a.status == http.StatusOK:
		return fail(a.err, "HTTP 200 but %v: is ams.token_url really the token endpoint? (if the AMS names its fields differently, set ams.fields)", a.notToken)
	case a.status >= 500:
		return fail(a.err, "the AMS failed with HTTP %d%s: its token endpoint is broken or overloaded; look at the AMS's logs.", a.status, codeSuffix(a.code))
	case a.code == "unsupported_grant_type":
		return fail(a.err, "the AMS does not accept grant_type=refresh_token (unsupported_grant_type). iMIS needs 2017 SP F (20.2.64.8730) or later for SSO client applications.")
	case a.code == "unauthorized_client":
		return fail(a.err, "the client application %q may not use the refresh_token grant (unauthorized_client): check its settings in the AMS.", c.cfg.ClientID)
	case a.code == "invalid_request":
		return fail(a.err, "the AMS says the request is malformed (invalid_request). iMIS wants form encoding: check ams.body_encoding (now %q).", c.cfg.BodyEncoding)
	case a.code != "":
		return fail(a.err, "unexpected answer HTTP %d %s.", a.status, a.code)
	case a.status == http.StatusBadRequest && strings.HasPrefix(strings.ToLower(c.tokenURL), "http:"):
		return fail(a.err, "HTTP 400 without an OAuth error: is ams.base_url http:// pointing at an https port? (servers answer plain HTTP on a TLS port with 400)")
	default:
		return fail(a.err, "unexpected answer HTTP %d (content-type %q), not an OAuth error: is ams.token_url the token endpoint?", a.status, a.contentType)
	}
}

func codeSuffix(code string) string {
	if code == "" {
		return ""
	}
	return " (" + code + ")"
}

// diagnoseTransport explains a failure without an HTTP answer.
func diagnoseTransport(err error, timeout time.Duration) string {
	var (
		unknownCA  x509.UnknownAuthorityError
		hostname   x509.HostnameError
		invalid    x509.CertificateInvalidError
		verifyErr  *tls.CertificateVerificationError
		recordErr  tls.RecordHeaderError
		dnsErr     *net.DNSError
		opErr      *net.OpError
		errRefused = errors.Is(err, syscall.ECONNREFUSED)
	)
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Sprintf("TLS: the AMS's certificate is not signed by a trusted CA (self-signed, or a private CA?): %v. Add the CA with ams.ca_file (or, for a test site only, ams.insecure_skip_verify: true).", err)
	case errors.As(err, &hostname):
		return fmt.Sprintf("TLS: the AMS's certificate does not name the host in ams.base_url: %v.", err)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS: the AMS's certificate is not valid (expired, not yet valid or not for servers?): %v.", err)
	case errors.As(err, &verifyErr):
		return fmt.Sprintf("TLS: the AMS's certificate could not be verified: %v.", err)
	case errors.As(err, &recordErr):
		return "TLS: the server does not speak TLS on this port: is ams.base_url https:// pointing at a plain http port?"
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return fmt.Sprintf("TLS handshake refused by the AMS (%v). If the AMS only offers TLS 1.0/1.1, it must be upgraded: ssobridge requires TLS 1.2 or later.", err)
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Sprintf("ams.base_url is https:// but the server answers plain http on that port (%v): check http:// vs https:// and the port.", err)
	case strings.Contains(err.Error(), "malformed HTTP response"):
		return fmt.Sprintf("the server did not answer HTTP (%v): check http:// vs https:// and the port in ams.base_url.", err)
	case isTimeout(err):
		return fmt.Sprintf("no answer within %s (ams.timeout): the AMS is slow or down, or a firewall drops the traffic: %v.", timeout, err)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("the AMS host name %q cannot be resolved: check ams.base_url (%v).", dnsErr.Name, err)
	case errRefused:
		return fmt.Sprintf("connection refused: nothing listens at that address and port; check ams.base_url and that the AMS is up (%v).", err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Sprintf("cannot connect to the AMS: %v.", err)
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"):
		return fmt.Sprintf("TLS handshake failed: %v.", err)
	}
	return fmt.Sprintf("network error: %v.", err)
}
