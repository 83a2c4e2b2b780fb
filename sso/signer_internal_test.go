package sso

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// TestTypedSignerBuiltOnce: the at+jwt and logout+jwt compact signers are built once per key
// and typ (building one per token showed in profiles), share the key's signature path (its
// tokenKey: the ID tokens'), and each signs with its own typ and the key's kid.
func TestTypedSignerBuiltOnce(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := &signingKey{id: "k1", alg: jose.ES256, private: priv}
	id, err := k.compact()
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []jose.ContentType{TypeAccessTokenJWT, LogoutTokenType} {
		a, err := k.compactFor(typ)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.compactFor(typ)
		if a != b {
			t.Fatalf("%s: a new signer per call", typ)
		}
		if a.tokenKey != id.tokenKey {
			t.Fatalf("%s: a signature path of its own, not the ID tokens'", typ)
		}
		compact, err := signTyped(k, typ, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jose.ParseSigned(compact, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		h := parsed.Signatures[0].Header
		if h.KeyID != "k1" || h.ExtraHeaders[jose.HeaderType] != string(typ) {
			t.Fatalf("%s: header %+v", typ, h)
		}
		if strings.Count(compact, ".") != 2 {
			t.Fatalf("%s: not compact: %s", typ, compact)
		}
		if _, err := parsed.Verify(priv.Public()); err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
	}
}

// TestRSASignaturesBackToBack: on one processor, RSA ID token signatures of grants that are
// ready at once run back to back (each sign yields before and after its signature), so no
// request's work after its signature runs before every ready request has reached its own
// (the core is cold after each millisecond of RSA; see compactSigner.sign). Every token still
// verifies. An ES256 signer does not yield (its signature is short).
func TestRSASignaturesBackToBack(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, c := range []struct {
		alg        jose.SignatureAlgorithm
		priv       crypto.Signer
		backToBack bool
	}{{jose.RS256, rk, true}, {jose.ES256, ek, false}} {
		t.Run(string(c.alg), func(t *testing.T) {
			k := &signingKey{id: "k1", alg: c.alg, private: c.priv}
			cs, err := k.compact()
			if err != nil {
				t.Fatal(err)
			}
			const n = 4
			var (
				mu     sync.Mutex
				events []string
				wg     sync.WaitGroup
			)
			note := func(e string) { mu.Lock(); events = append(events, e); mu.Unlock() }
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					note("start")
					payload := fmt.Sprintf(`{"sub":"m%d"}`, i)
					b, err := cs.appendSigned(nil, []byte(payload))
					tok := string(b)
					note("end")
					if err != nil {
						t.Error(err)
						return
					}
					jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{c.alg})
					if err != nil {
						t.Error(err)
						return
					}
					got, err := jws.Verify(c.priv.Public())
					if err != nil || string(got) != payload {
						t.Errorf("token %d: %q, %v", i, got, err)
					}
				}()
			}
			wg.Wait()
			firstEnd, lastStart := slices.Index(events, "end"), n-1
			for i, e := range events {
				if e == "start" {
					lastStart = i
				}
			}
			if got := firstEnd > lastStart; got != c.backToBack {
				t.Fatalf("events %v: every grant reached its signature before any went on: %v, want %v", events, got, c.backToBack)
			}
		})
	}
}
