package bridge_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// endBeforeDeviceIssue ends session (when set, once) just before the next IssueTokens, as a
// sign-out landing between the device grant's session check and its write does.
type endBeforeDeviceIssue struct {
	*sqlite.Store // its sso.DeviceStore too
	mu            sync.Mutex
	session       string
}

func (s *endBeforeDeviceIssue) IssueTokens(ctx context.Context, in sso.Issue) error {
	s.mu.Lock()
	id := s.session
	s.session = ""
	s.mu.Unlock()
	if id != "" {
		if err := s.Store.EndSession(ctx, id); err != nil {
			return err
		}
	}
	return s.Store.IssueTokens(ctx, in)
}

// TestX3DeviceGrantRacingSignOut (review s21 X3-2, on b78d76f): a sign-out that ends the
// approving session between the device grant's check that it is live (sso/grant_device.go:263)
// and the write of its tokens leaves a grant of that session: the device gets tokens, a
// refresh token among them, after the session's grants were revoked. The code grant closes the
// same race by consuming the code in IssueTokens' transaction only while its session is live
// (TestCodeExchangeRacingSignOut); the device authorization's consumption does not look at
// the session.
func TestX3DeviceGrantRacingSignOut(t *testing.T) {
	var st *endBeforeDeviceIssue
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &endBeforeDeviceIssue{Store: s}
		return st
	}}, withGrantClients)
	cfg := &oauth2.Config{ClientID: "tv", Endpoint: e.endpoint(), Scopes: []string{"openid", "offline_access"}}
	cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	da, err := cfg.DeviceAuth(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if p := deviceApprove(t, e, da.UserCode, "alice", "alice-password"); p.status != http.StatusOK {
		t.Fatalf("device approval: %d %s %.300s", p.status, p.path, p.body)
	}
	sessions, err := st.Sessions(e.ctx(), "")
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions: %d, %v", len(sessions), err)
	}
	st.mu.Lock()
	st.session = sessions[0].ID
	st.mu.Unlock()
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if live, _ := st.Sessions(e.ctx(), ""); len(live) != 0 {
		t.Fatalf("the session did not end: %d live", len(live))
	}
	if resp.StatusCode == http.StatusOK {
		rt, _ := body["refresh_token"].(string)
		again, more := postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": "tv"})
		t.Fatalf("the device got tokens of a session that ended before they were written (refresh token %t); "+
			"the refresh token then answers %d %.120v", rt != "", again.StatusCode, more)
	}
	// Refused for good (RFC 8628 3.5: access_denied is final), and closed: the next poll finds
	// the code used, not an approval to try again.
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "access_denied" {
		t.Fatalf("the grant of an approval whose session ended meanwhile: %d %v; want 400 access_denied", resp.StatusCode, body)
	}
	resp, body = postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("a poll after the refusal: %d %v; want 400 invalid_grant (used)", resp.StatusCode, body)
	}
	if l, err := st.ListRefreshTokens(e.ctx(), "", "tv"); err != nil || len(l) != 0 {
		t.Fatalf("refresh tokens of tv after the refusal: %d, %v; want none", len(l), err)
	}
}
