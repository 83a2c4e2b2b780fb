package demo_test

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestMemberQueriesHandDatetimesAsText: the demo preset selects datetime columns as
// expressions, so the SQLite driver hands them over as text (sqldir reads it in the right
// clock) and does not parse each one into a time.Time first, trying layout after layout.
func TestMemberQueriesHandDatetimesAsText(t *testing.T) {
	db, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queries := imis.PresetIMISSQLite()
	rows, err := db.QueryContext(ctx, queries[sqldir.QueryMemberByLogin], "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("alice not found")
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	dates := 0
	for i, v := range vals {
		switch v.(type) {
		case time.Time:
			t.Errorf("column %s is a time.Time: the driver parsed it", cols[i])
		case string:
			if _, err := time.Parse("2006-01-02 15:04:05.000", v.(string)); err == nil {
				dates++
			}
		}
	}
	if dates < 8 {
		t.Errorf("%d datetime columns as text, want the 8 or more alice has", dates)
	}
}

// TestMemberQueriesHaveNoDeclaredTypes: every column of the demo's member queries is an
// expression (+column), so the SQLite driver copies no declared type name per column at each
// query (it does for a table column: two allocations a column, about 80 a sign-in).
func TestMemberQueriesHaveNoDeclaredTypes(t *testing.T) {
	db, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queries := imis.PresetIMISSQLite()
	for _, tc := range []struct {
		name string
		args []any
	}{
		{sqldir.QueryMemberByLogin, []any{"alice"}},
		{sqldir.QueryMemberByKey, []any{demo.Logins()[0].Key}},
		{sqldir.QueryMemberByID, []any{demo.Logins()[0].MemberID}},
		{sqldir.QueryMembersByEmail, []any{"alice@example.org", 10}},
		{sqldir.QueryListMembers, []any{"", 10}},
	} {
		rows, err := db.QueryContext(ctx, queries[tc.name], tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		types, err := rows.ColumnTypes()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for _, ct := range types {
			if d := ct.DatabaseTypeName(); d != "" {
				t.Errorf("%s: column %s has the declared type %s (select it as +column)", tc.name, ct.Name(), d)
			}
		}
		if len(types) < 39 {
			t.Errorf("%s: %d columns, want the member columns", tc.name, len(types))
		}
		rows.Close()
	}
}
