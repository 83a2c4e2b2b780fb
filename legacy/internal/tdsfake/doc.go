// Package tdsfake is a small fake SQL Server for tests: a TDS 7.4 server on 127.0.0.1 that
// answers from an in-memory SQLite database (modernc.org/sqlite) whose tables are declared
// with SQL Server type names. With it the real github.com/microsoft/go-mssqldb driver runs
// end to end in `go test`: login, sp_executesql with @pN parameters, column type decoding,
// server errors, cancellation (ATTENTION) and dropped connections. No SQL Server can be
// installed on the development and CI machines; see
// /work/shared/reference/sqlserver-testing.md for why this exists and the driver facts it
// respects.
//
// Test-only: only _test.go files import it, so it is never linked into the ssobridge binary.
//
// # Usage
//
//	srv, err := tdsfake.Start(tdsfake.Config{User: "bridge", Password: "pw", Database: "iMIS"})
//	defer srv.Close()
//	srv.Exec(`CREATE TABLE dbo.UserMain (UserKey uniqueidentifier NOT NULL, UserId varchar(60) NOT NULL,
//	          IsDisabled bit NOT NULL, ExpirationDate datetime NULL)`)
//	srv.Exec(`INSERT INTO UserMain VALUES ('6F9619FF-8B86-D011-B42D-00C04FC964FF', 'JDOE', 0, NULL)`)
//	db, err := sql.Open("sqlserver", srv.DSN()) // sqlserver://bridge:pw@127.0.0.1:PORT?database=iMIS&encrypt=disable
//
// # Protocol
//
// Packet framing (8-byte header, EOM, reassembly, replies split at the negotiated packet
// size), PRELOGIN (the reply says ENCRYPT_NOT_SUP, so DSNs need encrypt=disable), LOGIN7
// (password de-obfuscation; a wrong login gets error 18456, an unknown database 4060 then
// 18456), ENVCHANGE, INFO, LOGINACK for TDS 7.4, SQL batches and RPC sp_executesql (proc id
// 10) with nvarchar (also PLP nvarchar(max)), varchar, int family, bit, float,
// uniqueidentifier, datetime, datetime2, date, datetimeoffset, decimal and varbinary
// parameters; COLMETADATA/ROW/DONE for batches and DONEINPROC/RETURNSTATUS/DONEPROC for RPCs;
// ERROR + DONE with the error flag; RESETCONNECTION acknowledged; ATTENTION answered with
// DONE(ATTN), also interrupting a delayed answer.
//
// # Types
//
// Result column types come from the declared types of the table columns (the fake keeps the
// SQL Server type names in SQLite and reads them back), else from a table column of the same
// name (ISNULL(x, ”) AS x), else from DeclareColumn, else from the values. uniqueidentifier
// values are stored as canonical GUID text and sent in SQL Server's mixed-endian wire order;
// date/time values are stored as fixed-width wall-clock text ("2006-01-02 15:04:05.000"), so
// text comparison is chronological. A datetimeoffset parameter (what go-mssqldb sends for a
// time.Time) is compared as UTC, as SQL Server does against a datetime column; send
// mssql.DateTime1 for wall-clock comparisons. Text columns compare case-insensitively like
// SQL Server's default collation.
//
// # T-SQL
//
// A small rewrite maps the T-SQL the bridge uses to SQLite: N'..', [brackets], dbo.,
// WITH (NOLOCK), TOP n, GETDATE(), ISNULL, LEN, NEWID(), CAST/CONVERT, DATEADD, COLLATE;
// sys.databases (master, tempdb, model, msdb and the server's database, with
// is_read_committed_snapshot_on and snapshot_isolation_state[_desc]), DB_ID(), DB_NAME();
// SET statements change nothing, except that SET LOCK_TIMEOUT bounds a lock wait; each is
// answered with its DONE (DONEINPROC in an RPC), without a row count, as SQL Server answers it
// (SET NOCOUNT ON is not modelled: DONE_COUNT stays on the other statements). SQLite errors
// become SQL Server errors: 208 invalid object name, 207 invalid column name, 102 syntax.
//
// # Failure injection
//
// A Hook sees every request (Kind, SQL, decoded Params) and may return an Action: a Delay
// (a client context deadline then sends ATTENTION), a LockWait (a lock another session holds:
// SET LOCK_TIMEOUT turns it into error 1222, READ_COMMITTED_SNAPSHOT lets reads pass), a
// ServerError, a scripted Result, or Drop
// (close the connection mid-request: the driver reports "Read: EOF"). Refuse/Resume close
// and reopen the listener (connection refused), Stall makes new connections hang before the
// PRELOGIN reply (go-mssqldb then waits for the DSN's "connection timeout", not the context),
// DropConnections cuts every open connection, SetReadCommittedSnapshot and
// SetSnapshotIsolation switch the database's options, SetCredentials changes the accepted login, and
// Stats counts logins and round trips.
package tdsfake
