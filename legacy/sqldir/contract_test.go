package sqldir_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

var aliasRE = regexp.MustCompile(`(?i)\bAS\s+([a-z_][a-z0-9_]*)\s*(,|\n|$)`)

// aliases lists the result column aliases of a query's select list.
func aliases(q string) []string {
	if i := regexp.MustCompile(`\nFROM\s`).FindStringIndex(q); i != nil {
		q = q[:i[0]] + "\n"
	}
	var out []string
	for _, m := range aliasRE.FindAllStringSubmatch(q, -1) {
		out = append(out, strings.ToLower(m[1]))
	}
	return out
}

// The iMIS presets follow the column contract, and the SQLite preset returns exactly the
// columns of the SQL Server one.
func TestPresetsHaveTheSameColumns(t *testing.T) {
	ms, lite := imis.PresetIMIS(), imis.PresetIMISSQLite()
	for _, name := range sqldir.QueryNames() {
		a, b := aliases(ms[name]), aliases(lite[name])
		if len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("%s: columns differ:\n sqlserver %v\n sqlite    %v", name, a, b)
		}
	}
	login := aliases(ms[sqldir.QueryMemberByLogin])
	for _, c := range append(append([]string{}, sqldir.RequiredColumns...), sqldir.HashColumns...) {
		if !slices.Contains(login, c) && !slices.Contains(login, c+sqldir.UTCSuffix) {
			t.Errorf("member_by_login lacks %s", c)
		}
	}
	for _, c := range sqldir.OptionalColumns {
		if c != sqldir.ColPicture && !slices.Contains(login, c) && !slices.Contains(login, c+sqldir.UTCSuffix) {
			t.Errorf("member_by_login lacks %s", c)
		}
	}
	for _, name := range []string{sqldir.QueryMemberByKey, sqldir.QueryMemberByID, sqldir.QueryChangedSince} {
		cols := aliases(ms[name])
		for _, c := range sqldir.HashColumns {
			if slices.Contains(cols, c) {
				t.Errorf("%s returns %s: only member_by_login reads passwords", name, c)
			}
		}
	}
}
