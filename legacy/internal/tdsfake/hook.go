package tdsfake

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Hook scripts the fake's answer to a request. It runs for every SQL batch and RPC after
// login; returning nil lets the SQLite backend answer normally.
type Hook func(req *Request) *Action

// Action is a scripted answer. Delay applies first; then the first of Drop, Error and Result
// that is set wins; with none of them the backend answers (after the delay).
type Action struct {
	// Delay holds the answer back. An ATTENTION from the client (the driver sends one when
	// the query's context deadline passes) ends the wait, and the fake answers DONE(ATTN).
	Delay time.Duration
	// LockWait makes the request wait for a lock another session holds this long (a read of
	// rows an uncommitted write holds, under locking READ COMMITTED), after Delay. SQL Server's
	// rules apply: with the database's READ_COMMITTED_SNAPSHOT on (Config), a request of
	// SELECTs only reads row versions and does not wait; when the lock timeout in effect (SET
	// LOCK_TIMEOUT n, in ms: in the request, or in an earlier SQL batch of the connection since its last RESETCONNECTION; -1,
	// wait for ever, by default) is shorter, the request fails after it with error 1222
	// (LockTimeout) and the connection stays usable. An ATTENTION ends the wait.
	LockWait time.Duration
	// Drop closes the connection without answering, as a server crash or a network cut
	// mid-request would. The driver reports "Read: EOF".
	Drop bool
	// Error answers with this server error (ERROR + DONE with the error flag).
	Error *ServerError
	// Result answers with these rows instead of running the query.
	Result *Result
}

// ServerError is a SQL Server error as the ERROR token carries it.
type ServerError struct {
	Number  int32
	Class   byte // severity; 16 when zero
	State   byte // 1 when zero
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("tdsfake: server error %d: %s", e.Number, e.Message)
}

// InvalidObject is SQL Server's error 208 for a missing table or view.
func InvalidObject(name string) *ServerError {
	return &ServerError{Number: ErrNumInvalidObject, Class: 16, Message: fmt.Sprintf("Invalid object name '%s'.", name)}
}

// LockTimeout is SQL Server's error 1222, a lock not granted within SET LOCK_TIMEOUT.
func LockTimeout() *ServerError {
	return &ServerError{Number: ErrNumLockTimeout, Class: 16, State: 45, Message: "Lock request time out period exceeded."}
}

// LoginFailed is SQL Server's error 18456.
func LoginFailed(user string) *ServerError {
	return &ServerError{Number: ErrNumLoginFailed, Class: 14, Message: fmt.Sprintf("Login failed for user '%s'.", user)}
}

// Result is a scripted result set. Column types are SQL Server type names ("nvarchar(50)",
// "uniqueidentifier", "datetime", "bit", "int", ...). Values are nil, string, int64, bool,
// float64, []byte or time.Time; uniqueidentifier values are GUID text.
type Result struct {
	Columns []ResultColumn
	Rows    [][]any
}

// ResultColumn names and types one column of a scripted Result.
type ResultColumn struct {
	Name string
	Type string
}

func (r *Result) resultSet() (resultSet, error) {
	cols := make([]column, len(r.Columns))
	for i, c := range r.Columns {
		t, err := parseType(c.Type)
		if err != nil {
			return resultSet{}, err
		}
		cols[i] = column{name: c.Name, typ: t}
	}
	for _, row := range r.Rows {
		if len(row) != len(cols) {
			return resultSet{}, fmt.Errorf("tdsfake: scripted row has %d values for %d columns", len(row), len(cols))
		}
	}
	for i := range cols {
		cols[i].typ = widen(cols[i].typ, r.Rows, i)
	}
	return resultSet{cols: cols, rows: r.Rows}, nil
}

// Always answers every request with a.
func Always(a Action) Hook {
	return func(*Request) *Action { return &a }
}

// OnSQL answers with a the requests whose SQL text contains substr (case-insensitive).
func OnSQL(substr string, a Action) Hook {
	substr = strings.ToLower(substr)
	return func(req *Request) *Action {
		if strings.Contains(strings.ToLower(req.SQL), substr) {
			return &a
		}
		return nil
	}
}

// Times lets h act on at most n requests (those for which h returns an action); later
// requests are answered normally.
func Times(n int, h Hook) Hook {
	var left atomic.Int64
	left.Store(int64(n))
	return func(req *Request) *Action {
		a := h(req)
		if a == nil {
			return nil
		}
		if left.Add(-1) < 0 {
			return nil
		}
		return a
	}
}

// Once is Times(1, h).
func Once(h Hook) Hook { return Times(1, h) }
