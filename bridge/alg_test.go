package bridge_test

import (
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestSigningAlgorithmPerClient: each client's ID tokens are signed with the algorithm it
// registered, and go-oidc verifies them against the published JWKS.
func TestSigningAlgorithmPerClient(t *testing.T) {
	e := newEnv(t, func(c *bridge.Config) {
		c.Keys.Algorithms = []string{"RS256", "ES256", "EdDSA"}
		c.Clients = append(c.Clients, config.Client{ID: "ed", Name: "EdDSA App", Secret: webSecret, Trusted: true,
			IDTokenSigningAlg: "EdDSA", RedirectURIs: []string{"http://127.0.0.1:9/app/ed"}})
	})
	for client, want := range map[string]string{"web": "RS256", "other": "ES256", "ed": "EdDSA"} {
		t.Run(want, func(t *testing.T) {
			secret, redirect := webSecret, e.rp+"/callback"
			switch client {
			case "other":
				secret, redirect = otherSecret, e.rp+"/other"
			case "ed":
				redirect = "http://127.0.0.1:9/app/ed"
			}
			cfg, verifier := e.oauth(client, secret, redirect, oauth2.AuthStyleInHeader)
			tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s"), "alice", "alice-password"))
			if err != nil {
				t.Fatal(err)
			}
			raw := tok.Extra("id_token").(string)
			jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA})
			if err != nil || string(jws.Signatures[0].Header.Algorithm) != want {
				t.Fatalf("alg: %v %v", err, jws.Signatures[0].Header.Algorithm)
			}
			if _, err := verifier.Verify(e.ctx(), raw); err != nil {
				t.Fatalf("verify %s: %v", want, err)
			}
		})
	}
	// Discovery lists every algorithm that has keys.
	_, body := getJSON(t, e.issuer+"/.well-known/openid-configuration")
	algs, _ := body["id_token_signing_alg_values_supported"].([]any)
	if len(algs) != 3 || !strings.Contains(strings.TrimSpace(fmtAny(algs)), "EdDSA") {
		t.Fatalf("discovery algs: %v", algs)
	}
}
