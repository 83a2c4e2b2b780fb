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

func benchFamily(now time.Time) *sso.RefreshToken {
	return &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "client-a",
		Subject: "subject-" + ssotest.RandomID()[:8], Audience: []string{"client-a"}, Scopes: []string{"openid", "offline_access"},
		SessionID: "0123456789abcdef0123456789abcdef", AuthTime: now, AMR: []string{"pwd"},
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
}

// benchRotate rotates f to newHash and returns it as stored.
func benchRotate(b *testing.B, s *Store, f *sso.RefreshToken, newHash string, now time.Time) *sso.RefreshToken {
	r := &sso.Rotation{FamilyID: f.FamilyID, Generation: f.Generation, OldHash: f.Hash, NewHash: newHash, Now: now, Grace: 5 * time.Second}
	if err := s.IssueTokens(b.Context(), sso.Issue{Rotate: r}); err != nil {
		b.Error(err)
		return nil
	}
	return ssotest.Applied(f, r)
}

// BenchmarkIssueTokensRotate measures one refresh grant's write: rotate a family in place.
func BenchmarkIssueTokensRotate(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		rt := benchFamily(now)
		if err := s.IssueTokens(ctx, sso.Issue{Family: rt}); err != nil {
			b.Fatal(err)
		}
		ids := benchIDs(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			if rt = benchRotate(b, s, rt, ids[i], now); rt == nil {
				return
			}
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
		cpu, batches := cpuTime(), s.writes.batches.Load()
		defer func() {
			reportCPU(b, cpu)
			b.ReportMetric(float64(b.N)/float64(s.writes.batches.Load()-batches), "grants/tx")
		}()
		b.RunParallel(func(pb *testing.PB) {
			rt := benchFamily(now)
			if err := s.IssueTokens(ctx, sso.Issue{Family: rt}); err != nil {
				b.Error(err)
				return
			}
			for pb.Next() {
				if rt = benchRotate(b, s, rt, ssotest.RandomID(), now); rt == nil {
					return
				}
			}
		})
	})
}

// BenchmarkFamilyGet measures the lookup behind every refresh, userinfo and introspection among
// 10,000 families, from one goroutine and from GOMAXPROCS goroutines (the read pool serves them
// in parallel).
func BenchmarkFamilyGet(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		name := "serial"
		if parallel {
			name = "parallel"
		}
		b.Run(name, func(b *testing.B) {
			benchStores(b, func(b *testing.B, s *Store) {
				ctx := b.Context()
				now := time.Now()
				ids := make([]string, 10000)
				for i := range ids {
					f := benchFamily(now)
					ids[i] = f.FamilyID
					if err := s.IssueTokens(ctx, sso.Issue{Family: f}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				defer reportCPU(b, cpu)
				if !parallel {
					for i := range b.N {
						if _, err := s.Family(ctx, ids[i%len(ids)]); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				var next atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := s.Family(ctx, ids[int(next.Add(1))%len(ids)]); err != nil {
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

// BenchmarkRefreshGrantStore is the store's share of one refresh grant: read the family (on
// the read pool, whose page cache the previous grant's commit invalidated), then rotate it,
// among 5,000 other families.
func BenchmarkRefreshGrantStore(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		now := time.Now()
		fams := make([]*sso.RefreshToken, 5000)
		for i := range fams {
			fams[i] = benchFamily(now)
			if err := s.IssueTokens(ctx, sso.Issue{Family: fams[i]}); err != nil {
				b.Fatal(err)
			}
		}
		ids := benchIDs(b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
		defer reportCPU(b, cpu)
		for i := range b.N {
			f := (i * 7919) % len(fams)
			rt, err := s.Family(ctx, fams[f].FamilyID)
			if err != nil {
				b.Fatal(err)
			}
			if fams[f] = benchRotate(b, s, rt, ids[i], now); fams[f] == nil {
				return
			}
		}
	})
}

// BenchmarkSignInFactors is what every password sign-in asks twice (mfa.Service.Factors) of a
// member without a second factor: the TOTP factor and the passkeys.
func BenchmarkSignInFactors(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		start := cpuTime()
		for b.Loop() {
			if _, err := s.TOTP(ctx, "subject-without-factors"); err == nil {
				b.Fatal("a TOTP factor")
			}
			if l, err := s.WebAuthnCredentials(ctx, "subject-without-factors"); err != nil || len(l) != 0 {
				b.Fatal(l, err)
			}
		}
		reportCPU(b, start)
	})
}

// BenchmarkTakeResetNoticeNone is what every password sign-in asks of a member without a
// factor-reset notice.
func BenchmarkTakeResetNoticeNone(b *testing.B) {
	benchStores(b, func(b *testing.B, s *Store) {
		ctx := b.Context()
		start := cpuTime()
		for b.Loop() {
			if told, err := s.TakeFactorResetNotice(ctx, "subject-without-notice"); err != nil || told {
				b.Fatal(told, err)
			}
		}
		reportCPU(b, start)
	})
}

// BenchmarkReadAfterCommit is one auth request read by id among 10,000, as a sign-in reads it:
// "warm" reads one after the other (no commit in between), "after-commit" creates one request
// (a commit on the write connection) before each read, "recent" does the same but reads the
// request created eight commits earlier (a sign-in reads the request it created moments ago),
// "commit" creates one and reads nothing. after-commit (or recent) minus commit is what a read
// costs in a loaded sign-in, where nearly every read follows some commit.
func BenchmarkReadAfterCommit(b *testing.B) {
	for _, mode := range []string{"warm", "after-commit", "recent", "commit"} {
		b.Run(mode, func(b *testing.B) {
			s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
			ctx := b.Context()
			now := time.Now()
			newReq := func() *sso.AuthRequest {
				return &sso.AuthRequest{ID: ssotest.RandomID(), ClientID: "client-a", RedirectURI: "https://app.example.org/cb",
					State: ssotest.RandomID()[:22], Nonce: ssotest.RandomID()[:22], Scopes: []string{"openid", "profile", "email"},
					ResponseType: "code", CodeChallenge: ssotest.RandomID()[:43], CodeChallengeMethod: "S256",
					CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
			}
			ids := make([]string, 10000)
			for i := range ids {
				r := newReq()
				ids[i] = r.ID
				if err := s.CreateAuthRequest(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
			reqs := make([]*sso.AuthRequest, b.N)
			for i := range reqs {
				reqs[i] = newReq()
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			defer reportCPU(b, cpu)
			for i := range b.N {
				if mode != "warm" {
					if err := s.CreateAuthRequest(ctx, reqs[i]); err != nil {
						b.Fatal(err)
					}
				}
				if mode != "commit" {
					id := ids[(i*7919)%len(ids)]
					if mode == "recent" && i >= 8 {
						id = reqs[i-8].ID
					}
					if _, err := s.AuthRequest(ctx, id); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
