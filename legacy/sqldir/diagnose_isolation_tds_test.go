package sqldir_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestDiagnoseReadCommittedSnapshot (session 27, brief L item 1, review s26 R3-4): legacy check
// reads sys.databases.is_read_committed_snapshot_on for the AMS database and says what it
// means for the reads that confirm a deactivation; off is a warning, not a problem (SQL
// Server's default), and a login that may not read sys.databases (error 229) or sees no row
// gets "unknown", the check going on.
func TestDiagnoseReadCommittedSnapshot(t *testing.T) {
	permission := &tdsfake.ServerError{Number: 229, Class: 14, State: 5,
		Message: "The SELECT permission was denied on the object 'databases', database 'mssqlsystemresource', schema 'sys'."}
	noRow := &tdsfake.Result{Columns: []tdsfake.ResultColumn{{Name: "name", Type: "sysname"},
		{Name: "is_read_committed_snapshot_on", Type: "bit"}, {Name: "snapshot_isolation_state_desc", Type: "nvarchar(60)"}}}
	tests := []struct {
		name string
		fake tdsfake.Config
		hook tdsfake.Hook
		want []string
	}{
		{"off", tdsfake.Config{}, nil, []string{
			"[database isolation] database iMIS: READ_COMMITTED_SNAPSHOT OFF, ALLOW_SNAPSHOT_ISOLATION OFF",
			"WARNING: locking READ COMMITTED: the reads that confirm a deactivation (member_by_key_committed, roles_by_key_committed) wait for iMIS's write locks on the member's rows for at most 1s (SET LOCK_TIMEOUT)",
			"The imis preset's sign-in, look-up and listing reads are WITH (NOLOCK)",
			"ALTER DATABASE [iMIS] SET READ_COMMITTED_SNAPSHOT ON"}},
		{"on", tdsfake.Config{ReadCommittedSnapshot: true, SnapshotIsolation: true}, nil, []string{
			"[database isolation] database iMIS: READ_COMMITTED_SNAPSHOT ON, ALLOW_SNAPSHOT_ISOLATION ON",
			"(member_by_key_committed, roles_by_key_committed) read the last committed row versions"}},
		{"permission denied", tdsfake.Config{}, tdsfake.OnSQL("sys.databases", tdsfake.Action{Error: permission}), []string{
			"[database isolation] unknown: SQL Server error 229: The SELECT permission was denied",
			"(the bridge's login may not read sys.databases; nothing but this check and a start-up warning needs it)"}},
		{"no row", tdsfake.Config{}, tdsfake.OnSQL("sys.databases", tdsfake.Action{Result: noRow}), []string{
			"[database isolation] unknown: sys.databases shows the bridge's login no row for this database"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d *sqldir.Directory
			tdsDemoTargetWith(t, tt.fake, nil, func(dir *sqldir.Directory) *directorytest.Target { d = dir; return &directorytest.Target{Dir: dir} })
			lastFake.SetHook(tt.hook)
			var out strings.Builder
			if err := d.Diagnose(context.Background(), "alice", &out); err != nil {
				t.Fatalf("Diagnose(alice) = %v; want no problem\n%s", err, out.String())
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if tt.name != "off" && strings.Contains(out.String(), "WARNING") {
				t.Errorf("a warning without READ_COMMITTED_SNAPSHOT known off:\n%s", out.String())
			}
		})
	}
}

// TestStartupWarnsReadCommittedSnapshotOff (session 27, brief L item 1): opening the SQL
// Server directory warns once when the AMS database has READ_COMMITTED_SNAPSHOT off, and says
// nothing when it is on or cannot be read.
func TestStartupWarnsReadCommittedSnapshotOff(t *testing.T) {
	tests := []struct {
		name string
		fake tdsfake.Config
		hook tdsfake.Hook
		warn bool
	}{
		{"off", tdsfake.Config{}, nil, true},
		{"on", tdsfake.Config{ReadCommittedSnapshot: true}, nil, false},
		{"permission denied", tdsfake.Config{}, tdsfake.OnSQL("sys.databases",
			tdsfake.Action{Error: &tdsfake.ServerError{Number: 229, Message: "The SELECT permission was denied on the object 'databases'."}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tdsDemoTargetWith(t, tt.fake, nil, func(dir *sqldir.Directory) *directorytest.Target { return &directorytest.Target{Dir: dir} })
			lastFake.SetHook(tt.hook)
			cfg := demo.SQLConfig()
			cfg.Driver, cfg.Preset, cfg.DSN = sqldir.DriverSQLServer, imis.PresetNameIMIS, lastFake.DSN()
			var logs strings.Builder
			conn, err := sqldir.OpenConnector(context.Background(), cfg, legacy.OpenOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			got := strings.Count(logs.String(), "READ_COMMITTED_SNAPSHOT off")
			if got != map[bool]int{true: 1}[tt.warn] || strings.Contains(logs.String(), "not reachable") {
				t.Fatalf("start-up log (warning wanted %v):\n%s", tt.warn, logs.String())
			}
			if tt.warn && !strings.Contains(logs.String(), "database=iMIS lock_timeout=1s") {
				t.Fatalf("the warning names no database or lock timeout:\n%s", logs.String())
			}
		})
	}
}
