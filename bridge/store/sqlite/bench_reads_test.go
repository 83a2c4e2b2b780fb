package sqlite

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// BenchmarkLoginReads is a password sign-in's reads of the store: its request by id (twice: the
// form's request, then the one the form is for) and the member's factors, among 2,000 other
// pending requests, with the write connection free (the reads run there: readOnWriter).
func BenchmarkLoginReads(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		ids := make([]string, 2000)
		for i := range ids {
			r := &sso.AuthRequest{ID: ssotest.RandomID(), ClientID: "client-a", RedirectURI: "https://app.example.org/cb",
				State: ssotest.RandomID()[:22], Nonce: ssotest.RandomID()[:22], Scopes: []string{"openid", "profile", "email"},
				ResponseType: "code", CodeChallenge: ssotest.RandomID()[:43], CodeChallengeMethod: "S256",
				Browser: ssotest.RandomID(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateAuthRequest(ctx, r); err != nil {
				b.Fatal(err)
			}
			ids[i] = r.ID
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			for range 2 {
				if _, err := s.AuthRequest(ctx, ids[i%len(ids)]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := s.FactorPresence(ctx, "subject-without-factors"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCodeRead is a code grant's read of its code's request with its session's liveness
// (CodeRequest, by the request's id), among 2,000 other completed requests with codes, with the write
// connection free (the read runs there: readOnWriter).
func BenchmarkCodeRead(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		ids := make([]string, 2000)
		for i := range ids {
			r := &sso.AuthRequest{ID: sso.TimeOrderedToken(now), ClientID: "client-a", RedirectURI: "https://app.example.org/cb",
				State: ssotest.RandomID()[:22], Nonce: ssotest.RandomID()[:22], Scopes: []string{"openid", "profile", "email"},
				ResponseType: "code", CodeChallenge: ssotest.RandomID()[:43], CodeChallengeMethod: "S256",
				Browser: ssotest.RandomID(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateAuthRequest(ctx, r); err != nil {
				b.Fatal(err)
			}
			in := signIn(r, r.Browser)
			if err := s.CompleteSignIn(ctx, in); err != nil {
				b.Fatal(err)
			}
			ids[i] = r.ID
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			timedCodeRead(b, s, ids[i%len(ids)])
		}
	})
}

// timedCodeRead is BenchmarkCodeRead's read under its own name, for instruction counts
// (valgrind --tool=callgrind --toggle-collect='*timedCodeRead*').
//
//go:noinline
func timedCodeRead(b *testing.B, s *Store, id string) {
	if _, live, err := s.CodeRequest(b.Context(), id); err != nil || !live {
		b.Fatal(live, err)
	}
}
