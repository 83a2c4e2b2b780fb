package bridge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

// TestSAMLLogoutRequestIDPerSP (M3's note, session 22): a LogoutRequest's id is single-use per
// SP (the SP chooses it: SAML core 1.3.4 asks it to be unique for the SP, not across SPs), as an
// AuthnRequest's is: two SPs that choose the same id are each answered; the same SP's id
// again is refused as a replay. The library keyed the id alone ("LogoutRequest:" + id), so the
// second SP's request was refused as used.
func TestSAMLLogoutRequestIDPerSP(t *testing.T) {
	e, lms, events, _ := samlEnv(t)
	send := func(sp *samlSP) (int, string) {
		t.Helper()
		u, err := sp.mw.ServiceProvider.MakeRedirectLogoutRequest("someone", "r",
			func(r *crewjam.LogoutRequest) { r.ID = "id-chosen-by-both" })
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
		resp, err := http.DefaultTransport.RoundTrip(req) // no session: answered as signed off
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, body := send(lms); status == http.StatusBadRequest {
		t.Fatalf("lms's LogoutRequest: %d %.300s", status, body)
	}
	if status, body := send(events); status == http.StatusBadRequest {
		t.Fatalf("events' LogoutRequest with the id lms used: %d %.300s; want it answered", status, body)
	}
	for _, sp := range []*samlSP{lms, events} {
		if status, body := send(sp); status != http.StatusBadRequest || !strings.Contains(body, "cannot be used") {
			t.Fatalf("the same SP's LogoutRequest id again: %d %.300s; want it refused as used", status, body)
		}
	}
	_ = e
}
