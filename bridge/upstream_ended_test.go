package bridge_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// endedLine is the log line of a sign-in whose upstream session ended while it waited
// (authflow EndedOr).
const endedLine = "the upstream session ended while the sign-in waited"

// TestUpstreamEndedAnsweredOneWay (review s11 RV2): a held upstream sign-in that its provider
// ended is answered the same way wherever the flow finds it (authflow EndedOr): "This sign-in
// has ended" and one log line. The consent of a sign-in held there after the provider's
// back-channel logout used to render the page without the line the other steps logged.
func TestUpstreamEndedAnsweredOneWay(t *testing.T) {
	var out lockedBuffer
	f, b, consent := heldAtConsentThenSignedOut(t, envDeps{logger: slog.New(slog.NewTextHandler(&out, nil))})
	p := b.do(http.MethodPost, f.down.issuer+"/consent", consent)
	if p.Status != http.StatusConflict || !strings.Contains(p.Body, "This sign-in has ended") {
		t.Fatalf("consent after the provider's logout: %d %.300s, want 'This sign-in has ended'", p.Status, p.Body)
	}
	if n := strings.Count(out.String(), endedLine); n != 1 {
		t.Fatalf("%d log lines %q, want 1:\n%s", n, endedLine, out.String())
	}
}
