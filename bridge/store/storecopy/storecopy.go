// Package storecopy copies the bridge's whole store from SQLite to PostgreSQL (`ssobridge store
// copy`), so that an installation moves to PostgreSQL without signing anyone out: sessions,
// refresh-token families, consents, subjects, signing keys, clients, secrets, the outbox, shadow
// users, the audit log, every table.
//
// The two backends keep the same tables with the same columns (the PostgreSQL migrations mirror
// the SQLite ones), so the copy is table by table and needs no list of its own: it reads every
// table of the SQLite database in one snapshot, checks that the target has exactly the same
// tables and columns (a table on one side only, from a version mismatch, stops it before
// anything is written), and writes them with COPY in one transaction on the target, parents
// before the tables that refer to them, then moves the target's id sequences past the copied
// ids. Values keep their encoding; only SQLite's 0/1 flags become booleans.
//
// The throttle counters (table throttle_counters) need no copy: a single SQLite process keeps
// its sign-in throttle and rate limits in memory, so the table is empty there, and any rows
// would only be counters that expire within throttle.window or throttle.lockout. It is copied
// like every table (empty), which keeps the two schemas checked as one.
//
// The SAML message ids (table saml_message_ids) are copied with their expiries, and with them
// the marker of the first start on a version that looks LogoutRequest ids up per SP (bridge/saml
// replay_window.go) and its window's key: a bridge started on the copy does not open that
// one-hour window again (the pre-session-22 ids it covers were copied with their own, long
// passed, expiries), and a window open at the copy stays open for the ids copied with it
// (TestUnqualifiedWindowSurvivesStoreCopy).
package storecopy

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// Options change how Copy treats the target.
type Options struct {
	// Force replaces the target's contents; without it a target holding any row is refused.
	Force bool
}

// Table is how many rows of one table were copied.
type Table struct {
	Name string
	Rows int64
}

// ErrNotEmpty is returned (wrapped, naming the tables) when the target holds data and
// Options.Force is not set.
var ErrNotEmpty = errors.New("the target store is not empty")

// seeded are tables the target's migrations fill; they do not make it "not empty".
var seeded = map[string]bool{"counters": true}

// Copy copies every table of src into dst, in one transaction on dst, and returns the row
// counts in the order the tables were written. Both stores must be at this binary's schema
// versions (opening them migrates them). Writes to src after its snapshot began are not copied:
// stop the bridge first.
func Copy(ctx context.Context, src *sqlite.Store, dst *postgres.Store, opts Options) ([]Table, error) {
	var out []Table
	err := src.Snapshot(ctx, func(stx *sql.Tx) error {
		srcCols, err := sqliteColumns(ctx, stx)
		if err != nil {
			return fmt.Errorf("read the source's tables: %w", err)
		}
		return pgx.BeginTxFunc(ctx, dst.Pool(), pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(ptx pgx.Tx) error {
			// A copy may take longer than the store's statement timeout allows a request.
			for _, off := range []string{`SET LOCAL statement_timeout = 0`, `SET LOCAL idle_in_transaction_session_timeout = 0`} {
				if _, err := ptx.Exec(ctx, off); err != nil {
					return err
				}
			}
			dstCols, err := postgresColumns(ctx, ptx)
			if err != nil {
				return fmt.Errorf("read the target's tables: %w", err)
			}
			if err := sameTables(srcCols, dstCols); err != nil {
				return err
			}
			order, err := parentsFirst(ctx, ptx, slices.Sorted(maps.Keys(dstCols)))
			if err != nil {
				return err
			}
			if err := checkEmpty(ctx, ptx, order, opts.Force); err != nil {
				return err
			}
			if _, err := ptx.Exec(ctx, `TRUNCATE `+identList(order)); err != nil {
				return fmt.Errorf("empty the target: %w", err)
			}
			for _, t := range order {
				n, err := copyTable(ctx, stx, ptx, t, dstCols[t])
				if err != nil {
					return fmt.Errorf("copy %s: %w", t, err)
				}
				out = append(out, Table{Name: t, Rows: n})
			}
			return resetSequences(ctx, ptx)
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store copy: %w", err)
	}
	return out, nil
}

// column is a target column and its PostgreSQL type (information_schema's data_type).
type column struct{ name, typ string }

func sqliteColumns(ctx context.Context, tx *sql.Tx) (map[string][]column, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := map[string][]column{}
	for _, t := range tables {
		rows, err := tx.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, t)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c column
			if err := rows.Scan(&c.name, &c.typ); err != nil {
				rows.Close()
				return nil, err
			}
			out[t] = append(out[t], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func postgresColumns(ctx context.Context, tx pgx.Tx) (map[string][]column, error) {
	rows, err := tx.Query(ctx, `SELECT c.table_name, c.column_name, c.data_type
		FROM information_schema.columns c JOIN information_schema.tables t
			ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]column{}
	for rows.Next() {
		var (
			t string
			c column
		)
		if err := rows.Scan(&t, &c.name, &c.typ); err != nil {
			return nil, err
		}
		out[t] = append(out[t], c)
	}
	return out, rows.Err()
}

// sameTables checks that both sides have the same tables with the same column names.
func sameTables(src, dst map[string][]column) error {
	var problems []string
	for _, t := range slices.Sorted(maps.Keys(src)) {
		d, ok := dst[t]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s has no counterpart in the target", t))
			continue
		}
		if s, d := names(src[t]), names(d); !slices.Equal(s, d) {
			problems = append(problems, fmt.Sprintf("table %s: source columns %s, target columns %s", t,
				strings.Join(s, ","), strings.Join(d, ",")))
		}
	}
	for _, t := range slices.Sorted(maps.Keys(dst)) {
		if _, ok := src[t]; !ok {
			problems = append(problems, fmt.Sprintf("table %s of the target has no counterpart in the source", t))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the stores' schemas differ (are both at this binary's version?): %s", strings.Join(problems, "; "))
	}
	return nil
}

func names(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	slices.Sort(out)
	return out
}

// parentsFirst orders tables so that a table comes after every table its foreign keys refer to.
func parentsFirst(ctx context.Context, tx pgx.Tx, tables []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT c.relname, p.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
		WHERE k.contype = 'f' AND k.connamespace = current_schema()::regnamespace`)
	if err != nil {
		return nil, fmt.Errorf("read foreign keys: %w", err)
	}
	parents := map[string][]string{}
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			rows.Close()
			return nil, err
		}
		if child != parent {
			parents[child] = append(parents[child], parent)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var (
		out  []string
		done = map[string]bool{}
	)
	for len(out) < len(tables) {
		progress := false
		for _, t := range tables {
			if done[t] || slices.ContainsFunc(parents[t], func(p string) bool { return !done[p] }) {
				continue
			}
			done[t], progress = true, true
			out = append(out, t)
		}
		if !progress {
			return nil, errors.New("foreign keys form a cycle")
		}
	}
	return out, nil
}

func checkEmpty(ctx context.Context, tx pgx.Tx, tables []string, force bool) error {
	var full []string
	for _, t := range tables {
		if seeded[t] {
			continue
		}
		var any bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{t}.Sanitize()+`)`).Scan(&any); err != nil {
			return fmt.Errorf("look into the target's %s: %w", t, err)
		}
		if any {
			full = append(full, t)
		}
	}
	if len(full) > 0 && !force {
		return fmt.Errorf("%w (rows in %s); --force replaces its contents", ErrNotEmpty, strings.Join(full, ", "))
	}
	return nil
}

func identList(tables []string) string {
	l := make([]string, len(tables))
	for i, t := range tables {
		l[i] = pgx.Identifier{t}.Sanitize()
	}
	return strings.Join(l, ", ")
}

// copyTable streams one table from the SQLite snapshot into the target with COPY.
func copyTable(ctx context.Context, stx *sql.Tx, ptx pgx.Tx, table string, cols []column) (int64, error) {
	colNames := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		colNames[i] = c.name
		quoted[i] = `"` + c.name + `"`
	}
	rows, err := stx.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM "`+table+`"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n, err := ptx.CopyFrom(ctx, pgx.Identifier{table}, colNames, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		row := make([]any, len(cols))
		for i, c := range cols {
			v, err := convert(vals[i], c.typ)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", c.name, err)
			}
			row[i] = v
		}
		return row, nil
	}))
	return n, err
}

// convert maps a value read from SQLite to what the target column takes.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "boolean":
		if n, ok := v.(int64); ok {
			return n != 0, nil
		}
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	case "text":
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		}
	case "bigint", "integer", "smallint":
		if n, ok := v.(int64); ok {
			return n, nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("a %T cannot go into a %s column", v, typ)
}

// resetSequences moves every serial column's sequence past the largest copied id.
func resetSequences(ctx context.Context, tx pgx.Tx) error {
	rows, err := tx.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'`)
	if err != nil {
		return fmt.Errorf("read sequences: %w", err)
	}
	type serial struct{ table, column string }
	var serials []serial
	for rows.Next() {
		var s serial
		if err := rows.Scan(&s.table, &s.column); err != nil {
			rows.Close()
			return err
		}
		serials = append(serials, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, s := range serials {
		col, tbl := pgx.Identifier{s.column}.Sanitize(), pgx.Identifier{s.table}.Sanitize()
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX(`+col+`), 0) + 1, false) FROM `+tbl,
			s.table, s.column); err != nil {
			return fmt.Errorf("move the sequence of %s.%s: %w", s.table, s.column, err)
		}
	}
	return nil
}
