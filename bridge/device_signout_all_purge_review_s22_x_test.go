package bridge_test

// Review s22 X, on f3 3e6a5ee: "Sign out of all devices" lands while a device grant runs
// its member checks (after its early session read), and the minute's purge deletes the ended
// session before the grant's write: IssueTokens' device guard refuses only a session the store
// holds as ended, so the grant is written after sign-out-all revoked every grant, and the device
// keeps a working refresh token. Drop into bridge/.

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

type signOutAllAndPurgeBeforeIssue struct {
	*sqlite.Store
	mu      sync.Mutex
	subject string
}

func (s *signOutAllAndPurgeBeforeIssue) IssueTokens(ctx context.Context, in sso.Issue) error {
	s.mu.Lock()
	sub := s.subject
	s.subject = ""
	s.mu.Unlock()
	if sub != "" {
		if _, err := s.Store.Deactivate(ctx, &store.Deactivation{Subject: sub, EndSessions: true}); err != nil {
			return err
		}
		if _, err := s.Store.Purge(ctx, time.Now()); err != nil {
			return err
		}
	}
	return s.Store.IssueTokens(ctx, in)
}

func TestXDeviceGrantAfterSignOutAllAndPurge(t *testing.T) {
	var st *signOutAllAndPurgeBeforeIssue
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &signOutAllAndPurgeBeforeIssue{Store: s}
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
	st.subject = sessions[0].Subject
	st.mu.Unlock()
	resp, body := postForm(t, tokenURL(e), map[string]string{"grant_type": sso.GrantDeviceCode, "device_code": da.DeviceCode, "client_id": "tv"})
	if resp.StatusCode == http.StatusOK {
		rt, _ := body["refresh_token"].(string)
		again, more := postForm(t, tokenURL(e), map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": "tv"})
		t.Fatalf("the device got tokens after \"Sign out of all devices\" (its session then purged) ended the approving session; "+
			"the refresh token then answers %d %.80v", again.StatusCode, more)
	}
}
