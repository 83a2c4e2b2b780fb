package backchannel_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// racingStore runs the next of meanwhile before each end (EndSessionWithEvents, as
// deactivatingStore does before each Deactivate): another tab signing in between the end's
// reads and its transaction, every time.
type racingStore struct {
	*deactivatingStore
	ends int
}

func (s *racingStore) EndSessionWithEvents(ctx context.Context, id string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	s.ends++
	if len(s.meanwhile) > 0 {
		f := s.meanwhile[0]
		s.meanwhile = s.meanwhile[1:]
		f()
	}
	return s.deactivatingStore.Store.EndSessionWithEvents(ctx, id, func(e *store.EndedSession) ([]*store.OutboxEvent, error) {
		s.inBuild.Store(true) // nothing is read while the events are built (buildWatched, deactivatingStore)
		defer s.inBuild.Store(false)
		return build(e)
	})
}

// TestEndKeepsSigningIn (G4's leftovers, closing-s22): a session that signs into a new OIDC app
// and a new SAML SP before each of the end's tries is ended at the 4th all the same. The app of
// that last sign-in, never read, is sent its logout anyway (queued unread: the Deliverer reads
// its registration again, as for an app whose read failed), where before it got only a warning;
// the SP, whose event needs its registration, is audited (AuditUntold: the operator sees it, and
// the audit metric counts it) and logged, where before it was only logged. Through EndSession
// and Deactivate.
func TestEndKeepsSigningIn(t *testing.T) {
	for _, via := range []string{"EndSession", "Deactivate"} {
		t.Run(via, func(t *testing.T) {
			ds, now := openDeactivating(t)
			st := &racingStore{deactivatingStore: ds}
			st.session("s-1", now, "web")
			st.samlSignIn("s-1", "https://sp-0.example", now)
			cls := clients{"web": {ID: "web", BackchannelLogoutURI: "https://web.example/logout"}}
			for i := range 4 {
				app, sp := "app-"+string(rune('a'+i)), "https://sp-"+string(rune('a'+i))+".example"
				cls[app] = &sso.ClientConfig{ID: app, BackchannelLogoutURI: "https://" + app + ".example/logout"}
				st.meanwhile = append(st.meanwhile, func() {
					st.signIn("s-1", app, now)
					st.samlSignIn("s-1", sp, now)
				})
			}
			var (
				logged   strings.Builder
				prepared [][]string
				audited  []*store.AuditEvent
			)
			l := &backchannel.Logouts{Store: st, Clients: buildWatched{cls, ds}, Others: samlOthers(&prepared),
				Log:   slog.New(slog.NewTextHandler(&logged, nil)),
				Audit: func(_ context.Context, e *store.AuditEvent) { audited = append(audited, e) }}
			var tries int
			switch via {
			case "EndSession":
				sess := &sso.Session{ID: "s-1", Subject: "sub-1", Clients: []string{"web"}}
				if err := l.EndSession(t.Context(), sess); err != nil {
					t.Fatal(err)
				}
				tries = st.ends
			default:
				ended, err := l.Deactivate(t.Context(), &store.Deactivation{Subject: "sub-1", EndSessions: true}, st.Deactivate)
				if err != nil || len(ended) != 1 {
					t.Fatalf("deactivation: %d ended, %v; want 1", len(ended), err)
				}
				tries = st.tries
			}
			if tries != 4 {
				t.Fatalf("ended in %d tries, want 4", tries)
			}
			if _, err := st.Session(t.Context(), "s-1"); err == nil {
				t.Fatal("session live after the 4th try")
			}
			want := []string{"app-a@s-1", "app-b@s-1", "app-c@s-1", "app-d@s-1",
				"https://sp-0.example@", "https://sp-a.example@", "https://sp-b.example@", "https://sp-c.example@", "web@s-1"}
			if got := queuedLogouts(t, st); !slices.Equal(got, want) {
				t.Fatalf("queued logouts: %v, want %v (app-d queued unread, sp-d untold)", got, want)
			}
			if len(audited) != 1 || audited[0].Event != backchannel.AuditUntold || audited[0].Subject != "sub-1" ||
				!strings.Contains(audited[0].Detail, "https://sp-d.example") {
				t.Fatalf("audited %+v, want one %s of sub-1 naming sp-d", audited, backchannel.AuditUntold)
			}
			out := logged.String()
			if strings.Count(out, "\n") != 2 || strings.Count(out, "level=WARN") != 2 || !strings.Contains(out, "sp-d") ||
				!strings.Contains(out, "app-d") || strings.Contains(out, "app-c") {
				t.Fatalf("log: %q, want two warnings: sp-d untold, app-d queued unread", out)
			}
		})
	}
}
