package postgres_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/internal/benchcpu"
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

// BenchmarkLoginWrites is one password sign-in's store writes on PostgreSQL, as bridge/store/
// sqlite's benchmark of the same name: the request stored bound to its browser (GET
// /authorize), the sign-in completed with its code (CompleteSignIn: session, audit row, request,
// session client) and the code exchanged (IssueTokens: code consumed, family inserted). cpu-ns/op
// is this process's CPU (the client side: pgx, the store); ns/op includes the round trips.
func BenchmarkLoginWrites(b *testing.B) {
	s, _ := openTest(b)
	ctx := b.Context()
	now := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	defer benchcpu.Start().Report(b)
	for range b.N {
		ar := &sso.AuthRequest{ID: sso.TimeOrderedToken(time.Now()), ClientID: "client-a", RedirectURI: "https://app.example/cb",
			State: "state-" + ssotest.RandomID()[:8], Nonce: ssotest.RandomID()[:16], Scopes: []string{"openid", "profile"},
			ResponseType: "code", CodeChallenge: ssotest.RandomID()[:43], CodeChallengeMethod: "S256",
			CreatedAt: now, ExpiresAt: now.Add(30 * time.Minute), Browser: sso.HashToken("browser:" + ssotest.RandomID())}
		if err := s.CreateAuthRequest(ctx, ar); err != nil {
			b.Fatal(err)
		}
		sub := "subject-" + ssotest.RandomID()[:12]
		raw := sso.TimeOrderedToken(time.Now())
		sid := raw[:16] + sso.HashToken(raw)
		in := &store.SignIn{
			Session: &sso.Session{ID: sid, Subject: sub, AuthTime: now, AMR: []string{"pwd"}, CreatedAt: now,
				LastSeen: now, ExpiresAt: now.Add(12 * time.Hour)},
			Audit:     &store.AuditEvent{Time: now, Event: "login.success", Subject: sub, Login: "member", ClientID: "client-a", IP: "192.0.2.1", Detail: "pwd"},
			RequestID: ar.ID, RequestClient: "client-a",
			Completion: sso.Completion{Subject: sub, AuthTime: now, AMR: []string{"pwd"}, SessionID: sid, Browser: ar.Browser},
			CodeHash:   sso.HashToken(sso.RandomToken()), CodeExpires: now.Add(time.Minute),
		}
		if err := s.CompleteSignIn(ctx, in); err != nil {
			b.Fatal(err)
		}
		f := benchFamily(now)
		f.FamilyID, f.Subject, f.SessionID = ar.ID, sub, sid
		if err := s.IssueTokens(ctx, sso.Issue{ConsumeCodeHash: in.CodeHash, Family: f}); err != nil {
			b.Fatal(err)
		}
	}
}
