package outbox

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
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

// ErrNothingToSend is a deliverer's answer when the event turns out to have nothing to send (a
// logout queued without reading its app, which has no logout URI or is gone): not a failure, and
// not a delivery either. The queue records the event skipped (store.OutboxSkipped, the error's
// text as its note), never retried, and counts it as OutcomeSkipped, not delivered (review s23
// X2-2). Wrap it to say why.
var ErrNothingToSend = errors.New("nothing to send")

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
	if b := strings.TrimSpace(CleanText(string(body), 200)); b != "" {
		msg += ": " + b
	}
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusConflict, code == http.StatusTooEarly,
		code == http.StatusTooManyRequests, code >= 500:
		return &deliveryError{msg: msg}
	}
	return &deliveryError{msg: msg, permanent: true}
}

// CleanText is s as text fit for a log line, the console and a database text column: invalid
// UTF-8 replaced, control characters (NUL, line breaks, terminal escapes) made spaces, and cut
// on a character boundary to at most n bytes, "…" included (n at least 3). A delivery's target writes what its
// answer holds, and PostgreSQL refuses text that is not UTF-8 or holds a NUL, which made
// recording the failure itself fail (review s14 X-4).
func CleanText(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) <= n {
		return s
	}
	cut := max(n-len("…"), 0) // the result, "…" included, is at most n bytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
