package outbox_test

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ssobridge/ssobridge/bridge/outbox"
)

// Review s14 X-4: the answer of a failed delivery's target (a SCIM server, a webhook, a
// back-channel logout endpoint: URLs an app supplies) goes into the error the queue stores as
// the event's last_error. PostgreSQL refuses text that is not valid UTF-8 or holds a NUL byte
// ("invalid byte sequence for encoding UTF8"), so a body cut in the middle of a character (any
// non-ASCII error message longer than the cut) or one with a NUL made MarkFailed fail: the
// failure was never recorded, the event was claimed again at every lease instead of after its
// backoff, and never reached the dead letters. Control characters (terminal escapes, line
// breaks) from a hostile target have no place in the operator's log and console either.
func TestStatusMessageIsCleanText(t *testing.T) {
	for name, body := range map[string]string{
		"a character cut at 200 bytes": strings.Repeat("a", 199) + "éléphant",
		"a NUL byte":                   "error\x00detail",
		"invalid UTF-8":                "bad \xff\xfe bytes",
		"terminal escapes":             "\x1b[2J\x1b[31mFAKE LOG LINE\r\nlevel=ERROR msg=forged",
	} {
		err := outbox.Status("scim", &http.Response{StatusCode: 500}, []byte(body))
		if err == nil {
			t.Fatalf("%s: nil error for HTTP 500", name)
		}
		msg := err.Error()
		if !utf8.ValidString(msg) || strings.ContainsFunc(msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Errorf("%s: the stored error is not clean text: %q", name, msg)
		}
		if !strings.HasPrefix(msg, "scim: HTTP 500") {
			t.Errorf("%s: %q", name, msg)
		}
	}
}

// CleanText's cut keeps whole characters and the result within n bytes, so that a store cutting
// at its own limit (PostgreSQL's MarkFailed keeps 1000 bytes) never splits one either.
func TestCleanTextCut(t *testing.T) {
	for _, n := range []int{3, 4, 5, 10, 200, 1000} {
		for _, s := range []string{strings.Repeat("é", 700), strings.Repeat("a", 999) + "€€", strings.Repeat("🙂", 300)} {
			got := outbox.CleanText(s, n)
			if len(got) > n || !utf8.ValidString(got) {
				t.Errorf("CleanText(%d bytes, %d) = %d bytes, valid %v", len(s), n, len(got), utf8.ValidString(got))
			}
		}
	}
}
