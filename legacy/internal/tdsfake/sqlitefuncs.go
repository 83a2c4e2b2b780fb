package tdsfake

import (
	"database/sql/driver"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// SQLite extensions that make the backend compare and store like SQL Server. Their names
// carry a tdsfake prefix: they are registered on the process-wide "sqlite" driver, and other
// users of that driver in the same test binary must not notice them.
const (
	// collationCI is SQL Server's default collation as far as the fake needs it:
	// case-insensitive for all of Unicode (SQLite's NOCASE folds ASCII only) and blind to
	// trailing spaces, as SQL Server's = is.
	collationCI = "TDSFAKE_CI"
	funcLower   = "tdsfake_lower" // LOWER for all of Unicode
	funcUpper   = "tdsfake_upper" // UPPER for all of Unicode
	// funcDateTime rounds a stored date/time value to its SQL Server type's precision
	// (datetime: 1/300 s; smalldatetime: minute; date: day) in the stored text form.
	funcDateTime = "tdsfake_datetime"
	// funcVarChar is what SQL Server keeps of a Unicode string in a varchar column or a
	// CAST to varchar: the characters of the column's code page (Windows-1252 under the
	// default SQL_Latin1_General_CP1_CI_AS), any other one as '?'.
	funcVarChar = "tdsfake_varchar"
)

var (
	registerOnce sync.Once
	registerErr  error
)

func registerSQLiteExtensions() error {
	registerOnce.Do(func() {
		fold := func(s string) string { return strings.ToLower(strings.TrimRight(s, " ")) }
		if registerErr = sqlite.RegisterCollationUtf8(collationCI, func(a, b string) int {
			return strings.Compare(fold(a), fold(b))
		}); registerErr != nil {
			return
		}
		text := func(f func(string) string) func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
			return func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
				if s, ok := args[0].(string); ok {
					return f(s), nil
				}
				return args[0], nil
			}
		}
		if registerErr = sqlite.RegisterDeterministicScalarFunction(funcLower, 1, text(strings.ToLower)); registerErr != nil {
			return
		}
		if registerErr = sqlite.RegisterDeterministicScalarFunction(funcUpper, 1, text(strings.ToUpper)); registerErr != nil {
			return
		}
		if registerErr = sqlite.RegisterDeterministicScalarFunction(funcVarChar, 1, text(func(s string) string { return decodeCP1252(encodeCP1252(s)) })); registerErr != nil {
			return
		}
		registerErr = sqlite.RegisterDeterministicScalarFunction(funcDateTime, 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			kind, _ := args[1].(string)
			if args[0] == nil {
				return nil, nil
			}
			t, err := toTime(args[0])
			if err != nil {
				return args[0], nil // leave what cannot be read visible as it is
			}
			return formatDateTime(roundTime(t, kind)), nil
		})
	})
	return registerErr
}

// roundTime rounds a wall clock to the precision of a SQL Server date/time type.
func roundTime(t time.Time, kind string) time.Time {
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	switch kind {
	case "datetime":
		return decodeDateTime(encodeDateTime(t))
	case "smalldatetime":
		return t.Round(time.Minute)
	case "date":
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(time.Millisecond)
}
