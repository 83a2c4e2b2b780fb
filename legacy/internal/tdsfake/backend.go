package tdsfake

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver behind the fake
)

// column is one result column: its name and SQL Server type.
type column struct {
	name string
	typ  sqlType
}

// resultSet is what one statement produced.
type resultSet struct {
	cols         []column // nil for statements without a result set
	rows         [][]any
	rowsAffected int64
	// setCmd, for a SET statement, is its DONE/DONEINPROC CurCmd (setCommand); its DONE
	// carries no row count.
	setCmd uint16
}

// setCommand is the CurCmd of the DONE (in a batch) or DONEINPROC (in an RPC's statement)
// that SQL Server sends for the SET statement stmt: SET option ON is 0xB9 and SET option OFF
// 0xBA, as a capture of SQL Server (LocalDB) answering SqlBulkCopy's "SET FMTONLY ON ...
// SET FMTONLY OFF" shows (DONE status 0x0001 CurCmd 0x00B9 count 0, and DONE status 0x0000
// CurCmd 0x00BA count 0); a SET with a value (SET LOCK_TIMEOUT n, SET TRANSACTION ISOLATION
// LEVEL ...) is 0xF9, the "Set" of Microsoft's own TDS test server (dotnet/SqlClient
// TDSDoneTokenCommandType), which no capture at hand confirms. MS-TDS calls CurCmd "provided
// and controlled by the application layer"; go-mssqldb reads it only to tell a SELECT (0xC1).
func setCommand(stmt []sqlToken) uint16 {
	last := trimSpace(stmt)
	if len(last) > 0 {
		switch w := last[len(last)-1]; {
		case w.is("ON"):
			return cmdSetOn
		case w.is("OFF"):
			return cmdSetOff
		}
	}
	return cmdSet
}

// setStatements are the results of the SET statements that open text (before its first other
// statement): what SQL Server sends for them before a scripted result (Action.Result).
func setStatements(text string) []resultSet {
	toks, err := tokenize(text)
	if err != nil {
		return nil
	}
	var sets []resultSet
	for _, stmt := range splitStatements(toks) {
		if !isSetOption(stmt) {
			break
		}
		sets = append(sets, resultSet{setCmd: setCommand(stmt)})
	}
	return sets
}

// isSetOption reports whether stmt is SET of a session option (not SET @variable = ...).
func isSetOption(stmt []sqlToken) bool {
	if len(stmt) == 0 || !stmt[0].is("SET") {
		return false
	}
	i := nextMeaningful(stmt, 1)
	return i == len(stmt) || stmt[i].kind != tkParam
}

// backend answers queries from an in-memory SQLite database whose tables were declared with
// SQL Server types. It remembers those types to describe result columns.
type backend struct {
	db *sql.DB

	mu       sync.Mutex
	tables   map[string][]column         // lower-case table name -> columns in order
	byColumn map[string]map[sqlType]bool // lower-case column name -> types it has in any table
	declared map[string]sqlType          // result column types declared by the test (lower-case name)
	database string                      // the server's database (DB_NAME())
}

var dbSeq atomic.Int64

func newBackend() (*backend, error) {
	if err := registerSQLiteExtensions(); err != nil {
		return nil, err
	}
	// A named shared-cache memory database, so that every pooled SQLite connection sees the
	// same data; one connection is enough and keeps the fake deterministic.
	dsn := fmt.Sprintf("file:tdsfake%d?mode=memory&cache=shared", dbSeq.Add(1))
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, err
	}
	return &backend{
		db:       db,
		tables:   map[string][]column{},
		byColumn: map[string]map[sqlType]bool{},
		declared: map[string]sqlType{},
	}, nil
}

func (b *backend) close() error { return b.db.Close() }

// execute runs a T-SQL batch (one or more statements) with the given parameters.
func (b *backend) execute(ctx context.Context, text string, params []Param, now time.Time) ([]resultSet, error) {
	toks, err := tokenize(text)
	if err != nil {
		return nil, syntaxError(err.Error())
	}
	args := make([]any, 0, len(params))
	for _, p := range params {
		args = append(args, sql.Named(strings.TrimPrefix(strings.ToLower(p.Name), "@"), bindValue(p)))
	}
	rw := &rewriter{now: now, isTextColumn: b.isTextColumn, database: b.database}
	var sets []resultSet
	for _, stmt := range splitStatements(toks) {
		first := stmt[0]
		switch {
		case isSetOption(stmt):
			// A session option: accepted (SET LOCK_TIMEOUT bounds a lock wait, conn.go), and
			// answered with its own DONE or DONEINPROC, as SQL Server does for every statement
			// ("A DONE token is returned for each SQL statement in the SQL batch except variable
			// declarations", MS-TDS 2.2.7.6; "A DONEINPROC token is sent for each executed SQL
			// statement within a stored procedure", 2.2.7.7).
			sets = append(sets, resultSet{setCmd: setCommand(stmt)})
			continue
		case first.is("SET") || first.is("USE"):
			continue // a variable assignment and USE are accepted and ignored
		case first.is("CREATE") && len(stmt) > 2 && stmt[nextMeaningful(stmt, 1)].is("TABLE"):
			if err := b.createTable(ctx, rw, stmt); err != nil {
				return nil, err
			}
			sets = append(sets, resultSet{})
			continue
		}
		out, err := rw.rewrite(stmt)
		if err != nil {
			return nil, syntaxError(err.Error())
		}
		set, err := b.run(ctx, first, render(out), args)
		if err != nil {
			return nil, err
		}
		if first.is("DROP") {
			b.forgetDroppedTables(ctx)
		}
		sets = append(sets, set)
	}
	return sets, nil
}

// isTextColumn reports whether name (a column, possibly qualified) is a character column in
// every table that has a column of that name.
func (b *backend) isTextColumn(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	types := b.byColumn[strings.ToLower(name)]
	if len(types) == 0 {
		return false
	}
	for t := range types {
		if !t.isText() || t.kind == kindGUID {
			return false
		}
	}
	return true
}

// run executes one rewritten statement.
func (b *backend) run(ctx context.Context, first sqlToken, query string, args []any) (resultSet, error) {
	if !(first.is("SELECT") || first.is("WITH") || first.is("VALUES") || first.kind == tkPunct && first.text == "(") {
		res, err := b.db.ExecContext(ctx, query, args...)
		if err != nil {
			return resultSet{}, mapSQLiteError(err, query)
		}
		n, _ := res.RowsAffected()
		return resultSet{rowsAffected: n}, nil
	}
	rows, err := b.db.QueryContext(ctx, query, args...)
	if err != nil {
		return resultSet{}, mapSQLiteError(err, query)
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return resultSet{}, mapSQLiteError(err, query)
	}
	ctypes, err := rows.ColumnTypes()
	if err != nil {
		return resultSet{}, mapSQLiteError(err, query)
	}
	var data [][]any
	for rows.Next() {
		vals := make([]any, len(names))
		ptrs := make([]any, len(names))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return resultSet{}, mapSQLiteError(err, query)
		}
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				vals[i] = append([]byte(nil), bs...)
			}
		}
		data = append(data, vals)
	}
	if err := rows.Err(); err != nil {
		return resultSet{}, mapSQLiteError(err, query)
	}
	cols := make([]column, len(names))
	for i, name := range names {
		cols[i] = column{name: name, typ: b.columnType(name, ctypes[i].DatabaseTypeName(), data, i)}
	}
	return resultSet{cols: cols, rows: data}, nil
}

// columnType decides the SQL Server type of a result column: a type the test declared for
// that name, else the declared type of the table column it comes from, else the type of a
// table column of the same name (for expressions such as ISNULL(x, ”) AS x), else one
// inferred from the values. Character types are widened when a value would not fit.
func (b *backend) columnType(name, decl string, rows [][]any, i int) sqlType {
	b.mu.Lock()
	t, ok := b.declared[strings.ToLower(name)]
	if !ok && decl != "" {
		if pt, err := parseType(decl); err == nil {
			t, ok = pt, true
		}
	}
	if !ok {
		if types := b.byColumn[strings.ToLower(name)]; len(types) == 1 {
			for only := range types {
				t, ok = only, true
			}
		}
	}
	b.mu.Unlock()
	if !ok {
		t = inferType(rows, i)
	}
	return widen(t, rows, i)
}

// storedDateTime matches the form the fake stores date/time values in, so that expressions
// over datetime columns (CASE, COALESCE) come back as datetime as they would from SQL Server.
var storedDateTime = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`)

// storedDateTime2 matches a datetime2(7) value in the fake's text form (seven fractional
// digits: SYSDATETIME() and SYSUTCDATETIME(), which SQL Server returns as datetime2(7)).
var storedDateTime2 = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{7}$`)

// inferType picks a type from the values of an expression column.
func inferType(rows [][]any, i int) sqlType {
	var seenInt, seenFloat, seenString, seenBytes, seenTime, seenTime2, seenBool, bigInt bool
	for _, r := range rows {
		switch v := r[i].(type) {
		case int64:
			seenInt = true
			if v > 1<<31-1 || v < -(1<<31) {
				bigInt = true
			}
		case float64:
			seenFloat = true
		case string:
			switch {
			case storedDateTime.MatchString(v):
				seenTime = true
			case storedDateTime2.MatchString(v):
				seenTime, seenTime2 = true, true
			default:
				seenString = true
			}
		case []byte:
			seenBytes = true
		case time.Time:
			seenTime = true
		case bool:
			seenBool = true
		}
	}
	switch {
	case seenString || seenTime && (seenInt || seenFloat):
		return sqlType{kind: kindNVarChar, size: 1}
	case seenBytes:
		return sqlType{kind: kindVarBinary, size: 1}
	case seenTime2: // datetime2 outranks datetime (SQL Server's data type precedence)
		return sqlType{kind: kindDateTime2, scale: 7}
	case seenTime:
		return sqlType{kind: kindDateTime}
	case seenFloat:
		return sqlType{kind: kindFloat}
	case bigInt:
		return sqlType{kind: kindBigInt}
	case seenBool && !seenInt:
		return sqlType{kind: kindBit}
	}
	return sqlType{kind: kindInt}
}

// widen grows (n)(var)char and (var)binary columns so that every value fits, switching to
// (max) beyond the in-row limit, as the client sizes its buffers from COLMETADATA.
func widen(t sqlType, rows [][]any, i int) sqlType {
	if !t.isShortLen() || t.size == maxSize {
		return t
	}
	limit := 8000
	if t.kind == kindNVarChar || t.kind == kindNChar {
		limit = 4000
	}
	longest := 0
	for _, r := range rows {
		if r[i] == nil {
			continue
		}
		n := 0
		switch t.kind {
		case kindNVarChar, kindNChar:
			n = len(ucs2(toString(r[i]))) / 2
		case kindVarBinary, kindBinary:
			if b, ok := r[i].([]byte); ok {
				n = len(b)
			} else {
				n = len(toString(r[i]))
			}
		default:
			n = len([]rune(toString(r[i])))
		}
		longest = max(longest, n)
	}
	if longest > t.size {
		switch t.kind {
		case kindNChar:
			t.kind = kindNVarChar
		case kindChar:
			t.kind = kindVarChar
		case kindBinary:
			t.kind = kindVarBinary
		}
		t.size = longest
		if longest > limit {
			t.size = maxSize
		}
	}
	return t
}

// bindValue converts a decoded parameter to what SQLite stores for that SQL Server type.
func bindValue(p Param) any {
	switch v := p.Value.(type) {
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	case time.Time:
		if strings.HasPrefix(p.Type, "datetimeoffset") {
			// SQL Server compares a datetime column with a datetimeoffset by converting
			// the column to datetimeoffset at +00:00: the column is treated as UTC.
			v = v.UTC()
		}
		return formatDateTime(v)
	}
	return p.Value
}

// createTable records the SQL Server column types of a CREATE TABLE and creates the SQLite
// table with the same type names (so SQLite reports them back), case-insensitive text
// columns (SQL Server's default collation is case-insensitive), triggers that keep
// date/time values in one fixed-width text form, rounded to the type's precision (datetime
// keeps 1/300 s, so .468 is stored as .467 as SQL Server does), and triggers that keep in a
// varchar or char column only what SQL Server keeps there: the code page's characters, any
// other one as '?' (a Unicode login written into iMIS's varchar UserMain.UserId).
func (b *backend) createTable(ctx context.Context, rw *rewriter, stmt []sqlToken) error {
	i := nextMeaningful(stmt, nextMeaningful(stmt, 1)+1) // after CREATE TABLE
	var nameParts []string
	for i < len(stmt) && !(stmt[i].kind == tkPunct && stmt[i].text == "(") {
		switch stmt[i].kind {
		case tkWord, tkQuoted:
			nameParts = append(nameParts, stmt[i].text)
		}
		i++
	}
	if len(nameParts) == 0 || i >= len(stmt) {
		return syntaxError("malformed CREATE TABLE")
	}
	table := nameParts[len(nameParts)-1] // drop schema (dbo.) and database parts
	end := matchParen(stmt, i)
	if end < 0 {
		return syntaxError("unbalanced parenthesis in CREATE TABLE")
	}
	var defs []string
	var cols []column
	var dateCols []column
	var codePageCols []string // varchar and char columns: they keep only the code page's characters
	for _, def := range splitArgs(stmt[i+1 : end]) {
		if len(def) == 0 {
			continue
		}
		if def[0].is("CONSTRAINT") || def[0].is("PRIMARY") || def[0].is("UNIQUE") || def[0].is("FOREIGN") ||
			def[0].is("CHECK") || def[0].is("INDEX") {
			out, err := rw.rewrite(dropWords(def, "CLUSTERED", "NONCLUSTERED"))
			if err != nil {
				return syntaxError(err.Error())
			}
			defs = append(defs, render(out))
			continue
		}
		colName := def[0].text
		j := nextMeaningful(def, 1)
		if j >= len(def) {
			return syntaxError("column " + colName + " has no type")
		}
		typeText := def[j].text
		j++
		if k := nextMeaningful(def, j); k < len(def) && def[k].kind == tkPunct && def[k].text == "(" {
			close := matchParen(def, k)
			if close < 0 {
				return syntaxError("unbalanced parenthesis in type of " + colName)
			}
			typeText += render(def[k : close+1])
			j = close + 1
		}
		st, err := parseType(typeText)
		if err != nil {
			return &ServerError{Number: 2715, Class: 16, Message: fmt.Sprintf("Column, parameter, or variable #%d: Cannot find data type %s.", len(cols)+1, typeText)}
		}
		rest, err := rw.rewrite(dropColumnOptions(def[j:]))
		if err != nil {
			return syntaxError(err.Error())
		}
		decl := strings.ReplaceAll(strings.ToLower(typeText), "(max)", "(-1)")
		d := sqlToken{kind: tkQuoted, text: colName}.render() + " " + decl
		if st.isText() {
			d += " COLLATE " + collationCI
		}
		defs = append(defs, strings.TrimSpace(d+" "+render(rest)))
		cols = append(cols, column{name: colName, typ: st})
		if st.isDateTime() {
			dateCols = append(dateCols, column{name: colName, typ: st})
		}
		if st.kind == kindVarChar || st.kind == kindChar {
			codePageCols = append(codePageCols, colName)
		}
	}
	q := sqlToken{kind: tkQuoted, text: table}.render()
	ddl := []string{"CREATE TABLE " + q + " (" + strings.Join(defs, ", ") + ")"}
	for _, c := range dateCols {
		qc := sqlToken{kind: tkQuoted, text: c.name}.render()
		kind := map[typeKind]string{kindDateTime: "datetime", kindSmallDateTime: "smalldatetime", kindDate: "date"}[c.typ.kind]
		norm := fmt.Sprintf("UPDATE %s SET %s = %s(%s, '%s') WHERE rowid = NEW.rowid AND %s IS NOT NULL;", q, qc, funcDateTime, qc, kind, qc)
		trig := func(suffix, event string) string {
			name := sqlToken{kind: tkQuoted, text: "tdsfake_" + table + "_" + c.name + "_" + suffix}.render()
			return fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s BEGIN %s END", name, event, q, norm)
		}
		ddl = append(ddl, trig("ins", "INSERT"), trig("upd", "UPDATE OF "+qc))
	}
	for _, c := range codePageCols {
		qc := sqlToken{kind: tkQuoted, text: c}.render()
		conv := fmt.Sprintf("UPDATE %s SET %s = %s(%s) WHERE rowid = NEW.rowid AND %s IS NOT NULL;", q, qc, funcVarChar, qc, qc)
		trig := func(suffix, event string) string {
			name := sqlToken{kind: tkQuoted, text: "tdsfake_" + table + "_" + c + "_" + suffix}.render()
			return fmt.Sprintf("CREATE TRIGGER %s AFTER %s ON %s BEGIN %s END", name, event, q, conv)
		}
		ddl = append(ddl, trig("ins", "INSERT"), trig("upd", "UPDATE OF "+qc))
	}
	for _, s := range ddl {
		if _, err := b.db.ExecContext(ctx, s); err != nil {
			return mapSQLiteError(err, s)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tables[strings.ToLower(table)] = cols
	for _, c := range cols {
		k := strings.ToLower(c.name)
		if b.byColumn[k] == nil {
			b.byColumn[k] = map[sqlType]bool{}
		}
		b.byColumn[k][c.typ] = true
	}
	return nil
}

// forgetDroppedTables removes the recorded types of tables that no longer exist.
func (b *backend) forgetDroppedTables(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for name := range b.tables {
		var n int
		err := b.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE", name).Scan(&n)
		if err == nil && n == 0 {
			delete(b.tables, name)
		}
	}
	b.byColumn = map[string]map[sqlType]bool{}
	for _, cols := range b.tables {
		for _, c := range cols {
			k := strings.ToLower(c.name)
			if b.byColumn[k] == nil {
				b.byColumn[k] = map[sqlType]bool{}
			}
			b.byColumn[k][c.typ] = true
		}
	}
}

// dropWords removes the given keywords.
func dropWords(toks []sqlToken, drop ...string) []sqlToken {
	var out []sqlToken
next:
	for _, t := range toks {
		for _, d := range drop {
			if t.is(d) {
				continue next
			}
		}
		out = append(out, t)
	}
	return out
}

// dropColumnOptions removes column options SQLite does not know: IDENTITY(s, i),
// ROWGUIDCOL, CLUSTERED/NONCLUSTERED, SPARSE.
func dropColumnOptions(toks []sqlToken) []sqlToken {
	var out []sqlToken
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.is("IDENTITY"):
			if n := nextMeaningful(toks, i+1); n < len(toks) && toks[n].text == "(" {
				if end := matchParen(toks, n); end > 0 {
					i = end
				}
			}
		case t.is("ROWGUIDCOL") || t.is("CLUSTERED") || t.is("NONCLUSTERED") || t.is("SPARSE"):
		default:
			out = append(out, t)
		}
	}
	return out
}

// SQL Server error numbers the fake produces.
const (
	ErrNumSyntax        = 102   // Incorrect syntax near ...
	ErrNumInvalidColumn = 207   // Invalid column name ...
	ErrNumInvalidObject = 208   // Invalid object name ...
	ErrNumLockTimeout   = 1222  // Lock request time out period exceeded.
	ErrNumCannotOpenDB  = 4060  // Cannot open database ... requested by the login
	ErrNumLoginFailed   = 18456 // Login failed for user ...
	ErrNumGeneric       = 50000 // anything else the backend reports
)

// syntaxError reports T-SQL the fake cannot read or translate to SQLite.
func syntaxError(detail string) *ServerError {
	return &ServerError{Number: ErrNumSyntax, Class: 15, Message: "Incorrect syntax (tdsfake cannot translate this T-SQL): " + detail + "."}
}

var (
	reNoTable  = regexp.MustCompile(`no such table: (?:\w+\.)?(\S+)`)
	reNoColumn = regexp.MustCompile(`no such column: (\S+)`)
	reSyntax   = regexp.MustCompile(`near "([^"]*)": syntax error`)
)

// mapSQLiteError turns a SQLite error into the SQL Server error a real server would send.
func mapSQLiteError(err error, query string) error {
	var se *ServerError
	if errors.As(err, &se) {
		return se
	}
	msg := err.Error()
	if m := reNoTable.FindStringSubmatch(msg); m != nil {
		return &ServerError{Number: ErrNumInvalidObject, Class: 16, Message: fmt.Sprintf("Invalid object name '%s'.", m[1])}
	}
	if m := reNoColumn.FindStringSubmatch(msg); m != nil {
		name := m[1]
		if k := strings.LastIndexByte(name, '.'); k >= 0 {
			name = name[k+1:]
		}
		return &ServerError{Number: ErrNumInvalidColumn, Class: 16, Message: fmt.Sprintf("Invalid column name '%s'.", name)}
	}
	if m := reSyntax.FindStringSubmatch(msg); m != nil {
		return &ServerError{Number: ErrNumSyntax, Class: 15, Message: fmt.Sprintf("Incorrect syntax near '%s'.", m[1])}
	}
	return &ServerError{Number: ErrNumGeneric, Class: 16, Message: "tdsfake: " + msg + " (SQLite query: " + query + ")"}
}

// sysDatabases is the SQLite table behind sys.databases, and userDatabaseID the database_id
// (DB_ID()) of the server's database: after master, tempdb, model and msdb, as on a server
// with one user database.
const (
	sysDatabases   = "tdsfake_sys_databases"
	userDatabaseID = 5
)

// createSysDatabases creates sys.databases with the columns the bridge reads and a row per
// database. READ_COMMITTED_SNAPSHOT is off everywhere, as SQL Server creates databases;
// ALLOW_SNAPSHOT_ISOLATION is on in master and msdb only, as on a new server.
func (b *backend) createSysDatabases(ctx context.Context) error {
	_, err := b.execute(ctx, `CREATE TABLE `+sysDatabases+` (name sysname NOT NULL, database_id int NOT NULL,
	is_read_committed_snapshot_on bit NOT NULL, snapshot_isolation_state tinyint NOT NULL,
	snapshot_isolation_state_desc nvarchar(60) NOT NULL);
INSERT INTO `+sysDatabases+` VALUES (N'master', 1, 0, 1, N'ON'), (N'tempdb', 2, 0, 0, N'OFF'),
	(N'model', 3, 0, 0, N'OFF'), (N'msdb', 4, 0, 1, N'ON'), (@p1, @p2, 0, 0, N'OFF')`,
		[]Param{{Name: "@p1", Value: b.database}, {Name: "@p2", Value: int64(userDatabaseID)}}, time.Now())
	return err
}

// setDatabaseOption sets one of the server database's options in sys.databases, as ALTER
// DATABASE CURRENT SET READ_COMMITTED_SNAPSHOT / ALLOW_SNAPSHOT_ISOLATION ON|OFF does.
func (b *backend) setDatabaseOption(ctx context.Context, set string) error {
	_, err := b.db.ExecContext(ctx, `UPDATE `+sysDatabases+` SET `+set+` WHERE database_id = ?`, userDatabaseID)
	return err
}
