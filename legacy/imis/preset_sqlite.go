package imis

import (
	"strings"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// The iMIS preset for SQLite (the demo AMS, package legacy/demo; legacy.preset imis-sqlite):
// generated from the SQL Server preset's text (imisQueries), so the behaviour, status rules and
// column contract are identical. SQLite differences: no schema prefix or table hints, LIMIT
// instead of TOP, ?N parameters, strftime for DATEADD, the member columns selected as +column
// (plusSelectedColumns: no declared type, so the driver neither copies a type name per column
// nor parses datetime text). GUID columns hold canonical text and are declared COLLATE NOCASE
// in the demo schema.

// PresetIMISSQLite returns the iMIS queries for the SQLite demo schema, keyed by query name,
// with the default member key (provider_key). The map is a fresh copy.
func PresetIMISSQLite() map[string]string { return imisQueries(imisDialect{sqlite: true}) }

// imisSQLiteProbes are imisProbes for the SQLite schema.
func imisSQLiteProbes() []sqldir.Probe {
	ps := imisProbes()
	r := strings.NewReplacer("dbo.", "", " WITH (NOLOCK)", "", "N'", "'", "@p1", "?1")
	for i := range ps {
		ps[i].Query = r.Replace(ps[i].Query)
	}
	return ps
}
