package sqldir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"
)

// dialect holds the few driver-specific conversions.
type dialect struct {
	name string
	// guidArg turns a canonical GUID into a query argument.
	guidArg func(g GUID) any
	// timeArg turns a wall-clock time (already in the AMS's location) into a query argument.
	timeArg func(t time.Time) any
	// guidBytes reads a 16-byte uniqueidentifier column value.
	guidBytes func(b []byte) (GUID, error)
}

// sqliteTimeLayout is how the demo database stores datetimes (text, wall clock).
const sqliteTimeLayout = "2006-01-02 15:04:05.000"

func dialectFor(driver string) dialect {
	if driver == DriverSQLServer {
		return dialect{
			name: DriverSQLServer,
			// With go-mssqldb's default DSN (no "guid conversion"), mssql.UniqueIdentifier
			// holds the canonical byte order and swaps to the wire's mixed-endian order itself.
			guidArg: func(g GUID) any { return mssql.UniqueIdentifier(g) },
			// datetime columns hold wall-clock times; a time.Time parameter would travel as
			// datetimeoffset and be compared as UTC, so send a datetime (DateTime1) built from
			// the wall clock fields of t.
			timeArg: func(t time.Time) any { return mssql.DateTime1(t) },
			guidBytes: func(b []byte) (GUID, error) {
				var u mssql.UniqueIdentifier
				if err := u.Scan(b); err != nil {
					return GUID{}, err
				}
				return GUID(u), nil
			},
		}
	}
	return dialect{
		name:    driver,
		guidArg: func(g GUID) any { return g.String() },
		timeArg: func(t time.Time) any { return t.Format(sqliteTimeLayout) },
		guidBytes: func(b []byte) (GUID, error) {
			var g GUID
			if len(b) != 16 {
				return g, errors.New("uniqueidentifier is not 16 bytes")
			}
			copy(g[:], b)
			return g, nil
		},
	}
}

// GUID is a uniqueidentifier in canonical (RFC 4122 text) byte order.
type GUID [16]byte

// String renders the canonical upper-case form, as iMIS shows keys.
func (g GUID) String() string {
	var b [36]byte
	return string(g.appendText(b[:0]))
}

// appendText appends the canonical upper-case form to b.
func (g GUID) appendText(b []byte) []byte {
	const hexdigits = "0123456789ABCDEF"
	for i, c := range g {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexdigits[c>>4], hexdigits[c&0xF])
	}
	return b
}

// ParseGUID reads a GUID in canonical text form, with or without braces, any case.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	s = strings.TrimSpace(s)
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, errors.New("not a GUID")
	}
	// The hex digits of the five groups, read in place (no joined copy of them).
	j := 0
	for i := 0; i < 36; i += 2 {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			i++
		}
		hi, ok1 := fromHex(s[i])
		lo, ok2 := fromHex(s[i+1])
		if !ok1 || !ok2 {
			return GUID{}, errors.New("not a GUID")
		}
		g[j] = hi<<4 | lo
		j++
	}
	return g, nil
}

// fromHex is the value of one hex digit, either case.
func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// --- column value conversions (from what database/sql hands to *any) ---

// kindError is a column value that is not of the kind the column contract wants. Its text
// names the kind wanted and what was found (text, NULL, or the Go type the driver gave),
// never the value: these errors reach the log (a sign-in's contract fault, the lookups'
// errors; review s27 R5-5), and a member's row is that member's data. `legacy check` shows
// the value on the operator's terminal.
type kindError struct {
	want string // "a boolean", "a datetime", ...
	got  string // "text", "NULL", "a value of type int32", ...
}

func (e *kindError) Error() string { return e.got + " where the contract wants " + e.want }

// wrongType is the kindError of a value whose Go type the conversion does not take.
func wrongType(want string, v any) error {
	return &kindError{want: want, got: fmt.Sprintf("a value of type %T", v)}
}

func asString(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.Format(sqliteTimeLayout), nil
	}
	return "", wrongType("text", v)
}

// wantBool is the kind a boolean column takes.
const wantBool = "a boolean (bit, a number, or the text 1/0, true/false, yes/no, y/n)"

// asBool reads bit/int/text booleans; null reports a NULL.
func asBool(v any) (b, null bool, err error) {
	switch x := v.(type) {
	case nil:
		return false, true, nil
	case bool:
		return x, false, nil
	case int64:
		return x != 0, false, nil
	case float64:
		return x != 0, false, nil
	case string, []byte:
		s, _ := asString(x)
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "true", "y", "yes":
			return true, false, nil
		case "0", "false", "n", "no":
			return false, false, nil
		}
		return false, false, &kindError{want: wantBool, got: "text"}
	}
	return false, false, wrongType(wantBool, v)
}

func asInt(v any) (n int64, null bool, err error) {
	switch x := v.(type) {
	case nil:
		return 0, true, nil
	case int64:
		return x, false, nil
	case float64:
		return int64(x), false, nil
	case bool:
		if x {
			return 1, false, nil
		}
		return 0, false, nil
	case string, []byte:
		s, _ := asString(x)
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			// Not strconv's error: it quotes the text.
			return 0, false, &kindError{want: "an integer", got: "text"}
		}
		return n, false, nil
	}
	return 0, false, wrongType("an integer", v)
}

var textTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02",
}

var zonedTimeLayouts = []string{
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
}

// sentinelBefore: ASP.NET writes 1754-01-01 for "never"; any date before 1800 reads as NULL.
var sentinelBefore = time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)

// asTime reads a datetime column as wall clock in loc. A time.Time in UTC (SQL Server
// datetime, SQLite text without zone) is wall clock; one with another zone (datetimeoffset)
// is an instant and is converted.
func asTime(v any, loc *time.Location) (time.Time, error) {
	var t time.Time
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		if x.Location() == time.UTC {
			t = wallClock(x, loc)
		} else {
			t = x.In(loc)
		}
	case string, []byte:
		s, _ := asString(x)
		s = strings.TrimSpace(s)
		if s == "" {
			return time.Time{}, nil
		}
		var err error
		t, err = parseTextTime(s, loc)
		if err != nil {
			return time.Time{}, err
		}
	default:
		return time.Time{}, wrongType("a datetime", v)
	}
	if t.Before(sentinelBefore) {
		return time.Time{}, nil
	}
	return t, nil
}

func parseTextTime(s string, loc *time.Location) (time.Time, error) {
	if t, ok := parseWallClock(s, loc); ok {
		return t, nil
	}
	for _, layout := range textTimeLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	for _, layout := range zonedTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.In(loc), nil
		}
	}
	return time.Time{}, &kindError{want: "a datetime", got: "text"}
}

// parseWallClock reads "2006-01-02 15:04:05" with an optional fraction of 1 to 9 digits (how
// the demo and sqldir write datetimes: sqliteTimeLayout) as wall clock in loc, as
// time.ParseInLocation with textTimeLayouts[0] does, without its cost. false: s has another
// form or a field out of range; the caller then tries the layouts.
func parseWallClock(s string, loc *time.Location) (time.Time, bool) {
	if len(s) != 19 && (len(s) < 21 || len(s) > 29 || s[19] != '.') {
		return time.Time{}, false
	}
	if s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(s[0:4])
	month, ok2 := num(s[5:7])
	day, ok3 := num(s[8:10])
	hour, ok4 := num(s[11:13])
	minute, ok5 := num(s[14:16])
	sec, ok6 := num(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if len(s) > 19 {
		frac, ok := num(s[20:])
		if !ok {
			return time.Time{}, false
		}
		nsec = frac
		for i := len(s) - 20; i < 9; i++ {
			nsec *= 10
		}
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

// daysIn is the number of days of month m in year.
func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func wallClock(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, mo, d, h, mi, s, t.Nanosecond(), loc)
}

// asKey reads a contact key: GUIDs (16 bytes or text) become canonical upper-case text;
// other values (keyFormat "text") are kept as trimmed text.
func (d dialect) asKey(v any, textKeys bool) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", &kindError{want: "a key", got: "NULL"}
	case []byte:
		if len(x) == 16 && !textKeys {
			g, err := d.guidBytes(x)
			if err != nil {
				return "", &kindError{want: "a key", got: "a uniqueidentifier that cannot be read"}
			}
			return g.String(), nil
		}
	}
	s, err := asString(v)
	if err != nil {
		return "", wrongType("a key", v)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", &kindError{want: "a key", got: "empty text"}
	}
	if g, err := ParseGUID(s); err == nil {
		var b [36]byte
		if c := g.appendText(b[:0]); string(c) == s {
			return s, nil // already canonical: no copy
		}
		return g.String(), nil
	}
	if !textKeys {
		return "", &kindError{want: "a GUID key (set key_format: text for an AMS with other keys)", got: "text"}
	}
	return s, nil
}
