package backchannel_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestEndRereadsSPWhoseReadFailed (O5's leftover, s23): a SAML SP whose registration read
// failed at the end's first reads (Others leaves it unresolved, as saml.Logouts.BackChannel does
// for a store error) is read again at the next try, and sent its logout; it is not left untold.
// Before, the SP was among those already prepared, so no try read it again and the 4th audited
// it untold.
func TestEndRereadsSPWhoseReadFailed(t *testing.T) {
	for _, via := range []string{"EndSession", "Deactivate"} {
		t.Run(via, func(t *testing.T) {
			ds, now := openDeactivating(t)
			st := &racingStore{deactivatingStore: ds}
			const flaky = "https://sp-flaky.example"
			st.session("s-1", now, "web")
			st.samlSignIn("s-1", flaky, now)
			cls := clients{"web": {ID: "web", BackchannelLogoutURI: "https://web.example/logout"}}
			var (
				prepared [][]string
				audited  []*store.AuditEvent
			)
			others := samlOthers(&prepared)
			l := &backchannel.Logouts{Store: st, Clients: buildWatched{cls, ds},
				Others: func(ctx context.Context, sps []string) backchannel.SAMLEvents {
					build := others(ctx, sps)
					if len(prepared) > 1 {
						return build
					}
					// The first read of the SP fails: it stays unresolved.
					return func(s *sso.Session, ps []*store.SAMLParticipant) ([]*store.OutboxEvent, []string) {
						out, unresolved := build(s, slices.DeleteFunc(slices.Clone(ps), func(p *store.SAMLParticipant) bool { return p.SP == flaky }))
						for _, p := range ps {
							if p.SP == flaky {
								unresolved = append(unresolved, p.SP)
							}
						}
						return out, unresolved
					}
				},
				Audit: func(_ context.Context, e *store.AuditEvent) { audited = append(audited, e) }}
			var tries int
			switch via {
			case "EndSession":
				if err := l.EndSession(t.Context(), &sso.Session{ID: "s-1", Subject: "sub-1", Clients: []string{"web"}}); err != nil {
					t.Fatal(err)
				}
				tries = st.ends
			default:
				if ended, err := l.Deactivate(t.Context(), &store.Deactivation{Subject: "sub-1", EndSessions: true}, st.Deactivate); err != nil || len(ended) != 1 {
					t.Fatalf("deactivation: %d ended, %v; want 1", len(ended), err)
				}
				tries = st.tries
			}
			if want := []string{flaky + "@", "web@s-1"}; !slices.Equal(queuedLogouts(t, st), want) {
				t.Fatalf("queued logouts: %v, want %v (the SP read again and told)", queuedLogouts(t, st), want)
			}
			if len(audited) != 0 || tries != 2 || len(prepared) != 2 {
				t.Fatalf("%d tries, SPs prepared %v, audited %+v; want 2 tries, two reads, nothing untold", tries, prepared, audited)
			}
		})
	}
}
