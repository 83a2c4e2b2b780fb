package tdsfake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
)

// TestR5ResetConnectionEndsBatchLockTimeout (review s27 R5-3): a SET LOCK_TIMEOUT sent in a SQL
// batch lasts for the session, but database/sql hands a pooled connection out again with
// go-mssqldb's ResetSession, whose next request carries RESETCONNECTION, and SQL Server's
// sp_reset_connection puts every SET option back to its default: the next user of the
// connection waits for locks again. The fake acknowledged the reset and kept the batch's
// timeout, so it answered error 1222 where SQL Server waits: a design that sets the timeout
// once per connection in a batch would pass against the fake and not work on SQL Server.
// On one *sql.Conn (no reset between its requests) the batch's setting stays.
func TestR5ResetConnectionEndsBatchLockTimeout(t *testing.T) {
	t.Parallel()
	const query = "SELECT Name FROM Thing WHERE Flag = @p1"
	for _, tc := range []struct {
		name string
		same bool  // the batch and the query on one *sql.Conn, else through the pool
		want int32 // the server error; -1: waited until the context's deadline
	}{
		{name: "one connection, no reset: the setting stays", same: true, want: tdsfake.ErrNumLockTimeout},
		{name: "pool reuse resets the session: waits again", want: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tdsfake.Config{})
			e.db.SetMaxOpenConns(1)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var name string
			var err error
			if tc.same {
				c, cerr := e.db.Conn(ctxT(t))
				if cerr != nil {
					t.Fatal(cerr)
				}
				defer c.Close()
				if _, err := c.ExecContext(ctxT(t), "SET LOCK_TIMEOUT 50"); err != nil {
					t.Fatal(err)
				}
				e.srv.SetHook(tdsfake.Once(tdsfake.OnSQL("FROM Thing", tdsfake.Action{LockWait: time.Hour})))
				err = c.QueryRowContext(ctx, query, false).Scan(&name)
			} else {
				if _, err := e.db.ExecContext(ctxT(t), "SET LOCK_TIMEOUT 50"); err != nil {
					t.Fatal(err)
				}
				e.srv.SetHook(tdsfake.Once(tdsfake.OnSQL("FROM Thing", tdsfake.Action{LockWait: time.Hour})))
				err = e.db.QueryRowContext(ctx, query, false).Scan(&name)
			}
			switch {
			case tc.want == -1 && !errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("got %q, %v; want a wait until the deadline (the reset put LOCK_TIMEOUT back to -1)", name, err)
			case tc.want > 0 && serverErrorNumber(err) != tc.want:
				t.Fatalf("got %q, %v; want error %d", name, err, tc.want)
			}
		})
	}
}
