package sqldir_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// lockedRows is an uncommitted AMS save holding its write locks for an hour: every request
// that reads a table without WITH (NOLOCK) (SystemConfig aside: site settings, not the
// member's rows) meets the lock (tdsfake.Action.LockWait), as under locking READ COMMITTED.
func lockedRows(req *tdsfake.Request) *tdsfake.Action {
	for _, ref := range tableRefs.FindAllStringSubmatch(req.SQL, -1) {
		if ref[2] == "" && ref[1] != "SystemConfig" {
			return &tdsfake.Action{LockWait: time.Hour}
		}
	}
	return nil
}

var tableRefs = regexp.MustCompile(`dbo\.(\w+) AS \w+( WITH \(NOLOCK\))?`)

// TestCommittedReadLockTimeout (session 27, brief L item 2): the read that confirms a
// deactivation (FreshMemberByKey: member_by_key_committed, roles_by_key_committed) reads
// committed data; when the member's rows are locked by an AMS transaction and
// READ_COMMITTED_SNAPSHOT is off it waited the whole query_timeout, holding a pool connection,
// and then cost it (go-mssqldb discards a connection whose deadline passed). Now it runs with
// SET LOCK_TIMEOUT: SQL Server answers error 1222 after CommittedLockTimeout, which is
// legacy.ErrUnavailable (the refusal unconfirmed, retried later) and the connection stays. The
// look-up by key (WITH (NOLOCK)) does not wait at all, and with READ_COMMITTED_SNAPSHOT on the
// committed read reads row versions. Without the SET LOCK_TIMEOUT the locked case ends at the
// query timeout with context.DeadlineExceeded, not error 1222, and logs in again.
func TestCommittedReadLockTimeout(t *testing.T) {
	tests := []struct {
		name string
		rcsi bool
	}{
		{"read committed snapshot off: error 1222, connection kept", false},
		{"read committed snapshot on: row versions, no wait", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d *sqldir.Directory
			tdsDemoTargetWith(t, tdsfake.Config{ReadCommittedSnapshot: tt.rcsi},
				func(c *sqldir.Config) { c.QueryTimeout = 4 * time.Second },
				func(dir *sqldir.Directory) *directorytest.Target { d = dir; return &directorytest.Target{Dir: dir} })
			srv, db := lastFake, lastDB
			db.SetMaxOpenConns(1)
			ctx := context.Background()
			alice, err := d.MemberByLogin(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			logins := srv.Stats().Logins
			srv.SetHook(lockedRows)
			if m, err := d.MemberByKey(ctx, alice.Key); err != nil || m.Key != alice.Key {
				t.Fatalf("MemberByKey (NOLOCK) with alice's rows locked = %v, %v; want alice", m, err)
			}
			m, err := d.FreshMemberByKey(ctx, alice.Key)
			if tt.rcsi {
				if err != nil || m.Key != alice.Key || len(m.Roles) == 0 {
					t.Fatalf("FreshMemberByKey under READ_COMMITTED_SNAPSHOT = %+v, %v; want alice with her roles", m, err)
				}
			} else {
				var se mssql.Error
				if !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, legacy.ErrLocked) || !errors.As(err, &se) || se.Number != 1222 {
					t.Fatalf("FreshMemberByKey with alice's rows locked = %v, %v; want ErrUnavailable and ErrLocked from SQL Server error 1222", m, err)
				}
			}
			srv.SetHook(nil)
			if _, err := d.FreshMemberByKey(ctx, alice.Key); err != nil {
				t.Fatalf("FreshMemberByKey after the lock: %v", err)
			}
			if got := srv.Stats().Logins; got != logins {
				t.Fatalf("logins %d -> %d: the lock wait cost the pool its connection", logins, got)
			}
		})
	}
}
