package sqldir_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestSQLiteQueriesPreparedOnce: on the SQLite driver each configured query is prepared once
// and reused (the driver parses an unprepared query's text on every run, which cost more than
// running it); a query that fails to prepare is not kept and is tried again; a closed
// directory answers unavailable.
func TestSQLiteQueriesPreparedOnce(t *testing.T) {
	db, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := sqldir.New(db, demo.SQLConfig(), sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	alice := login(t, "alice")
	if _, err := d.Authenticate(ctx, alice.Login, alice.Password); err != nil {
		t.Fatal(err)
	}
	n := sqldir.PreparedQueries(d)
	if n == 0 {
		t.Fatal("no query prepared")
	}
	for range 3 {
		if _, err := d.Authenticate(ctx, alice.Login, alice.Password); err != nil {
			t.Fatal(err)
		}
		if _, err := d.MemberByKey(ctx, alice.Key); err != nil {
			t.Fatal(err)
		}
	}
	if got := sqldir.PreparedQueries(d); got < n || got > n+1 { // + member_by_key
		t.Errorf("prepared %d query texts after repeated runs, want %d or %d", got, n, n+1)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, alice.Login, alice.Password); !errors.Is(err, legacy.ErrUnavailable) {
		t.Errorf("Authenticate on a closed directory = %v, want unavailable", err)
	}

	// A query naming a table that does not exist yet fails to prepare, and works once it does.
	bad := withQueries(t, map[string]string{sqldir.QueryMemberByKey: strings.Replace(
		imis.PresetIMISSQLite()[sqldir.QueryMemberByKey], "JOIN Name AS n", "JOIN NameLater AS n", 1)})
	if _, err := bad.MemberByKey(ctx, alice.Key); !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatalf("MemberByKey with a missing table = %v, want unavailable", err)
	}
	if _, err := sqldir.DB(bad).ExecContext(ctx, `CREATE VIEW NameLater AS SELECT * FROM Name`); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.MemberByKey(ctx, alice.Key); err != nil {
		t.Errorf("MemberByKey once the table exists = %v", err)
	}
}
