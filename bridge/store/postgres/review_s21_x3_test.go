package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/sso"
)

type x3NoClients struct{}

func (x3NoClients) Client(context.Context, string) (*sso.ClientConfig, error) {
	return nil, sso.ErrNotFound
}

// TestX3DeactivateReadsOutsideItsTransaction (review s21 X3-3, on 4a86d30): a deactivation
// ("Sign out of all devices", an administrator's, provisioning's) builds its logout events
// with backchannel.Logouts.EndedSessions, which reads the ended sessions' SAML participants
// (and their apps) from the store's pool while the deactivation's transaction holds a
// connection of it. With a pool of one connection (or as many deactivations at once as the
// pool has connections) nothing can serve that read: the deactivation waits until its context
// ends and then fails, the sessions left live. EndSession (4a86d30) reads before its
// transaction for this reason; Deactivate did not. (Since the mend, the deactivation goes
// through backchannel.Logouts.Deactivate, which reads before the store's transaction what the
// one it builds in reads: the call below is the one "Sign out of all devices" makes.)
func TestX3DeactivateReadsOutsideItsTransaction(t *testing.T) {
	s, _ := openTest(t, postgres.WithMaxConns(1))
	ctx := t.Context()
	now := time.Now()
	newSession := func(id string) *sso.Session {
		t.Helper()
		sess := &sso.Session{ID: id, Subject: "x3-member", AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
			LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		return sess
	}
	// Control: without SAML participants to read (no Others), the same pool serves it.
	sess := newSession("x3-control")
	plain := &backchannel.Logouts{Store: s, Clients: x3NoClients{}}
	if ended, err := plain.Deactivate(ctx, &store.Deactivation{Subject: sess.Subject, EndSessions: true},
		s.Deactivate); err != nil || len(ended) != 1 {
		t.Fatalf("control: %d ended, %v", len(ended), err)
	}
	sess = newSession("x3-session")
	logouts := &backchannel.Logouts{Store: s, Clients: x3NoClients{},
		Others: func(context.Context, []string) backchannel.SAMLEvents {
			return func(*sso.Session, []*store.SAMLParticipant) ([]*store.OutboxEvent, []string) { return nil, nil }
		}}
	bounded, cancel := context.WithTimeout(ctx, 20*time.Second) // a bound on the wait, not a measure
	defer cancel()
	ended, err := logouts.Deactivate(bounded, &store.Deactivation{Subject: sess.Subject, EndSessions: true},
		s.Deactivate)
	if err != nil || len(ended) != 1 {
		t.Fatalf("deactivation with a one-connection pool: %d ended, %v", len(ended), err)
	}
}
