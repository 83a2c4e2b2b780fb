package postgres_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// The store-level refresh write on PostgreSQL, next to bridge/store/sqlite's benchmarks of the
// same names (the same family shape, the same rotation).

func benchFamily(now time.Time) *sso.RefreshToken {
	return &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "client-a",
		Subject: "subject-" + ssotest.RandomID()[:8], Audience: []string{"client-a"}, Scopes: []string{"openid", "offline_access"},
		SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
}

func benchRotate(b *testing.B, s sso.Store, f *sso.RefreshToken, now time.Time) *sso.RefreshToken {
	r := &sso.Rotation{FamilyID: f.FamilyID, Generation: f.Generation, OldHash: f.Hash, NewHash: ssotest.RandomID(), Now: now, Grace: 5 * time.Second}
	if err := s.IssueTokens(b.Context(), sso.Issue{Rotate: r}); err != nil {
		b.Error(err)
		return nil
	}
	return ssotest.Applied(f, r)
}

// BenchmarkIssueTokensRotate measures one refresh grant's write: rotate a family in place.
func BenchmarkIssueTokensRotate(b *testing.B) {
	s, _ := openTest(b)
	now := time.Now()
	rt := benchFamily(now)
	if err := s.IssueTokens(b.Context(), sso.Issue{Family: rt}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if rt = benchRotate(b, s, rt, now); rt == nil {
			return
		}
	}
}

// BenchmarkIssueTokensRotateParallel is BenchmarkIssueTokensRotate from GOMAXPROCS*4
// goroutines, each rotating its own family.
func BenchmarkIssueTokensRotateParallel(b *testing.B) {
	s, _ := openTest(b)
	now := time.Now()
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := benchFamily(now)
		if err := s.IssueTokens(b.Context(), sso.Issue{Family: rt}); err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if rt = benchRotate(b, s, rt, now); rt == nil {
				return
			}
		}
	})
}
