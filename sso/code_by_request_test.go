package sso_test

import (
	"net/url"
	"testing"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// byHashOnly is a store without sso.CodeRequestReader: its provider finds codes by their hash,
// as every provider did before codes were found by their request (the previous binary).
type byHashOnly struct{ sso.Store }

// TestCodeFoundByItsRequest: with a store that is an sso.CodeRequestReader, the provider opens
// a code to its request's id and checks the hash that request holds. A code issued by a
// provider that found codes by their hash (the previous binary, on the same store) is redeemed
// once through x/oauth2, and its replay is invalid_grant; a code that does not open, and a
// fresh sealing of a real request's id (it opens to that request, whose code is another), are
// invalid_grant and spend nothing: the real code is redeemed after them.
func TestCodeFoundByItsRequest(t *testing.T) {
	if _, ok := any(memstore.New()).(sso.CodeRequestReader); !ok {
		t.Fatal("memstore is not an sso.CodeRequestReader: the provider's tests would not run its path")
	}
	old := newHarnessWith(t, func(st *memstore.Store) sso.Store { return byHashOnly{st} })
	h := newHarnessOn(t, old.store, nil) // the new binary, on the same store and keys
	exchange := func(code, verifier string) (*oauth2.Token, error) {
		return h.oauth2Config("web", webSecret, webRedirect, "openid").Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	}

	t.Run("issued before, redeemed once", func(t *testing.T) {
		code, verifier := old.code("alice", "openid")
		tok, err := exchange(code, verifier)
		if err != nil || tok.Extra("id_token") == nil {
			t.Fatalf("a code the previous binary issued: %v, %v", tok, err)
		}
		if _, err := exchange(code, verifier); oauthErr(err) != "invalid_grant" {
			t.Fatalf("its replay: %v, want invalid_grant", err)
		}
		if !h.hooks.sawEvent("token.code_replay") {
			t.Error("the replay was not detected as one (token.code_replay)")
		}
	})

	t.Run("refused cleanly", func(t *testing.T) {
		code, verifier := old.code("alice", "openid")
		crypto, err := sso.NewCrypto([32]byte{1, 2, 3}) // the harness's CryptoKey
		if err != nil {
			t.Fatal(err)
		}
		id, err := crypto.Decrypt(code)
		if err != nil {
			t.Fatal(err)
		}
		resealed, err := crypto.Encrypt(id)
		if err != nil || resealed == code {
			t.Fatalf("sealing the request id again: %q, %v", resealed, err)
		}
		for name, c := range map[string]string{
			"not a sealed id":              "not-a-code-" + code[:20],
			"its id sealed again":          resealed,
			"another key's sealing":        sealedUnder(t, [32]byte{9}, id),
			"an unknown request's sealing": sealedUnder(t, [32]byte{1, 2, 3}, id+"x"),
		} {
			status, body, _ := h.token(url.Values{"grant_type": {"authorization_code"}, "code": {c},
				"redirect_uri": {webRedirect}, "code_verifier": {verifier}}, "web:"+webSecret)
			if status != 400 || body["error"] != "invalid_grant" {
				t.Errorf("%s: %d %v, want 400 invalid_grant", name, status, body)
			}
		}
		if tok, err := exchange(code, verifier); err != nil || tok.AccessToken == "" {
			t.Fatalf("the real code after the refused ones: %v, %v", tok, err)
		}
	})
}

func sealedUnder(t *testing.T, key [32]byte, s string) string {
	t.Helper()
	c, err := sso.NewCrypto(key)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encrypt(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
