package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

func TestExpFrames2(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.db")
	s := openTest(t, p)
	ctx := t.Context()
	s.w.ExecContext(ctx, "PRAGMA wal_autocheckpoint=0")
	now := time.Now()
	for range 5000 {
		rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "c", Subject: ssotest.RandomID()[:10], CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt})
	}
	measure := func(name string, fn func()) {
		s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		fn() // warm
		fi0, _ := os.Stat(p + "-wal")
		const n = 200
		for range n {
			fn()
		}
		fi, _ := os.Stat(p + "-wal")
		t.Logf("%s: frames per tx: %.1f", name, float64(fi.Size()-fi0.Size())/float64(n)/(4096+24))
	}
	measure("access only", func() {
		if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), "fam", now)}); err != nil {
			t.Fatal(err)
		}
	})
	measure("access+refresh", func() {
		rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: "fam2", ClientID: "c", Subject: "s", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), "fam2", now), Refresh: rt}); err != nil {
			t.Fatal(err)
		}
	})
	measure("empty tx", func() {
		s.w.ExecContext(ctx, "UPDATE counters SET value = value WHERE name = 'x'")
	})
	measure("counter", func() {
		s.w.ExecContext(ctx, "UPDATE counters SET value = value + 1")
	})
}
