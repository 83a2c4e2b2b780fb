package sqlite

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

func TestExpFrames(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.db")
	s := openTest(t, p)
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	// background rows
	for range 5000 {
		rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "c", Subject: ssotest.RandomID()[:10], CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt})
	}
	s.w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	rt := &sso.RefreshToken{Hash: ssotest.RandomID(), FamilyID: ssotest.RandomID(), ClientID: "c", Subject: "s", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	s.IssueTokens(ctx, sso.Issue{Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: rt})
	fi0, _ := os.Stat(p + "-wal")
	const n = 200
	for range n {
		next := *rt
		next.Hash = ssotest.RandomID()
		if err := s.IssueTokens(ctx, sso.Issue{Rotate: &sso.RotateFrom{OldHash: rt.Hash, Now: now, Grace: time.Second}, Access: benchAccess(ssotest.RandomID(), rt.FamilyID, now), Refresh: &next}); err != nil {
			t.Fatal(err)
		}
		rt = &next
	}
	fi, _ := os.Stat(p + "-wal")
	t.Logf("frames per tx: %.1f", float64(fi.Size()-fi0.Size())/float64(n)/(4096+24))
}
