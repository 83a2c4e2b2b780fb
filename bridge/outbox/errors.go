package outbox

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// deliveryError is a failed delivery; permanent ones go to the dead-letter state at once.
type deliveryError struct {
	msg       string
	permanent bool
}

func (e *deliveryError) Error() string { return e.msg }

// Permanent is a failure that retrying cannot fix (a bad payload, a target gone).
func Permanent(format string, args ...any) error {
	return &deliveryError{msg: fmt.Sprintf(format, args...), permanent: true}
}

// Retry is a failure worth retrying (the receiver unreachable or busy).
func Retry(format string, args ...any) error {
	return &deliveryError{msg: fmt.Sprintf(format, args...)}
}

// IsPermanent reports whether err is a permanent failure.
func IsPermanent(err error) bool {
	var d *deliveryError
	return errors.As(err, &d) && d.permanent
}

// Status classifies an HTTP answer: 2xx is nil; 408, 409, 425, 429 and 5xx are retried;
// other 4xx (and 3xx: redirects are never followed) are permanent.
func Status(what string, resp *http.Response, body []byte) error {
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
