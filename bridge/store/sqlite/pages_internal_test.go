package sqlite

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// TestWALFramesPerGrant reports how many WAL frames (pages written) one refresh grant costs on
// a database already holding 20,000 families (run with -v to see the figure).
func TestWALFramesPerGrant(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	path := filepath.Join(t.TempDir(), "frames.db")
	s := openTest(t, path, WithCheckpointInterval(time.Hour))
	ctx := t.Context()
	now := time.Now()
	fams := make([]*sso.RefreshToken, 20000)
	for i := range fams {
		fams[i] = benchFamily(now)
		if err := s.IssueTokens(ctx, sso.Issue{Family: fams[i]}); err != nil {
			t.Fatal(err)
		}
	}
	var pageSize int64
	if err := s.w.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	for i := range n {
		rt := fams[(i*7919)%len(fams)]
		r := &sso.Rotation{FamilyID: rt.FamilyID, Generation: rt.Generation, OldHash: rt.Hash, NewHash: ssotest.RandomID(),
			Now: now, Grace: 5 * time.Second}
		if err := s.IssueTokens(ctx, sso.Issue{Rotate: r}); err != nil {
			t.Fatal(err)
		}
		fams[(i*7919)%len(fams)] = ssotest.Applied(rt, r)
	}
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if testing.Verbose() {
		walByTree(t, s, path+"-wal", pageSize)
	}
	t.Logf("page size %d: %.2f WAL frames per refresh grant", pageSize, float64((fi.Size()-32)/(pageSize+24))/n)
}

// walByTree logs which b-trees the WAL frames belong to (needs the dbstat virtual table).
func walByTree(t *testing.T, s *Store, wal string, pageSize int64) {
	b, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	owner := map[int64]string{}
	rows, err := s.w.QueryContext(t.Context(), `SELECT name, pageno FROM dbstat`)
	if err != nil {
		t.Logf("dbstat: %v", err)
		return
	}
	for rows.Next() {
		var name string
		var pg int64
		if err := rows.Scan(&name, &pg); err != nil {
			t.Fatal(err)
		}
		owner[pg] = name
	}
	rows.Close()
	count := map[string]int{}
	for off := int64(32); off+24+pageSize <= int64(len(b)); off += 24 + pageSize {
		pg := int64(binary.BigEndian.Uint32(b[off:]))
		name := owner[pg]
		if name == "" {
			name = "?"
		}
		count[name]++
	}
	t.Logf("WAL frames by b-tree: %v", count)
}
