package tdsfake_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
)

const knownGUID = "6F9619FF-8B86-D011-B42D-00C04FC964FF"

const fixture = `
CREATE TABLE [dbo].[Thing] (
	[ThingKey]   uniqueidentifier NOT NULL PRIMARY KEY,
	[Name]       nvarchar(50)     NOT NULL,
	[Code]       varchar(10)      NOT NULL DEFAULT '',
	[Flag]       bit              NOT NULL,
	[Small]      smallint         NULL,
	[Tiny]       tinyint          NULL,
	[Count]      int              NULL,
	[Big]        bigint           NULL,
	[Price]      decimal(10,2)    NULL,
	[Ratio]      float            NULL,
	[Note]       nvarchar(max)    NULL,
	[ExpiresOn]  datetime         NULL,
	[ParentKey]  uniqueidentifier NULL
);
INSERT INTO dbo.Thing (ThingKey, Name, Code, Flag, Small, Tiny, [Count], Big, Price, Ratio, Note, ExpiresOn, ParentKey)
VALUES ('6F9619FF-8B86-D011-B42D-00C04FC964FF', N'Zoë Ünïcode 日本', 'Müller', 1, -7, 200, 42, 9000000000, 12.34, 0.5, NULL, '2024-03-01 10:00:00', NULL);
INSERT INTO dbo.Thing (ThingKey, Name, Code, Flag, ExpiresOn, ParentKey)
VALUES ('0b0c8a5e-1f2d-4e3c-9a8b-7c6d5e4f3a2b', N'plain', 'X', 0, NULL, '6F9619FF-8B86-D011-B42D-00C04FC964FF');
`

type env struct {
	srv *tdsfake.Server
	db  *sql.DB
}

func start(t testing.TB, cfg tdsfake.Config) *env {
	t.Helper()
	srv, err := tdsfake.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Exec(fixture); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlserver", srv.DSN("dial timeout=2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{srv: srv, db: db}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serverErrorNumber(err error) int32 {
	var me mssql.Error
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

func TestLoginOK(t *testing.T) {
	e := start(t, tdsfake.Config{User: "bridge", Password: "s3cret", Database: "iMIS"})
	if err := e.db.PingContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var db string
	if err := e.db.QueryRowContext(ctxT(t), "SELECT 'iMIS' AS db").Scan(&db); err != nil {
		t.Fatal(err)
	}
	if st := e.srv.Stats(); st.Logins != 1 || st.FailedLogins != 0 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(e.srv.DSN(), "encrypt=disable") {
		t.Fatalf("DSN %q", e.srv.DSN())
	}
}

func TestLoginFailed(t *testing.T) {
	e := start(t, tdsfake.Config{User: "bridge", Password: "s3cret"})
	cases := []struct {
		name, user, password, database string
		want                           int32
	}{
		{"wrong password", "bridge", "nope", "iMIS", 18456},
		{"unknown user", "sa", "s3cret", "iMIS", 18456},
		{"unknown database", "bridge", "s3cret", "Other", 18456}, // 4060 comes first; the last error wins
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := sql.Open("sqlserver", e.srv.DSNFor(c.user, c.password, c.database))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			err = db.PingContext(ctxT(t))
			if got := serverErrorNumber(err); got != c.want {
				t.Fatalf("error %v (number %d), want %d", err, got, c.want)
			}
			if c.database == "Other" {
				var me mssql.Error
				errors.As(err, &me)
				if len(me.All) != 2 || me.All[0].Number != 4060 {
					t.Fatalf("want 4060 then 18456, got %+v", me.All)
				}
			}
		})
	}
	if st := e.srv.Stats(); st.FailedLogins != 3 || st.Logins != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestEncryptionRequiredIsRefused(t *testing.T) {
	e := start(t, tdsfake.Config{})
	dsn := strings.Replace(e.srv.DSN(), "encrypt=disable", "encrypt=true", 1)
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(ctxT(t))
	if err == nil || !strings.Contains(err.Error(), "server does not support encryption") {
		t.Fatalf("got %v", err)
	}
}

func TestGUIDByteOrder(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)

	// Scanned into mssql.UniqueIdentifier: the canonical text.
	var key mssql.UniqueIdentifier
	if err := e.db.QueryRowContext(ctx, "SELECT ThingKey FROM dbo.Thing WHERE Name = N'plain' OR Flag = 1 ORDER BY Flag DESC").Scan(&key); err != nil {
		t.Fatal(err)
	}
	if key.String() != knownGUID {
		t.Fatalf("scanned %s, want %s", key, knownGUID)
	}
	// The raw bytes are in SQL Server's mixed-endian wire order.
	var raw []byte
	if err := e.db.QueryRowContext(ctx, "SELECT TOP 1 ThingKey FROM Thing WITH (NOLOCK) WHERE Flag = 1").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%X", raw); got != "FF19966F868B11D0B42D00C04FC964FF" {
		t.Fatalf("wire bytes %s", got)
	}
	// A parameter of that type matches the row, and lower-case text in the table matches too.
	var want mssql.UniqueIdentifier
	if err := want.Scan(knownGUID); err != nil {
		t.Fatal(err)
	}
	var name string
	if err := e.db.QueryRowContext(ctx, "SELECT Name FROM dbo.Thing WHERE ThingKey = @p1", want).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "Zoë Ünïcode 日本" {
		t.Fatalf("name %q", name)
	}
	var child mssql.UniqueIdentifier
	if err := e.db.QueryRowContext(ctx, "SELECT t.ThingKey FROM dbo.Thing t WHERE t.ParentKey = @p1", want).Scan(&child); err != nil {
		t.Fatal(err)
	}
	if child.String() != "0B0C8A5E-1F2D-4E3C-9A8B-7C6D5E4F3A2B" {
		t.Fatalf("child %s", child)
	}
	// NULL uniqueidentifier.
	var parent mssql.NullUniqueIdentifier
	if err := e.db.QueryRowContext(ctx, "SELECT ParentKey FROM Thing WHERE ThingKey = @p1", want).Scan(&parent); err != nil {
		t.Fatal(err)
	}
	if parent.Valid {
		t.Fatalf("parent %v, want NULL", parent)
	}
	// CAST of GUID text to uniqueidentifier.
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM Thing WHERE ThingKey = CAST(@p1 AS uniqueidentifier)", strings.ToLower(knownGUID)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("count %d", n)
	}
}

func TestDateTime(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	var got time.Time
	if err := e.db.QueryRowContext(ctx, "SELECT ExpiresOn FROM Thing WHERE Flag = 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got.Format("2006-01-02 15:04:05") != "2024-03-01 10:00:00" {
		t.Fatalf("scanned %v", got)
	}

	count := func(q string, arg any) int {
		t.Helper()
		var n int
		if err := e.db.QueryRowContext(ctx, q, arg).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// mssql.DateTime1 compares wall clock to wall clock.
	before := mssql.DateTime1(time.Date(2024, 3, 1, 9, 59, 59, 0, time.Local))
	after := mssql.DateTime1(time.Date(2024, 3, 1, 10, 0, 1, 0, time.Local))
	if n := count("SELECT COUNT(*) FROM Thing WHERE ExpiresOn > @p1", before); n != 1 {
		t.Fatalf("ExpiresOn > 09:59:59: %d rows", n)
	}
	if n := count("SELECT COUNT(*) FROM Thing WHERE ExpiresOn > @p1", after); n != 0 {
		t.Fatalf("ExpiresOn > 10:00:01: %d rows", n)
	}
	if n := count("SELECT COUNT(*) FROM Thing WHERE ExpiresOn = @p1", mssql.DateTime1(time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC))); n != 1 {
		t.Fatalf("ExpiresOn = 10:00: %d rows", n)
	}
	// A time.Time travels as datetimeoffset and the datetime column is compared as UTC:
	// 10:30+02:00 is 08:30 UTC, which is before the stored 10:00.
	plus2 := time.FixedZone("+02", 2*3600)
	if n := count("SELECT COUNT(*) FROM Thing WHERE ExpiresOn > @p1", time.Date(2024, 3, 1, 10, 30, 0, 0, plus2)); n != 1 {
		t.Fatalf("datetimeoffset comparison: %d rows", n)
	}
	// GETDATE() uses the server clock.
	if n := count("SELECT COUNT(*) FROM Thing WHERE ExpiresOn < GETDATE() AND @p1 = 1", 1); n != 1 {
		t.Fatalf("GETDATE: %d rows", n)
	}
	// DATEADD
	if n := count("SELECT COUNT(*) FROM Thing WHERE DATEADD(day, @p1, ExpiresOn) = '2024-03-02 10:00:00.000'", 1); n != 1 {
		t.Fatalf("DATEADD: %d rows", n)
	}
}

func TestStringsAndNumbers(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	var (
		name, code          string
		flag                bool
		small, tiny, count  int
		big                 int64
		price, ratio        float64
		note                sql.NullString
		expires             sql.NullTime
		parent              mssql.NullUniqueIdentifier
		nameType, codeType  string
		smallType, bigType  string
		expiresT, priceType string
	)
	rows, err := e.db.QueryContext(ctx, "SELECT Name, Code, Flag, Small, Tiny, [Count], Big, Price, Ratio, Note, ExpiresOn, ParentKey FROM Thing WHERE Flag = @p1", true)
	if err != nil {
		t.Fatal(err)
	}
	cts, _ := rows.ColumnTypes()
	nameType, codeType, smallType, bigType, priceType, expiresT = cts[0].DatabaseTypeName(), cts[1].DatabaseTypeName(), cts[3].DatabaseTypeName(), cts[6].DatabaseTypeName(), cts[7].DatabaseTypeName(), cts[10].DatabaseTypeName()
	if !rows.Next() {
		t.Fatal("no row", rows.Err())
	}
	if err := rows.Scan(&name, &code, &flag, &small, &tiny, &count, &big, &price, &ratio, &note, &expires, &parent); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if name != "Zoë Ünïcode 日本" || code != "Müller" || !flag || small != -7 || tiny != 200 || count != 42 ||
		big != 9000000000 || price != 12.34 || ratio != 0.5 || note.Valid || !expires.Valid || parent.Valid {
		t.Fatalf("got %q %q %v %d %d %d %d %v %v %v %v %v", name, code, flag, small, tiny, count, big, price, ratio, note, expires, parent)
	}
	if got := strings.Join([]string{nameType, codeType, smallType, bigType, priceType, expiresT}, ","); got != "NVARCHAR,VARCHAR,SMALLINT,BIGINT,DECIMAL,DATETIME" {
		t.Fatalf("column types %s", got)
	}

	// nvarchar parameters round trip, including non-ASCII, empty (sent as PLP) and > 4000
	// characters (PLP nvarchar(max)).
	long := strings.Repeat("ünïcødé ", 700) + "end"
	for _, s := range []string{"Zoë 日本語 😀", "", long} {
		var back string
		var length int
		if err := e.db.QueryRowContext(ctx, "SELECT @p1 AS v, LEN(@p1) AS n", s).Scan(&back, &length); err != nil {
			t.Fatal(err)
		}
		if back != s || length != len([]rune(s)) {
			t.Fatalf("round trip of %d chars: got %d chars (LEN %d)", len([]rune(s)), len([]rune(back)), length)
		}
	}
	// Writes through TDS (the fake does not forbid them) and PLP nvarchar(max) column values.
	if _, err := e.db.ExecContext(ctx, "UPDATE Thing SET Note = @p1 WHERE Flag = 0", long); err != nil {
		t.Fatal(err)
	}
	if err := e.db.QueryRowContext(ctx, "SELECT Note FROM Thing WHERE Flag = 0").Scan(&note); err != nil {
		t.Fatal(err)
	}
	if note.String != long {
		t.Fatalf("nvarchar(max) value of %d chars came back with %d", len(long), len(note.String))
	}
	// Case-insensitive comparison like SQL Server's default collation; N'' literals.
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM Thing WHERE Name = N'PLAIN' AND Code = @p1", "x").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("case-insensitive match: %d", n)
	}
	// bool, bytes and NULL parameters.
	var b []byte
	var isNull bool
	if err := e.db.QueryRowContext(ctx, "SELECT @p1 AS b, CASE WHEN @p2 IS NULL THEN 1 ELSE 0 END AS was_null", []byte{1, 2, 3}, nil).Scan(&b, &isNull); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(b) != "[1 2 3]" || !isNull {
		t.Fatalf("bytes %v, null %v", b, isNull)
	}
}

func TestManyRowsSpanPackets(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	if err := e.srv.Exec("CREATE TABLE Num (N int NOT NULL, Label nvarchar(100) NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := e.srv.Exec("INSERT INTO Num VALUES (@p1, @p2)", i, fmt.Sprintf("label number %04d with some padding", i)); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := e.db.QueryContext(ctx, "SELECT N, Label FROM Num ORDER BY N")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var n int
		var label string
		if err := rows.Scan(&n, &label); err != nil {
			t.Fatal(err)
		}
		if n != i || label != fmt.Sprintf("label number %04d with some padding", i) {
			t.Fatalf("row %d: %d %q", i, n, label)
		}
		i++
	}
	if err := rows.Err(); err != nil || i != 500 {
		t.Fatalf("%d rows, err %v", i, err)
	}
}

func TestInvalidObject208(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	_, err := e.db.QueryContext(ctx, "SELECT x FROM dbo.NoSuchTable WHERE x = @p1", 1)
	if serverErrorNumber(err) != 208 || !strings.Contains(err.Error(), "Invalid object name 'NoSuchTable'") {
		t.Fatalf("got %v", err)
	}
	_, err = e.db.QueryContext(ctx, "SELECT NoSuchColumn FROM Thing")
	if serverErrorNumber(err) != 207 {
		t.Fatalf("got %v", err)
	}
	// the connection is still fine
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM Thing").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after error: %d, %v", n, err)
	}
	if st := e.srv.Stats(); st.Logins != 1 {
		t.Fatalf("errors should not cost a reconnect: %+v", st)
	}
}

func TestScriptedErrorsAndResults(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	e.srv.SetHook(tdsfake.OnSQL("FROM Thing", tdsfake.Action{Error: tdsfake.LoginFailed("bridge")}))
	_, err := e.db.QueryContext(ctx, "SELECT Name FROM Thing WHERE Flag = @p1", true)
	if serverErrorNumber(err) != 18456 {
		t.Fatalf("got %v", err)
	}
	e.srv.SetHook(tdsfake.Always(tdsfake.Action{Result: &tdsfake.Result{
		Columns: []tdsfake.ResultColumn{{"K", "uniqueidentifier"}, {"At", "datetime"}, {"On", "bit"}, {"S", "varchar(3)"}},
		Rows:    [][]any{{knownGUID, time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), true, "too long for 3"}, {nil, nil, nil, nil}},
	}}))
	rows, err := e.db.QueryContext(ctx, "anything at all")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var k mssql.NullUniqueIdentifier
		var at sql.NullTime
		var on sql.NullBool
		var s sql.NullString
		if err := rows.Scan(&k, &at, &on, &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%v|%v|%v|%v", k.Valid && k.UUID.String() == knownGUID, at.Time.Format("15:04:05"), on, s.String))
	}
	if strings.Join(got, ";") != "true|03:04:05|{true true}|too long for 3;false|00:00:00|{false false}|" {
		t.Fatalf("got %q", got)
	}
	e.srv.SetHook(nil)
}

func TestQueryTimeoutSendsAttention(t *testing.T) {
	t.Parallel()
	e := start(t, tdsfake.Config{})
	e.srv.SetHook(tdsfake.Once(tdsfake.OnSQL("Thing", tdsfake.Action{Delay: 10 * time.Second})))
	if err := e.db.PingContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	began := time.Now()
	_, err := e.db.QueryContext(ctx, "SELECT Name FROM Thing WHERE Flag = @p1", true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Fatalf("cancellation took %v", d)
	}
	if st := e.srv.Stats(); st.Attentions != 1 {
		t.Fatalf("stats %+v", st)
	}
	var name string
	if err := e.db.QueryRowContext(ctxT(t), "SELECT Name FROM Thing WHERE Flag = @p1", false).Scan(&name); err != nil || name != "plain" {
		t.Fatalf("after timeout: %q %v", name, err)
	}
	// the driver discards a connection whose deadline passed: the pool logged in again
	if st := e.srv.Stats(); st.Logins != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestConnectionRefused(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	if err := e.db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv.Refuse()
	e.srv.DropConnections()
	// a fresh pool must dial and is refused
	db, err := sql.Open("sqlserver", e.srv.DSN("dial timeout=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(ctx)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("got %v", err)
	}
	// the old pool fails too (its connection was cut)
	if _, err := e.db.QueryContext(ctx, "SELECT Name FROM Thing WHERE Flag = @p1", true); err == nil {
		t.Fatal("query succeeded while refusing")
	}
	if err := e.srv.Resume(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM Thing").Scan(&n); err != nil || n != 2 {
		t.Fatalf("after resume: %d %v", n, err)
	}
}

func TestConnectionDroppedMidQuery(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	if err := e.db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	e.srv.SetHook(tdsfake.Once(tdsfake.OnSQL("Thing", tdsfake.Action{Drop: true})))
	_, err := e.db.QueryContext(ctx, "SELECT Name FROM Thing WHERE Flag = @p1", true)
	if err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("got %v", err)
	}
	var name string
	if err := e.db.QueryRowContext(ctx, "SELECT Name FROM Thing WHERE Flag = @p1", false).Scan(&name); err != nil || name != "plain" {
		t.Fatalf("after drop: %q %v", name, err)
	}
	if st := e.srv.Stats(); st.Drops != 1 || st.Logins != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRequestCountsAndParams(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	var seen []*tdsfake.Request
	e.srv.SetHook(func(r *tdsfake.Request) *tdsfake.Action {
		seen = append(seen, r)
		return nil
	})
	var key mssql.UniqueIdentifier
	_ = key.Scan(knownGUID)
	at := mssql.DateTime1(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM Thing WHERE ThingKey = @p1 AND ExpiresOn > @p2 AND Name <> @p3 AND Flag = @p4 AND [Count] = @p5",
		key, at, "x", true, 42).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("count %d", n)
	}
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM Thing").Scan(&n); err != nil {
		t.Fatal(err)
	}
	st := e.srv.Stats()
	if st.RPCs != 1 || st.Batches != 1 || st.Requests() != 2 {
		t.Fatalf("stats %+v", st)
	}
	if len(seen) != 2 || seen[0].Kind != tdsfake.RPC || seen[1].Kind != tdsfake.Batch {
		t.Fatalf("seen %+v", seen)
	}
	var got []string
	for _, p := range seen[0].Params {
		got = append(got, fmt.Sprintf("%s %s %v", p.Name, p.Type, p.Value))
	}
	want := "@p1 uniqueidentifier " + knownGUID + "|@p2 datetime 2024-01-02 03:04:05 +0000 UTC|@p3 nvarchar(1) x|@p4 bit true|@p5 bigint 42"
	if strings.Join(got, "|") != want {
		t.Fatalf("params\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

func TestExpressionColumnTypes(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	if err := e.srv.DeclareColumn("declared", "bit"); err != nil {
		t.Fatal(err)
	}
	rows, err := e.db.QueryContext(ctx, `SELECT CASE WHEN Flag = 1 THEN ExpiresOn END AS latest, ISNULL(Name, N'') AS Name,
		COALESCE(Note, N'') AS other, 1 AS one, 9000000000 AS big, 1 AS declared
		FROM Thing ORDER BY Flag DESC`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cts, _ := rows.ColumnTypes()
	var types []string
	for _, ct := range cts {
		types = append(types, ct.DatabaseTypeName())
	}
	// datetime text from CASE is datetime again; Name keeps its table type; other values infer
	if got := strings.Join(types, ","); got != "DATETIME,NVARCHAR,NVARCHAR,INT,BIGINT,BIT" {
		t.Fatalf("types %s", got)
	}
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	var latest time.Time
	var name, other string
	var one, big int64
	var declared bool
	if err := rows.Scan(&latest, &name, &other, &one, &big, &declared); err != nil {
		t.Fatal(err)
	}
	if latest.Format(time.DateTime) != "2024-03-01 10:00:00" || !declared || big != 9000000000 {
		t.Fatalf("got %v %v %v", latest, declared, big)
	}
}

// A server that never answers PRELOGIN: go-mssqldb reads the PRELOGIN reply without watching
// the context, so only the DSN's "connection timeout" bounds the wait.
func TestStalledServerNeedsConnectionTimeout(t *testing.T) {
	t.Parallel()
	e := start(t, tdsfake.Config{})
	e.srv.Stall(true)
	db, err := sql.Open("sqlserver", e.srv.DSN("connection timeout=1"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	began := time.Now()
	err = db.PingContext(ctxT(t))
	if err == nil || time.Since(began) > 3*time.Second {
		t.Fatalf("ping against a stalled server: %v after %v", err, time.Since(began))
	}

	// Without a connection timeout, a context deadline alone does not end the wait.
	db2, err := sql.Open("sqlserver", e.srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- db2.PingContext(ctx) }()
	select {
	case err := <-done:
		t.Logf("ping ended with the context this time: %v", err)
	case <-time.After(400 * time.Millisecond):
		t.Log("ping still blocked 300ms after its context deadline: set \"connection timeout\" in production DSNs")
	}
	e.srv.DropConnections() // release the blocked dial
	<-done
	db2.Close()

	e.srv.Stall(false)
	if err := db.PingContext(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// The price: "connection timeout" is a deadline on every read, so a query slower than it
	// fails with a read timeout even when its context allows more. Keep it above the query
	// timeout.
	e.srv.SetHook(tdsfake.Once(tdsfake.OnSQL("Thing", tdsfake.Action{Delay: 1500 * time.Millisecond})))
	_, err = db.QueryContext(ctxT(t), "SELECT Name FROM Thing WHERE Flag = @p1", true)
	if err == nil || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("slow query under connection timeout=1: %v", err)
	}
}

func TestBatchWithSeveralStatements(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	rows, err := e.db.QueryContext(ctx, "SET NOCOUNT ON; SELECT COUNT(*) AS n FROM Thing; SELECT N'second' AS s")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int
	var s string
	if !rows.Next() || rows.Scan(&n) != nil || n != 2 || rows.Next() {
		t.Fatalf("first result: %d %v", n, rows.Err())
	}
	if !rows.NextResultSet() || !rows.Next() || rows.Scan(&s) != nil || s != "second" || rows.Next() {
		t.Fatalf("second result: %q %v", s, rows.Err())
	}
	if rows.NextResultSet() {
		t.Fatal("a third result set")
	}
	// DDL through TDS, and DROP forgets the table's types.
	if _, err := e.db.ExecContext(ctx, "CREATE TABLE dbo.Tmp ([Id] int NOT NULL); INSERT INTO Tmp VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(ctx, "DROP TABLE dbo.Tmp"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.QueryContext(ctx, "SELECT Id FROM Tmp"); serverErrorNumber(err) != 208 {
		t.Fatalf("dropped table: %v", err)
	}
}

func TestCollationAndDatetimePrecision(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	if err := e.srv.Exec(`CREATE TABLE P (Name nvarchar(40) NOT NULL, Code char(5) NOT NULL, At datetime NOT NULL, Day date NULL);
		INSERT INTO P VALUES (N'José Müller', 'ab', '2024-05-06 07:08:09.468', '2024-05-06 23:59:59')`); err != nil {
		t.Fatal(err)
	}
	var n int
	// case-insensitive beyond ASCII, trailing spaces ignored, Unicode LOWER/UPPER
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM P WHERE Name = @p1 AND Code = 'AB   ' AND LOWER(Name) = N'josé müller' AND UPPER(Name) = N'JOSÉ MÜLLER'", "JOSÉ MÜLLER").Scan(&n); err != nil || n != 1 {
		t.Fatalf("collation: %d %v", n, err)
	}
	// + concatenates strings
	var s string
	if err := e.db.QueryRowContext(ctx, "SELECT Name + N' (' + RTRIM(Code) + ')' AS label FROM P").Scan(&s); err != nil || s != "José Müller (ab)" {
		t.Fatalf("concatenation: %q %v", s, err)
	}
	// datetime keeps 1/300 s: .468 is stored as .467, and a DateTime1 parameter of the value
	// read back matches it exactly
	var at, day time.Time
	var code string
	if err := e.db.QueryRowContext(ctx, "SELECT At, Day, Code FROM P").Scan(&at, &day, &code); err != nil {
		t.Fatal(err)
	}
	if at.Format("15:04:05.000") != "07:08:09.467" || day.Format(time.DateTime) != "2024-05-06 00:00:00" || code != "ab   " {
		t.Fatalf("at %v day %v code %q", at, day, code)
	}
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM P WHERE At = @p1", mssql.DateTime1(at)).Scan(&n); err != nil || n != 1 {
		t.Fatalf("datetime equality: %d %v", n, err)
	}
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM P WHERE At > @p1", mssql.DateTime1(at)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("datetime watermark: %d %v", n, err)
	}
}

// TestVarcharKeepsTheCodePage (review s20 Y-3): a varchar column keeps only the characters of
// its code page (Windows-1252 under SQL Server's default collation), as SQL Server stores
// them, not only as the wire carries them: a Unicode login written into iMIS's varchar
// UserMain.UserId compares, inside the server, unequal to the nvarchar aspnet_Users.UserName
// it came from, while Windows-1252 letters (zoë) are kept. CAST to varchar converts the same.
func TestVarcharKeepsTheCodePage(t *testing.T) {
	e := start(t, tdsfake.Config{})
	ctx := ctxT(t)
	if err := e.srv.Exec(`CREATE TABLE U (Wide nvarchar(60) NOT NULL, Narrow varchar(60) NOT NULL);
		INSERT INTO U VALUES (N'张伟', N'张伟'), (N'zoë', N'zoë')`); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Exec(`UPDATE U SET Narrow = Wide WHERE Wide = N'张伟'`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM U WHERE Narrow = Wide").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows whose varchar copy equals the nvarchar: %d %v (want only zoë's)", n, err)
	}
	if err := e.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM U WHERE Narrow = N'??' AND Narrow = CAST(Wide AS varchar(60))").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the stored varchar and a CAST to varchar: %d %v", n, err)
	}
	var narrow string
	if err := e.db.QueryRowContext(ctx, "SELECT Narrow FROM U WHERE Wide = @p1", "张伟").Scan(&narrow); err != nil || narrow != "??" {
		t.Fatalf("read back %q %v", narrow, err)
	}
}
