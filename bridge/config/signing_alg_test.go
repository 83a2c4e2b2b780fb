package config

import (
	"strings"
	"testing"
)

// TestClientSigningAlgNeedsAKey: a client whose id_token_signing_alg has no key (not in
// keys.algorithms) is a configuration error naming the field, not a server_error at every
// token request; RS256 always has one, and the default algorithms cover ES256 and EdDSA.
func TestClientSigningAlgNeedsAKey(t *testing.T) {
	for _, tc := range []struct {
		algs    []string
		alg     string
		problem bool
	}{
		{[]string{"RS256"}, "ES256", true},
		{[]string{"RS256"}, "EdDSA", true},
		{[]string{"ES256"}, "EdDSA", true},
		{[]string{"RS256"}, "RS256", false},
		{[]string{"ES256"}, "RS256", false}, // RS256 is always on
		{[]string{"RS256"}, "", false},
		{[]string{"RS256", "ES256"}, "ES256", false},
		{Defaults().Keys.Algorithms, "EdDSA", false},
	} {
		cfg := Defaults()
		cfg.Keys.Algorithms = tc.algs
		cfg.Clients = []Client{{ID: "portal", Name: "Portal", Secret: strings.Repeat("s", 40),
			RedirectURIs: []string{"https://portal.example.org/cb"}, IDTokenSigningAlg: tc.alg}}
		err := cfg.Validate()
		got := err != nil && strings.Contains(err.Error(), "clients[portal].id_token_signing_alg")
		if got != tc.problem {
			t.Errorf("keys.algorithms %v, client alg %q: %v (want a problem: %v)", tc.algs, tc.alg, err, tc.problem)
		}
		if err != nil && !got {
			t.Errorf("keys.algorithms %v, client alg %q: unexpected %v", tc.algs, tc.alg, err)
		}
	}
}
