package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// NewStore returns an empty store for one subtest. It should register its own cleanup
// (t.Cleanup) and fail the test itself when it cannot create the store.
type NewStore func(t *testing.T) store.Store

// Run runs the sso.Store suite and the bridge-level tests against stores made by newStore.
// Each subtest gets a fresh, empty store.
func Run(t *testing.T, newStore NewStore) {
	t.Run("SSO", func(t *testing.T) {
		ssotest.Run(t, func(t *testing.T) sso.Store { return newStore(t) })
	})
	groups := []struct {
		name  string
		tests []test
	}{
		{"Subjects", subjectTests},
		{"Consents", consentTests},
		{"Audit", auditTests},
		{"Handoff", handoffTests},
		{"Shadow", shadowTests},
		{"Outbox", outboxTests},
		{"OutboxClaim", outboxClaimTests},
		{"Upstream", upstreamTests},
		{"Factors", factorTests},
		{"SAML", samlTests},
		{"SignIn", signInTests},
		{"Sessions", sessionTests},
		{"Counters", counterTests},
		{"ConsoleSessions", consoleSessionTests},
		{"ConsoleBridgeSessions", consoleBridgeTests},
		{"Reseal", resealTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, &H{T: t, S: newStore(t), Ctx: t.Context(), Now: ssotest.Now()})
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, h *H)
}

// H is what a bridge conformance test needs.
type H struct {
	T   *testing.T
	S   store.Store
	Ctx context.Context
	Now time.Time
}
