package backchannel_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// endingStore runs meanwhile before its next EndSessionWithEvents (what another tab of the
// browser does between the sign-out's reads and its end), and records whether the store or
// the clients are read while a build runs (inBuild).
type endingStore struct {
	store.Store
	t         *testing.T
	meanwhile func()
	inBuild   atomic.Bool
	ends      int
}

func (s *endingStore) EndSessionWithEvents(ctx context.Context, id string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	s.ends++
	if f := s.meanwhile; f != nil {
		s.meanwhile = nil
		f()
	}
	return s.Store.EndSessionWithEvents(ctx, id, func(e *store.EndedSession) ([]*store.OutboxEvent, error) {
		s.inBuild.Store(true)
		defer s.inBuild.Store(false)
		return build(e)
	})
}

func (s *endingStore) SAMLParticipants(ctx context.Context, id string) ([]*store.SAMLParticipant, error) {
	if s.inBuild.Load() {
		s.t.Error("SAMLParticipants read while the end's events were built (in its transaction)")
	}
	return s.Store.SAMLParticipants(ctx, id)
}

// watchedClients fails the test when a client is read while a build runs.
type watchedClients struct {
	clients
	st *endingStore
}

func (c watchedClients) Client(ctx context.Context, id string) (*sso.ClientConfig, error) {
	if c.st.inBuild.Load() {
		c.st.t.Errorf("client %s read while the end's events were built (in its transaction)", id)
	}
	return c.clients.Client(ctx, id)
}

// TestEndSessionAppsSignedIntoMeanwhile (review s20 X20-1): EndSession queues the logouts of
// the apps the session signed into after the caller read it (an OIDC client and a SAML SP,
// another tab's sign-ins landing before the end), prepared outside the store's transaction
// (nothing is read while the events are built: on an in-memory SQLite store that read would
// wait for the write connection the transaction holds), and gives the caller the session's
// clients as it ended (the front-channel frames). Nothing is queued for an app without a
// logout, and a second end queues nothing.
func TestEndSessionAppsSignedIntoMeanwhile(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	st := &endingStore{Store: db, t: t}
	now := time.Now()
	sess := &sso.Session{ID: "s-1", Subject: "sub-1", AuthTime: now, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour), Clients: []string{"web"}}
	if err := st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	add := func(sp string) {
		if err := st.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sess.ID, SP: sp, NameID: "n", SessionIndex: "ix-" + sp,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	add("https://sp1.example")
	var prepared [][]string
	woken := 0
	l := &backchannel.Logouts{Store: st, Wake: func() { woken++ },
		Clients: watchedClients{clients{
			"web":   {ID: "web", BackchannelLogoutURI: "https://web.example/logout"},
			"other": {ID: "other", BackchannelLogoutURI: "https://other.example/logout"},
			"quiet": {ID: "quiet"},
		}, st},
		Others: func(_ context.Context, sps []string) backchannel.SAMLEvents {
			prepared = append(prepared, slices.Clone(sps))
			return func(s *sso.Session, ps []*store.SAMLParticipant) (out []*store.OutboxEvent, unresolved []string) {
				for _, p := range ps {
					if !slices.Contains(sps, p.SP) {
						unresolved = append(unresolved, p.SP)
						continue
					}
					out = append(out, &store.OutboxEvent{ID: "evt-" + p.SP, Key: "slo|" + p.SP, Type: "logout.saml_soap", Channel: "saml_slo",
						ClientID: p.SP, Subject: s.Subject, Payload: []byte(`{}`)})
				}
				return out, unresolved
			}
		},
	}
	stale := &sso.Session{ID: sess.ID, Subject: sess.Subject, Clients: []string{"web"}} // as the sign-out read it
	st.meanwhile = func() {
		for _, c := range []string{"other", "quiet"} {
			if err := st.AddSessionClient(ctx, sess.ID, c, now); err != nil {
				t.Fatal(err)
			}
		}
		add("https://sp2.example")
	}
	if err := l.EndSession(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if want := []string{"web", "other", "quiet"}; !slices.Equal(stale.Clients, want) || !stale.Ended {
		t.Fatalf("the caller's session after the end: clients %v ended %v, want %v, ended", stale.Clients, stale.Ended, want)
	}
	if want := [][]string{{"https://sp1.example"}, {"https://sp1.example", "https://sp2.example"}}; len(prepared) != 2 ||
		!slices.Equal(prepared[0], want[0]) || !slices.Equal(prepared[1], want[1]) {
		t.Fatalf("SAML SPs prepared: %v, want %v", prepared, want)
	}
	evs, err := st.OutboxEvents(ctx, store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		var p struct {
			ClientID string `json:"client_id"`
			SID      string `json:"sid"`
		}
		_ = json.Unmarshal(e.Payload, &p)
		switch e.Channel {
		case backchannel.Channel:
			if p.SID != sess.ID {
				t.Errorf("logout event of %s names sid %q, want %s", p.ClientID, p.SID, sess.ID)
			}
			got = append(got, p.ClientID)
		default:
			got = append(got, e.ClientID)
		}
	}
	slices.Sort(got)
	if want := []string{"https://sp1.example", "https://sp2.example", "other", "web"}; !slices.Equal(got, want) {
		t.Fatalf("queued logouts: %v, want %v", got, want)
	}
	if woken != 1 {
		t.Fatalf("outbox woken %d times, want once", woken)
	}
	// Ended already: nothing more is queued, and the caller's session is left as it is.
	again := &sso.Session{ID: sess.ID, Subject: sess.Subject, Clients: []string{"web"}}
	if err := l.EndSession(ctx, again); err != nil {
		t.Fatal(err)
	}
	if evs2, _ := st.OutboxEvents(ctx, store.OutboxFilter{}); len(evs2) != len(evs) || woken != 1 || again.Ended {
		t.Fatalf("a second end: %d events (had %d), woken %d, session %+v", len(evs2), len(evs), woken, again)
	}
}
