package sso

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDerivedTokenFormat: a derived refresh token is "<family>.<gen>.d." and the base64url
// HMAC-SHA256 of "rt-gen:<family>.<gen>" under the rotation key, also from goroutines sharing the
// pooled HMAC states: tokens already issued must stay recognisable as their family's across
// releases. It is never chain-shaped, and a chain token never looks derived.
func TestDerivedTokenFormat(t *testing.T) {
	s := &storage{rotateKey: []byte("rotate-key-0123456789")}
	want := func(family string, gen int64) string {
		m := hmac.New(sha256.New, s.rotateKey)
		m.Write([]byte("rt-gen:" + family + "." + strconv.FormatInt(gen, 10)))
		return family + "." + strconv.FormatInt(gen, 10) + ".d." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				family := TimeOrderedToken(time.Now()) + strings.Repeat("f", i%7)
				gen := int64(i*g) << (i % 50)
				got := s.derivedToken(family, gen)
				if w := want(family, gen); got != w {
					t.Errorf("derivedToken(%q, %d) = %q, want %q", family, gen, got, w)
					return
				}
				if f, n, ok := parseRefreshToken(got); !ok || f != family || n != gen || !isDerived(got) {
					t.Errorf("derived token %q parses as %q %d %v, derived %v", got, f, n, ok, isDerived(got))
					return
				}
				if chain := s.successor(got, family, gen+1); isDerived(chain) {
					t.Errorf("chain token %q looks derived", chain)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, tok := range []string{"fam.0." + RandomToken(), RandomToken(), "fam.0.d", "fam.0.dX", "fam.d.0"} {
		if isDerived(tok) {
			t.Errorf("%q looks derived", tok)
		}
	}
}

// BenchmarkNextToken is the rotation's token-making, the one part of the refresh hot path that
// changed with derived tokens: chain (successor of the presented token) against derived.
func BenchmarkNextToken(b *testing.B) {
	s := &storage{rotateKey: []byte("rotate-key-0123456789abcdef-0123")}
	family := TimeOrderedToken(time.Now())
	chain := s.successor(family+".0."+RandomToken(), family, 41)
	derived := s.derivedToken(family, 41)
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.nextToken(chain, family, 42)
		}
	})
	b.Run("derived", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = s.nextToken(derived, family, 42)
		}
	})
}
