package sqlite

import (
	"path/filepath"
	"testing"
)

// TestColumnListsCheap: the hot reads' columns are expressions (no declared type) named with
// one byte, which modernc reads without copying a name and a type per column into new strings
// at every query (two allocations per column: 56 per request read). It fails if a column of
// these lists is read as the plain column again.
func TestColumnListsCheap(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "cols.db"))
	ctx := t.Context()
	for _, c := range []struct {
		q    string
		args int
	}{
		{authRequestQuery, 2}, {codeRequestQuery, 2}, {claimAuthRequestQuery, 3}, {codeStateQuery, 3},
		{factorPresenceQuery, 1}, {familyQuery, 2}, {familyStateQuery, 1},
		{`SELECT ` + sessionCols + ` FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id WHERE s.id = ?`, 1},
	} {
		q := c.q
		args := make([]any, c.args)
		for i := range args {
			args[i] = "x"
		}
		rows, err := s.w.QueryContext(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		types, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		for i, ct := range types {
			if ct.Name() != "_" || ct.DatabaseTypeName() != "" {
				t.Errorf("%.60s...: column %d is %q of declared type %q, want an expression named _", q, i, ct.Name(), ct.DatabaseTypeName())
			}
		}
		rows.Close()
	}
}
