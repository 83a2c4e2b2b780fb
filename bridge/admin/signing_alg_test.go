package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

// TestDynamicClientSigningAlgNeedsAKey: a dynamic client added or edited (admin API, CLI and
// console all go through CreateClient and UpdateClient) with an id_token_signing_alg the bridge
// keeps no signing key for is refused, the field named, as the config file's client is at
// start-up (e783e65); before, it was stored and then got server_error at every token request.
// Without SigningAlgs only RS256 has a key (the key manager always keeps one).
func TestDynamicClientSigningAlgNeedsAKey(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		keys    []string
		alg     string
		problem bool
	}{
		{[]string{"RS256"}, "ES256", true},
		{[]string{"RS256"}, "EdDSA", true},
		{[]string{"RS256", "ES256"}, "EdDSA", true},
		{nil, "ES256", true},
		{nil, "RS256", false},
		{nil, "", false},
		{[]string{"RS256", "ES256"}, "ES256", false},
		{[]string{"RS256", "ES256", "EdDSA"}, "EdDSA", false},
	} {
		for _, op := range []string{"create", "update"} {
			f := newFixture(t)
			f.svc.SigningAlgs = tc.keys
			before := *f.storedClient(t, "dyn")
			reg := admin.Client{ID: "new", Name: "New", RedirectURIs: []string{"https://new.example/cb"}, IDTokenSigningAlg: tc.alg}
			var err error
			if op == "create" {
				_, _, err = f.svc.CreateClient(ctx, "tester", reg)
			} else {
				reg.ID = ""
				_, err = f.svc.UpdateClient(ctx, "tester", "dyn", reg)
			}
			if !tc.problem {
				if err != nil {
					t.Errorf("%s with keys %v, alg %q: %v", op, tc.keys, tc.alg, err)
				}
				continue
			}
			field := "clients[new].id_token_signing_alg"
			if op == "update" {
				field = "clients[dyn].id_token_signing_alg"
			}
			if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "keys.algorithms") {
				t.Errorf("%s with keys %v, alg %q: %v, want invalid naming %s and keys.algorithms", op, tc.keys, tc.alg, err, field)
			}
			if f.storedClient(t, "new") != nil {
				t.Errorf("%s with keys %v, alg %q: the refused client was stored", op, tc.keys, tc.alg)
			}
			if after := *f.storedClient(t, "dyn"); string(after.Config) != string(before.Config) {
				t.Errorf("%s with keys %v, alg %q: the refused edit changed the client", op, tc.keys, tc.alg)
			}
			if len(f.audit) != 0 {
				t.Errorf("%s with keys %v, alg %q: audited %v", op, tc.keys, tc.alg, f.events())
			}
		}
	}
}
