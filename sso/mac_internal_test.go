package sso

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestPooledMACsMatch: the pooled HMAC states give what a fresh hmac.New gives (refresh tokens
// already issued must still be recognised as their family's, and published sids must not
// change), also from goroutines sharing the pools; HashToken is the hex SHA-256 for tokens of
// every length, the stack buffer's and longer.
func TestPooledMACsMatch(t *testing.T) {
	s := &storage{rotateKey: []byte("rotate-key-0123456789"), sidKey: []byte("sid-key-abcdef")}
	want := func(current, family string, gen int64) string {
		m := hmac.New(sha256.New, s.rotateKey)
		m.Write([]byte(current))
		return family + "." + strconv.FormatInt(gen, 10) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				cur := strings.Repeat("t", i) + strconv.Itoa(g)
				if got, w := s.successor(cur, "fam"+strconv.Itoa(i), int64(i*g)), want(cur, "fam"+strconv.Itoa(i), int64(i*g)); got != w {
					t.Errorf("successor(%q) = %q, want %q", cur, got, w)
					return
				}
				sid := strings.Repeat("s", i)
				if got, w := s.publicSID(sid), PublicSID(s.sidKey, sid); got != w {
					t.Errorf("publicSID(%q) = %q, want %q", sid, got, w)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, n := range []int{0, 1, 43, 255, 256, 257, 1000, 5000} {
		tok := strings.Repeat("x", n)
		sum := sha256.Sum256([]byte(tok))
		if got := HashToken(tok); got != hex.EncodeToString(sum[:]) {
			t.Errorf("HashToken of %d bytes = %s", n, got)
		}
	}
}

// TestAccessTokenHashMatchesOp: at_hash written directly is oidc.ClaimHash's for every
// algorithm and length.
func TestAccessTokenHashMatchesOp(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA, jose.RS384} {
		for _, n := range []int{0, 1, 300, 511, 512, 513, 4000} {
			tok := strings.Repeat("a", n)
			h, err1 := appendAccessTokenHash(nil, tok, alg)
			got := string(h)
			want, err2 := oidc.ClaimHash(tok, alg)
			if got != want || err1 != nil || err2 != nil {
				t.Errorf("%s, %d bytes: %q, %v; want %q, %v", alg, n, got, err1, want, err2)
			}
		}
	}
}

// TestAccessIDLayout: an access token id is the fields joined as before (the layout
// decodeAccessID and tokens already issued rely on), and it decodes to what was encoded.
func TestAccessIDLayout(t *testing.T) {
	now := time.Unix(1_800_000_000, 0).UTC()
	at := &AccessToken{FamilyID: "fam", Generation: 42, ClientID: "web", Subject: "sub-1",
		Audience: []string{"web", "api"}, Scopes: []string{"openid", "profile"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	id, err := encodeAccessID(at)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(string(raw), accessIDSep)
	want := strings.Join([]string{accessIDVersion, f[1], "fam", "42", "web", "sub-1", "web api", "openid profile",
		"1800000000000000", "1800003600"}, accessIDSep) // created in µs since "a2"
	if string(raw) != want || len(f[1]) != 11 {
		t.Fatalf("id fields %q, want %q", raw, want)
	}
	got, err := decodeAccessID(id)
	if err != nil || got.IDHash != HashToken(id) || got.FamilyID != "fam" || got.Generation != 42 || got.Subject != "sub-1" ||
		!got.ExpiresAt.Equal(at.ExpiresAt) || !got.CreatedAt.Equal(at.CreatedAt) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}
