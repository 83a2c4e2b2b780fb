package admin_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// storeEnder ends sessions in the store, as the bridge's ender does (its trigger then ends the
// console sessions signed in with them).
type storeEnder struct{ st *sqlite.Store }

func (e storeEnder) EndSession(ctx context.Context, s *sso.Session) error {
	return e.st.EndSession(ctx, s.ID)
}

// TestConsoleSessionsCounted (74f60ad): an administrator ending a member's sessions, or
// resetting their second factors, ends the member's console sessions first, so that the audit
// says how many and they carry that reason; on the SQLite store, whose trigger also ends a
// console session with the bridge session it was signed in with. When the bridge sessions went
// first, the trigger had ended the console sessions and the audit said 0 ("bridge session
// ended"). Ending one session by id leaves its console session to the trigger, not counted.
func TestConsoleSessionsCounted(t *testing.T) {
	for _, tc := range []struct {
		name, event, reason string
		act                 func(ctx context.Context, svc *admin.Service) error
	}{
		{"sessions ended", "admin.sessions_revoke", "sessions ended", func(ctx context.Context, svc *admin.Service) error {
			_, err := svc.EndSessions(ctx, "tester", admin.Filter{Login: "alice"})
			return err
		}},
		{"factors reset", "admin.mfa_reset", "second factors reset", func(ctx context.Context, svc *admin.Service) error {
			_, err := svc.ResetFactors(ctx, "tester", admin.Filter{Login: "alice"})
			return err
		}},
		{"one session by id", "admin.sessions_revoke", store.EndBridgeSessionEnded, func(ctx context.Context, svc *admin.Service) error {
			_, err := svc.EndSessions(ctx, "tester", admin.Filter{ID: "bridge-1"})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			f := newFixture(t)
			f.svc.Store, f.svc.SessionEnder, f.svc.ConsoleSessions, f.svc.Factors = st, storeEnder{st}, st, st
			f.svc.Now = func() time.Time { return now }
			if err := st.CreateSession(ctx, &sso.Session{ID: "bridge-1", Subject: "sub-k1", AuthTime: now, AMR: []string{"pwd"},
				CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateConsoleSession(ctx, &store.ConsoleSession{IDHash: sso.HashToken("console-1"), Subject: "sub-k1", Login: "alice",
				BridgeSession: "bridge-1", CSRF: "csrf", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now, SeenAt: now, CheckedAt: now,
				ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if err := tc.act(ctx, f.svc); err != nil {
				t.Fatal(err)
			}
			cs, err := st.ConsoleSession(ctx, sso.HashToken("console-1"))
			if err != nil || cs.EndedAt.IsZero() || cs.EndReason != tc.reason {
				t.Fatalf("console session after %s: %+v %v, want ended for %q", tc.name, cs, err, tc.reason)
			}
			var detail string
			for _, e := range f.audit {
				if e.Event == tc.event {
					detail = e.Detail
				}
			}
			counted := strings.Contains(detail, "1 console sessions ended")
			if want := tc.reason != store.EndBridgeSessionEnded; counted != want {
				t.Fatalf("%s audit detail %q: counts the console session %v, want %v", tc.event, detail, counted, want)
			}
		})
	}
}
