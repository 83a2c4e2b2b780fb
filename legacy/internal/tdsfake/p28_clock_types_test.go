package tdsfake_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
)

// TestClockFunctionTypes (session 28, P; review s27 R5-4): the clock functions answer as SQL
// Server types them. SYSUTCDATETIME() and SYSDATETIME() are datetime2(7), to 100 ns;
// GETUTCDATE() and GETDATE() are datetime, rounded to 1/300 s. The bridge reads the database's
// clock with SYSUTCDATETIME() (sqldir's db_clock); the fake answered every one as datetime.
func TestClockFunctionTypes(t *testing.T) {
	t.Parallel()
	local := time.FixedZone("server", -6*3600)
	now := time.Date(2026, 12, 7, 6, 30, 15, 123456700, local) // 12:30:15.1234567 UTC
	e := start(t, tdsfake.Config{Now: func() time.Time { return now }})
	for _, tc := range []struct {
		fn, typ string
		want    time.Time // wall clock, as go-mssqldb returns it (in UTC)
	}{
		{"SYSUTCDATETIME()", "DATETIME2", time.Date(2026, 12, 7, 12, 30, 15, 123456700, time.UTC)},
		{"SYSDATETIME()", "DATETIME2", time.Date(2026, 12, 7, 6, 30, 15, 123456700, time.UTC)},
		{"GETUTCDATE()", "DATETIME", time.Date(2026, 12, 7, 12, 30, 15, 123333333, time.UTC)},
		{"GETDATE()", "DATETIME", time.Date(2026, 12, 7, 6, 30, 15, 123333333, time.UTC)},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			rows, err := e.db.QueryContext(ctxT(t), "SELECT "+tc.fn+" AS now_utc")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			cts, err := rows.ColumnTypes()
			if err != nil {
				t.Fatal(err)
			}
			if got := cts[0].DatabaseTypeName(); got != tc.typ {
				t.Errorf("type %s, want %s", got, tc.typ)
			}
			if !rows.Next() {
				t.Fatalf("no row: %v", rows.Err())
			}
			var got time.Time
			if err := rows.Scan(&got); err != nil {
				t.Fatal(err)
			}
			if d := got.Sub(tc.want); d < -time.Millisecond/2 || d > time.Millisecond/2 || (tc.typ == "DATETIME2" && !got.Equal(tc.want)) {
				t.Errorf("%s = %s, want %s", tc.fn, got.Format(time.RFC3339Nano), tc.want.Format(time.RFC3339Nano))
			}
		})
	}
}
