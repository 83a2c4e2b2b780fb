package provisioning

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// deliveryError is a failed delivery; permanent ones go to the dead-letter state at once.
type deliveryError struct {
	msg       string
	permanent bool
}

func (e *deliveryError) Error() string { return e.msg }

func permanent(format string, args ...any) error {
	return &deliveryError{msg: fmt.Sprintf(format, args...), permanent: true}
}

func isPermanent(err error) bool {
	var d *deliveryError
	return errors.As(err, &d) && d.permanent
}

// statusError classifies an HTTP answer: 2xx is nil; 408, 409, 425, 429 and 5xx are retried;
// other 4xx (and 3xx: redirects are never followed) are permanent.
func statusError(what string, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := fmt.Sprintf("%s: HTTP %d", what, code)
	if b := strings.TrimSpace(string(body)); b != "" {
		msg += ": " + truncate(b, 200)
	}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500:
		return &deliveryError{msg: msg}
	}
	return &deliveryError{msg: msg, permanent: true}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

const maxResponse = 256 << 10

// do sends one request and reads at most maxResponse bytes of the answer.
func (s *Service) do(ctx context.Context, method, u string, header http.Header, body []byte) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, permanent("build request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "ssobridge")
	resp, err := s.http.Do(req)
	if err != nil {
		// Never include the URL's query or a token: the error of net/http names the URL only.
		return nil, nil, &deliveryError{msg: fmt.Sprintf("%s %s: %v", method, redact(u), errors.Unwrap(err))}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, &deliveryError{msg: fmt.Sprintf("%s %s: read answer: %v", method, redact(u), err)}
	}
	return resp, b, nil
}

// redact drops the query of a URL for messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
