package sqldir_test

import (
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestDatabaseNow (session 28, P; review s27 R5-4): db_clock reads the database's clock for the
// change poller, through the profile cache. A column now_utc is UTC; a column now is the
// application clock (the demo's is UTC-06:00) and is converted with the offset changed_since's
// times are converted with, so both read the current instant. Without the query the directory
// has no clock (legacy.ErrNoClock, and the poller does without); an answer that breaks the
// contract is a contract fault, not a time.
func TestDatabaseNow(t *testing.T) {
	for _, tc := range []struct {
		name  string
		query string // "": the preset's; "-": none
		want  error  // nil: the current instant
	}{
		{"now_utc (the preset's)", "", nil},
		{"now, the application clock", `SELECT strftime('%Y-%m-%d %H:%M:%f', 'now', '-360 minutes') AS now`, nil},
		{"no query", "-", legacy.ErrNoClock},
		{"no row", `SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS now_utc WHERE 0`, sqldir.ErrContract},
		{"no column of the contract", `SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS at_utc`, sqldir.ErrContract},
		{"not a time", `SELECT 'soon' AS now_utc`, sqldir.ErrContract},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := openGenericWith(t, func(c *sqldir.Config) {
				switch tc.query {
				case "":
				case "-":
					delete(c.Queries, sqldir.QueryDBClock)
				default:
					c.Queries[sqldir.QueryDBClock] = tc.query
				}
			}, slog.New(slog.DiscardHandler))
			c, ok := conn.Directory().(legacy.ClockReader)
			if !ok {
				t.Fatal("the connector's directory is no legacy.ClockReader")
			}
			before := time.Now()
			got, err := c.DatabaseNow(t.Context())
			if tc.want != nil {
				if !errors.Is(err, tc.want) || (tc.want == sqldir.ErrContract && !errors.Is(err, legacy.ErrUnavailable)) {
					t.Fatalf("DatabaseNow = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := got.Sub(before); d < -time.Second || d > time.Minute || got.Location() != time.UTC {
				t.Fatalf("DatabaseNow = %s; want now, %s, in UTC", got.Format(time.RFC3339Nano), before.UTC().Format(time.RFC3339Nano))
			}
		})
	}
}
