package sqldir

import (
	"database/sql"
	"testing"
)

// TestColumnsFor: a query's results share one column index while their names stay the same,
// and get a new one as soon as they change (a query whose columns change, SELECT * after a
// schema change), which is then kept.
func TestColumnsFor(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:") // not connected: nothing is run
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, err := New(db, Config{Driver: DriverSQLite, Preset: PresetNameNone, Queries: map[string]string{
		QueryMemberByLogin: "SELECT 1", QueryMemberByKey: "SELECT 1", QueryMemberByID: "SELECT 1", QueryRolesByKey: "SELECT 1",
		QueryPing: "SELECT 1", QueryChangedSince: "SELECT 1", QueryListMembers: "SELECT 1"}})
	if err != nil {
		t.Fatal(err)
	}
	a := []string{"User_Key", "login", "updated_at", "UPDATED_AT_pw_UTC", "LOGIN"}
	c1 := d.columnsFor(QueryMemberByLogin, a)
	if c1.cols["user_key"] != 0 || c1.cols["login"] != 1 || len(c1.cols) != 4 {
		t.Fatalf("cols = %v", c1.cols)
	}
	if len(c1.updated) != 2 || c1.updated[0] != (updatedColumn{2, "updated_at", false}) || c1.updated[1] != (updatedColumn{3, "UPDATED_AT_pw_UTC", true}) {
		t.Fatalf("updated = %+v", c1.updated)
	}
	if c2 := d.columnsFor(QueryMemberByLogin, append([]string(nil), a...)); c2 != c1 {
		t.Error("same names: not the kept columns")
	}
	b := []string{"login", "user_key"}
	c3 := d.columnsFor(QueryMemberByLogin, b)
	if c3 == c1 || c3.cols["user_key"] != 1 || c3.cols["login"] != 0 || len(c3.updated) != 0 {
		t.Fatalf("changed names: %+v", c3)
	}
	if c4 := d.columnsFor(QueryMemberByLogin, b); c4 != c3 {
		t.Error("the changed names' columns were not kept")
	}
	if c5 := d.columnsFor(QueryMemberByKey, b); c5 == c3 {
		t.Error("another query shares the columns")
	}
	b[0] = "changed" // the caller's slice is not kept
	if c6 := d.columnsFor(QueryMemberByLogin, []string{"login", "user_key"}); c6 != c3 {
		t.Error("the kept names alias the caller's slice")
	}
}
