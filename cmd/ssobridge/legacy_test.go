package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy/imis/imistest"
)

// TestLegacyCheckRunsMembersByEmail: the check runs members_by_email (legacy.EmailFinder, which
// upstream linking uses) with the member's own address and finds the member.
func TestLegacyCheckRunsMembersByEmail(t *testing.T) {
	out, err := run(t, "legacy", "check", "--data-dir="+t.TempDir(), "--login", "alice")
	if err != nil {
		t.Fatalf("check alice: %v\n%s", err, out)
	}
	if !strings.Contains(out, "[members_by_email] 1 member(s)") || !strings.Contains(out, "alice.anders@demo.example: this member included") {
		t.Fatalf("no members_by_email step for alice:\n%s", out)
	}
}

// TestLegacyCheckUnreachableDatabase: with the AMS database unreachable the check says so once
// per query: the failed app_clock query is not reported twice.
func TestLegacyCheckUnreachableDatabase(t *testing.T) {
	ams, err := imistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ams.Close() })
	ams.Stop()
	dir := t.TempDir()
	conf := filepath.Join(dir, "ssobridge.yaml")
	yaml := "legacy:\n  type: imis\n  driver: sqlserver\n  dsn: '" + ams.DSN("dial timeout=1") + "'\n  timezone: UTC\n  query_timeout: 2s\n"
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "legacy", "check", "--data-dir="+filepath.Join(dir, "data"), "--config", conf, "--login", "alice")
	if err == nil {
		t.Fatalf("check against an unreachable database passed:\n%s", out)
	}
	if n := strings.Count(out, "[app_clock] failed"); n != 1 {
		t.Errorf("[app_clock] reported failed %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "PROBLEM: [app_clock]"); n != 1 {
		t.Errorf("%d app_clock problems, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "[ping] failed") {
		t.Errorf("the ping's failure is not reported:\n%s", out)
	}
}

// TestLegacyCheckReportsReadCommittedSnapshot (session 27, brief L item 1): against SQL Server
// the check reports READ_COMMITTED_SNAPSHOT of the AMS database from sys.databases, warns when
// it is off, and counts neither as a problem of the check. The fake AMS here has only the
// table of the ping query, so the member queries after it fail (problems of their own).
func TestLegacyCheckReportsReadCommittedSnapshot(t *testing.T) {
	ams, err := imistest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ams.Close() })
	dir := t.TempDir()
	conf := filepath.Join(dir, "ssobridge.yaml")
	yaml := "legacy:\n  type: imis\n  driver: sqlserver\n  dsn: '" + ams.DSN("dial timeout=1") + "'\n  timezone: UTC\n  query_timeout: 2s\n"
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		rcsi bool
		want []string
	}{
		{false, []string{"[database isolation] database iMIS: READ_COMMITTED_SNAPSHOT OFF",
			"WARNING: locking READ COMMITTED: the reads that confirm a deactivation (member_by_key_committed, roles_by_key_committed)",
			"ALTER DATABASE [iMIS] SET READ_COMMITTED_SNAPSHOT ON"}},
		{true, []string{"[database isolation] database iMIS: READ_COMMITTED_SNAPSHOT ON",
			"read the last committed row versions"}},
	}
	for _, tt := range tests {
		if err := ams.SetReadCommittedSnapshot(tt.rcsi); err != nil {
			t.Fatal(err)
		}
		out, _ := run(t, "legacy", "check", "--data-dir="+filepath.Join(dir, "data"), "--config", conf, "--login", "alice")
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("READ_COMMITTED_SNAPSHOT %v: output lacks %q:\n%s", tt.rcsi, w, out)
			}
		}
		if strings.Contains(out, "PROBLEM: [database isolation]") || strings.Contains(out, "- [database isolation]") {
			t.Errorf("READ_COMMITTED_SNAPSHOT %v is a problem of the check:\n%s", tt.rcsi, out)
		}
	}
}
