package tdsfake

import (
	"testing"
	"time"
)

func TestRewrite(t *testing.T) {
	now := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	cases := []struct{ in, want string }{
		{"SELECT TOP 1 u.[UserId] FROM [dbo].[UserMain] u WITH (NOLOCK) WHERE u.UserId = N'JDOE'",
			`SELECT u."UserId" FROM "UserMain" u WHERE u.UserId = 'JDOE' LIMIT 1`},
		{"SELECT TOP (@p2) a FROM dbo.T (NOLOCK) ORDER BY a",
			"SELECT a FROM T ORDER BY a LIMIT @p2"},
		{"SELECT DISTINCT TOP 5 a FROM T WHERE b IN (SELECT TOP 1 c FROM U WITH (NOLOCK, READPAST))",
			"SELECT DISTINCT a FROM T WHERE b IN (SELECT c FROM U LIMIT 1) LIMIT 5"},
		{"SELECT ISNULL(a, '') AS a, LEN(b) FROM T WHERE d < GETDATE() AND e = @P1",
			"SELECT IFNULL(a, '') AS a, LENGTH(RTRIM(b)) FROM T WHERE d < '2025-06-07 08:09:10.000' AND e = @p1"},
		{"SELECT CAST(x.ProviderKey AS uniqueidentifier), CONVERT(nvarchar(36), k), CAST(n AS bit) FROM x",
			"SELECT UPPER(CAST(x.ProviderKey AS TEXT)), CAST(k AS TEXT), (CASE WHEN (n) IS NULL THEN NULL WHEN (n) <> 0 THEN 1 ELSE 0 END) FROM x"},
		{"SELECT a FROM T WHERE n COLLATE SQL_Latin1_General_CP1_CS_AS = 'X' -- comment\n",
			"SELECT a FROM T WHERE n COLLATE BINARY = 'X'"},
		{"SELECT a FROM T WHERE LoweredUserName = LOWER(@p1) COLLATE Latin1_General_CI_AS",
			"SELECT a FROM T WHERE LoweredUserName = tdsfake_lower(@p1) COLLATE TDSFAKE_CI"},
		{"SELECT n.FIRST_NAME + ' ' + n.LAST_NAME AS full_name, n.Count + 1, [LAST_NAME]+@p1 FROM Name n",
			`SELECT n.FIRST_NAME || ' ' || n.LAST_NAME AS full_name, n.Count + 1, "LAST_NAME"||@p1 FROM Name n`},
		{"WITH c AS (SELECT 1 AS x) SELECT x FROM c", "WITH c AS (SELECT 1 AS x) SELECT x FROM c"},
		{"SELECT 'it''s [not] dbo.x' AS s", "SELECT 'it''s [not] dbo.x' AS s"},
		{"SELECT DATEADD(dd, -1, d) FROM T", "SELECT strftime('%Y-%m-%d %H:%M:%f', d, (-1) || ' days') FROM T"},
	}
	for _, c := range cases {
		toks, err := tokenize(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		stmts := splitStatements(toks)
		if len(stmts) != 1 {
			t.Fatalf("%q: %d statements", c.in, len(stmts))
		}
		textColumns := map[string]bool{"FIRST_NAME": true, "LAST_NAME": true}
		rw := &rewriter{now: now, isTextColumn: func(n string) bool { return textColumns[n] }}
		out, err := rw.rewrite(stmts[0])
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if got := render(out); got != c.want {
			t.Errorf("rewrite %q\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestSplitStatements(t *testing.T) {
	toks, _ := tokenize("SET NOCOUNT ON; SELECT ';' AS s; ; SELECT (1)")
	if n := len(splitStatements(toks)); n != 3 {
		t.Fatalf("%d statements", n)
	}
}

func TestParseType(t *testing.T) {
	for in, want := range map[string]string{
		"NVARCHAR(256)": "nvarchar(256)", "[nvarchar](max)": "nvarchar(max)", "nvarchar(-1)": "nvarchar(max)",
		"uniqueidentifier": "uniqueidentifier", "DECIMAL(18, 2)": "decimal(18,2)", "money": "decimal(19,4)",
		"datetime2": "datetime2(7)", "sysname": "nvarchar(128)", "int": "int", "bit": "bit",
	} {
		st, err := parseType(in)
		if err != nil || st.String() != want {
			t.Errorf("parseType(%q) = %v, %v; want %s", in, st, err, want)
		}
	}
	if _, err := parseType("geography"); err == nil {
		t.Error("geography accepted")
	}
}

func TestGUIDWireOrder(t *testing.T) {
	g, err := parseGUID("{6f9619ff-8b86-d011-b42d-00c04fc964ff}")
	if err != nil {
		t.Fatal(err)
	}
	wire := guidToWire(g)
	want := []byte{0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9, 0x64, 0xFF}
	if string(wire) != string(want) {
		t.Fatalf("wire % X", wire)
	}
	if s := formatGUID(guidFromWire(wire)); s != "6F9619FF-8B86-D011-B42D-00C04FC964FF" {
		t.Fatalf("back %s", s)
	}
}

func TestDateTimeEncoding(t *testing.T) {
	for _, s := range []string{"1900-01-01 00:00:00.000", "2024-02-29 23:59:59.997", "1753-01-01 12:00:00.003", "9999-12-31 23:59:59.997"} {
		tm, _ := time.Parse(dateTimeLayout, s)
		days, ticks := encodeDateTime(tm)
		if got := formatDateTime(decodeDateTime(days, ticks)); got != s {
			t.Errorf("%s -> %d/%d -> %s", s, days, ticks, got)
		}
	}
}
