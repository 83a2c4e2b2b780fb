package sqlite

import (
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric (all goroutines, including the background checkpointer):
// the figure behind a "grants per second per core" budget, which wall time on a shared
// machine is not.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// benchStores runs fn against a file database (the production set-up) and ":memory:".
func benchStores(b *testing.B, fn func(b *testing.B, s *Store)) {
	b.Run("file", func(b *testing.B) { fn(b, openTest(b, filepath.Join(b.TempDir(), "bench.db"))) })
	b.Run("memory", func(b *testing.B) { fn(b, openTest(b, Memory)) })
}

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = ssotest.RandomID()
	}
	return ids
}

func benchAccess(id, family string, now time.Time) sso.AccessToken {
	return sso.AccessToken{IDHash: id, ClientID: "client-a", Subject: "subject-a",
		Audience: []string{"client-a"}, Scopes: []string{"openid", "profile", "email", "offline_access"},
		FamilyID: family, SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
}

// BenchmarkIssueTokensRotate measures one refresh grant's write: rotate the current token of a
// family to a successor and insert the new access token, in one transaction.
func BenchmarkIssueTokensRotate(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "client-a",
			Subject: "subject-a", Audience: []string{"client-a"}, Scopes: []string{"openid", "offline_access"},
			SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
			CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt}); err != nil {
			b.Fatal(err)
		}
		ids := benchIDs(2 * b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			next := *rt
			next.Hash, next.CreatedAt = ids[2*i], now
			err := s.IssueTokens(ctx, sso.Issue{
				Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: now, Grace: 5 * time.Second},
				Access: benchAccess(ids[2*i+1], rt.FamilyID, now), Refresh: &next,
			})
			if err != nil {
				b.Fatal(err)
			}
			rt = &next
		}
	})
}

// BenchmarkIssueTokensRotateParallel is BenchmarkIssueTokensRotate from GOMAXPROCS*4
// goroutines, each rotating its own family, as a loaded token endpoint does: concurrent grants
// share transactions (group commit), reported as grants/tx.
func BenchmarkIssueTokensRotateParallel(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		b.SetParallelism(4)
		b.ReportAllocs()
		b.ResetTimer()
		cpu, batches := cpuTime(), s.issues.batches.Load()
		defer func() {
			reportCPU(b, cpu)
			b.ReportMetric(float64(b.N)/float64(s.issues.batches.Load()-batches), "grants/tx")
		}()
		b.RunParallel(func(pb *testing.PB) {
			rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "client-a",
				Subject: "subject-a", Audience: []string{"client-a"}, Scopes: []string{"openid", "offline_access"},
				SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
				CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
			if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt}); err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				next := *rt
				next.Hash = ssotest.RandomID()
				err := s.IssueTokens(ctx, sso.Issue{
					Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: now, Grace: 5 * time.Second},
					Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: &next,
				})
				if err != nil {
					b.Error(err)
					return
				}
				rt = &next
			}
		})
	})
}

// BenchmarkAccessTokenGet measures the userinfo/introspection lookup among 10,000 tokens, from
// one goroutine and from GOMAXPROCS goroutines (the read pool serves them in parallel).
func BenchmarkAccessTokenGet(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			benchStores(b, func(b *testing.B, s *Store) {
				ctx := b.Context()
				now := time.Now()
				ids := benchIDs(10000)
				for _, id := range ids {
					if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(id, "", now)}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				defer reportCPU(b, cpu)
				if !parallel {
					for i := range b.N {
						if _, err := s.AccessToken(ctx, ids[i%len(ids)]); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.AccessToken(ctx, ids[int(next.Add(1))%len(ids)]); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkAuthRequestByCode measures the code lookup of the token endpoint among 10,000
// requests.
func BenchmarkAuthRequestByCode(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		maxAge := time.Hour
		codes := make([]string, 10000)
		for i := range codes {
			r := &sso.AuthRequest{ID: ssotest.RandomID(), ClientID: "client-a", RedirectURI: "https://app.example.org/cb",
				State: ssotest.RandomID()[:22], Nonce: ssotest.RandomID()[:22], Scopes: []string{"openid", "profile", "email"},
				ResponseType: "code", CodeChallenge: ssotest.RandomID()[:43], CodeChallengeMethod: "S256",
				MaxAge: &maxAge, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			if err := s.CreateAuthRequest(ctx, r); err != nil {
				b.Fatal(err)
			}
			if err := s.CompleteAuthRequest(ctx, r.ID, sso.Completion{Subject: "subject", AuthTime: now,
				AMR: []string{"pwd"}, SessionID: ssotest.RandomID()}); err != nil {
				b.Fatal(err)
			}
			codes[i] = ssotest.RandomID()
			if err := s.SaveCode(ctx, r.ID, codes[i], now.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			if _, err := s.AuthRequestByCode(ctx, codes[i%len(codes)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefreshTokenGet measures the refresh grant's token lookup among 10,000 refresh
// tokens (each of 5,000 families has one rotated and one current token).
func BenchmarkRefreshTokenGet(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		ids := benchIDs(10000)
		for i := 0; i < len(ids); i += 2 {
			rt := &sso.RefreshToken{Hash: ids[i], FamilyID: ssotest.RandomID(), ClientID: "client-a",
				Subject: "subject-a", Audience: []string{"client-a"}, Scopes: []string{"openid", "offline_access"},
				SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
				CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
			if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt}); err != nil {
				b.Fatal(err)
			}
			next := *rt
			next.Hash = ids[i+1]
			if err := s.IssueTokens(ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: now, Grace: 5 * time.Second},
				Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: &next}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			if _, err := s.RefreshToken(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkRefreshGrantStore is the store's share of one refresh grant: read the presented
// token (on the read pool, whose page cache the previous grant's commit invalidated), then
// rotate it, among 5,000 other families.
func BenchmarkRefreshGrantStore(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		newRT := func() *sso.RefreshToken {
			return &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "client-a",
				Subject: "subject-" + ssotest.RandomID()[:8], Audience: []string{"client-a"}, Scopes: []string{"openid", "offline_access"},
				SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
				CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
		}
		fams := make([]*sso.RefreshToken, 5000)
		for i := range fams {
			fams[i] = newRT()
			if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), fams[i].FamilyID, now), Refresh: fams[i]}); err != nil {
				b.Fatal(err)
			}
		}
		ids := benchIDs(2 * b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			f := (i * 7919) % len(fams)
			rt, err := s.RefreshToken(ctx, fams[f].Hash)
			if err != nil {
				b.Fatal(err)
			}
			next := *rt
			next.Hash, next.CreatedAt = ids[2*i], now
			a := benchAccess(ids[2*i+1], rt.FamilyID, now)
			a.Subject = rt.Subject
			err = s.IssueTokens(ctx, sso.Issue{
				Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: now, Grace: 5 * time.Second},
				Access: a, Refresh: &next,
			})
			if err != nil {
				b.Fatal(err)
			}
			fams[f] = &next
		}
	})
}
