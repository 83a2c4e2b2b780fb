package demo_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestSignInQueriesSeek pins the query plans of the queries a sign-in runs on the demo AMS:
// every table is reached through an index (the demo has the indexes of real iMIS that these
// queries use) and nothing is sorted. Without aspnet_Applications_Index the sign-in query
// scans aspnet_Users; without the SystemConfig index roles_by_key and app_clock scan
// SystemConfig.
func TestSignInQueriesSeek(t *testing.T) {
	db, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	queries := imis.PresetIMISSQLite() // the demo's preset (demo.SQLConfig)
	args := []any{"alice", "2026-01-01 00:00:00.000"}
	for range 9 {
		args = append(args, 1)
	}
	for _, name := range []string{sqldir.QueryMemberByLogin, sqldir.QueryMemberByKey, sqldir.QueryRolesByKey, sqldir.QueryAppClock} {
		q, ok := queries[name]
		if !ok {
			t.Fatalf("no %s query", name)
		}
		var want []any // the arguments ?1 .. ?N the query uses
		for i := 1; i <= len(args); i++ {
			if strings.Contains(q, fmt.Sprintf("?%d", i)) {
				want = args[:i]
			}
		}
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, want...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s: plan step %q (a scan or a sort); plan:\n%s", name, step, strings.Join(plan, "\n"))
			}
		}
	}
}
