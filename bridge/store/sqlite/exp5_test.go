package sqlite

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

func BenchmarkExpIdx(b *testing.B) {
	orig := migrations[0]
	defer func() { migrations[0] = orig }()
	for round := range 2 {
		for _, v := range []string{"base", "noidx"} {
			b.Run(fmt.Sprintf("%s-%d", v, round), func(b *testing.B) {
				migrations[0] = orig
				if v == "noidx" {
					for _, ix := range []string{"CREATE INDEX access_tokens_family ON access_tokens (family_id);",
						"CREATE INDEX access_tokens_subject ON access_tokens (subject, client_id);",
						"CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);",
						"CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject, client_id);"} {
						migrations[0] = strings.Replace(migrations[0], ix, "", 1)
					}
				}
				s := openTest(b, filepath.Join(b.TempDir(), "bench.db"))
				ctx := b.Context()
				now := time.Now()
				for range 20000 {
					rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "c", Subject: ssotest.RandomID()[:10], CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
					s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt})
				}
				rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "client-a",
					Subject: "subject-a", CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
				s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt})
				ids := benchIDs(2 * b.N)
				b.ResetTimer()
				cpu := cpuTime()
				defer reportCPU(b, cpu)
				for i := range b.N {
					next := *rt
					next.Hash = ids[2*i]
					if err := s.IssueTokens(ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: now, Grace: time.Second},
						Access: benchAccess(ids[2*i+1], rt.FamilyID, now), Refresh: &next}); err != nil {
						b.Fatal(err)
					}
					rt = &next
				}
			})
		}
	}
}
