package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/sso"
)

// poolClients answers every client with a back-channel logout URI.
type poolClients struct{}

func (poolClients) Client(_ context.Context, id string) (*sso.ClientConfig, error) {
	return &sso.ClientConfig{ID: id, BackchannelLogoutURI: "https://" + id + ".example/logout"}, nil
}

// TestConcurrentDeactivationsOnePool (review s21 X3-3): deactivations of as many members at
// once as the pool has connections (here one), through both entry points (Deactivate, an
// administrator's ResetFactorsAndDeactivate), each member's session signed into an OIDC client
// and a SAML SP, all finish: each ends its member's session and queues both logouts, reading
// what they need before its transaction and nothing in it. Before, each transaction waited for
// a second connection of the pool to read the SAML participants, until PostgreSQL's
// idle-in-transaction timeout ended it with the session left live.
func TestConcurrentDeactivationsOnePool(t *testing.T) {
	s, _ := openTest(t, postgres.WithMaxConns(1))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second) // a bound on a stall, not a measure
	defer cancel()
	now := time.Now()
	const members = 4
	for i := range members {
		sub, id := fmt.Sprintf("pool-member-%d", i), fmt.Sprintf("pool-session-%d", i)
		if err := s.CreateSession(ctx, &sso.Session{ID: id, Subject: sub, AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
			LastSeen: now, ExpiresAt: now.Add(time.Hour), Clients: []string{"web"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: id, SP: "https://sp.example", NameID: "n-" + sub,
			SessionIndex: "ix-" + id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	logouts := &backchannel.Logouts{Store: s, Clients: poolClients{},
		Others: func(_ context.Context, sps []string) backchannel.SAMLEvents {
			return func(sess *sso.Session, ps []*store.SAMLParticipant) (out []*store.OutboxEvent, unresolved []string) {
				for _, p := range ps {
					if !slices.Contains(sps, p.SP) {
						unresolved = append(unresolved, p.SP)
						continue
					}
					out = append(out, &store.OutboxEvent{ID: "slo-" + sess.ID, Key: "slo|" + sess.ID, Type: "logout.saml_soap",
						Channel: "saml_slo", ClientID: p.SP, Subject: sess.Subject, Payload: []byte(`{}`)})
				}
				return out, unresolved
			}
		}}
	reset := func(ctx context.Context, d *store.Deactivation) ([]*sso.Session, error) {
		_, ended, err := s.ResetFactorsAndDeactivate(ctx, d)
		return ended, err
	}
	var (
		wg    sync.WaitGroup
		ended [members]int
		errs  [members]error
	)
	for i := range members {
		deactivate := s.Deactivate
		if i%2 == 1 {
			deactivate = reset
		}
		wg.Go(func() {
			var l []*sso.Session
			l, errs[i] = logouts.Deactivate(ctx, &store.Deactivation{Subject: fmt.Sprintf("pool-member-%d", i), EndSessions: true}, deactivate)
			ended[i] = len(l)
		})
	}
	wg.Wait()
	for i := range members {
		if errs[i] != nil || ended[i] != 1 {
			t.Errorf("deactivation %d with a one-connection pool: %d ended, %v", i, ended[i], errs[i])
		}
	}
	evs, err := s.OutboxEvents(ctx, store.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byChannel := map[string]int{}
	for _, e := range evs {
		byChannel[e.Channel]++
	}
	if byChannel[backchannel.Channel] != members || byChannel["saml_slo"] != members {
		t.Fatalf("queued %v, want %d back-channel and %d SAML logouts", byChannel, members, members)
	}
}
