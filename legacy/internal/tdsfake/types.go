package tdsfake

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/charmap"
)

// typeKind is a SQL Server data type the fake can put in a result set.
type typeKind int

const (
	kindNVarChar typeKind = iota
	kindNChar
	kindVarChar
	kindChar
	kindGUID
	kindBit
	kindTinyInt
	kindSmallInt
	kindInt
	kindBigInt
	kindDateTime
	kindSmallDateTime
	kindDate
	kindDateTime2
	kindDateTimeOffset
	kindFloat
	kindReal
	kindDecimal
	kindVarBinary
	kindBinary
)

// TDS type ids (MS-TDS 2.2.5.4).
const (
	tidNull           byte = 0x1F
	tidInt1           byte = 0x30
	tidBit            byte = 0x32
	tidInt2           byte = 0x34
	tidInt4           byte = 0x38
	tidDateTim4       byte = 0x3A
	tidFlt4           byte = 0x3B
	tidMoney          byte = 0x3C
	tidDateTime       byte = 0x3D
	tidFlt8           byte = 0x3E
	tidMoney4         byte = 0x7A
	tidInt8           byte = 0x7F
	tidGUID           byte = 0x24
	tidIntN           byte = 0x26
	tidDecimal        byte = 0x37
	tidNumeric        byte = 0x3F
	tidBitN           byte = 0x68
	tidDecimalN       byte = 0x6A
	tidNumericN       byte = 0x6C
	tidFltN           byte = 0x6D
	tidMoneyN         byte = 0x6E
	tidDateTimeN      byte = 0x6F
	tidDateN          byte = 0x28
	tidTimeN          byte = 0x29
	tidDateTime2N     byte = 0x2A
	tidDateTimeOffset byte = 0x2B
	tidBigVarBin      byte = 0xA5
	tidBigVarChar     byte = 0xA7
	tidBigBinary      byte = 0xAD
	tidBigChar        byte = 0xAF
	tidNVarChar       byte = 0xE7
	tidNChar          byte = 0xEF
)

// maxSize marks (max) types, sent as PLP.
const maxSize = -1

// sqlType is a declared SQL Server column type.
type sqlType struct {
	kind  typeKind
	size  int   // characters for (n)(var)char, bytes for (var)binary; maxSize for (max)
	prec  uint8 // decimal precision
	scale uint8 // decimal scale, datetime2/datetimeoffset fractional digits
}

func (t sqlType) String() string {
	sz := func(name string) string {
		if t.size == maxSize {
			return name + "(max)"
		}
		return fmt.Sprintf("%s(%d)", name, t.size)
	}
	switch t.kind {
	case kindNVarChar:
		return sz("nvarchar")
	case kindNChar:
		return sz("nchar")
	case kindVarChar:
		return sz("varchar")
	case kindChar:
		return sz("char")
	case kindGUID:
		return "uniqueidentifier"
	case kindBit:
		return "bit"
	case kindTinyInt:
		return "tinyint"
	case kindSmallInt:
		return "smallint"
	case kindInt:
		return "int"
	case kindBigInt:
		return "bigint"
	case kindDateTime:
		return "datetime"
	case kindSmallDateTime:
		return "smalldatetime"
	case kindDate:
		return "date"
	case kindDateTime2:
		return fmt.Sprintf("datetime2(%d)", t.scale)
	case kindDateTimeOffset:
		return fmt.Sprintf("datetimeoffset(%d)", t.scale)
	case kindFloat:
		return "float"
	case kindReal:
		return "real"
	case kindDecimal:
		return fmt.Sprintf("decimal(%d,%d)", t.prec, t.scale)
	case kindVarBinary:
		return sz("varbinary")
	case kindBinary:
		return sz("binary")
	}
	return "?"
}

// isText reports whether the type compares as text (and gets the case-insensitive collation, like
// SQL Server's default case-insensitive collation).
func (t sqlType) isText() bool {
	switch t.kind {
	case kindNVarChar, kindNChar, kindVarChar, kindChar, kindGUID:
		return true
	}
	return false
}

func (t sqlType) isDateTime() bool {
	switch t.kind {
	case kindDateTime, kindSmallDateTime, kindDate, kindDateTime2, kindDateTimeOffset:
		return true
	}
	return false
}

// parseType parses a SQL Server type name such as "nvarchar(256)", "[uniqueidentifier]",
// "decimal(18, 2)" or "varchar(max)". The SQLite spelling "(-1)" of "(max)" is accepted too.
func parseType(decl string) (sqlType, error) {
	s := strings.ToLower(strings.TrimSpace(decl))
	s = strings.NewReplacer("[", "", "]", "", " ", "").Replace(s)
	s = strings.TrimPrefix(s, "sys.")
	name, args := s, ""
	if i := strings.IndexByte(s, '('); i >= 0 && strings.HasSuffix(s, ")") {
		name, args = s[:i], s[i+1:len(s)-1]
	}
	size := func(def int) (int, error) {
		switch args {
		case "":
			return def, nil
		case "max", "-1":
			return maxSize, nil
		}
		n, err := strconv.Atoi(args)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("tdsfake: bad length in type %q", decl)
		}
		return n, nil
	}
	scale := func(def uint8) (uint8, error) {
		if args == "" {
			return def, nil
		}
		n, err := strconv.Atoi(args)
		if err != nil || n < 0 || n > 7 {
			return 0, fmt.Errorf("tdsfake: bad scale in type %q", decl)
		}
		return uint8(n), nil
	}
	var t sqlType
	var err error
	switch name {
	case "nvarchar":
		t.kind = kindNVarChar
		t.size, err = size(1)
	case "nchar":
		t.kind = kindNChar
		t.size, err = size(1)
	case "varchar":
		t.kind = kindVarChar
		t.size, err = size(1)
	case "char":
		t.kind = kindChar
		t.size, err = size(1)
	case "sysname":
		t = sqlType{kind: kindNVarChar, size: 128}
	case "ntext", "xml":
		t = sqlType{kind: kindNVarChar, size: maxSize}
	case "text":
		t = sqlType{kind: kindVarChar, size: maxSize}
	case "uniqueidentifier":
		t.kind = kindGUID
	case "bit":
		t.kind = kindBit
	case "tinyint":
		t.kind = kindTinyInt
	case "smallint":
		t.kind = kindSmallInt
	case "int", "integer":
		t.kind = kindInt
	case "bigint":
		t.kind = kindBigInt
	case "datetime":
		t.kind = kindDateTime
	case "smalldatetime":
		t.kind = kindSmallDateTime
	case "date":
		t.kind = kindDate
	case "datetime2":
		t.kind = kindDateTime2
		t.scale, err = scale(7)
	case "datetimeoffset":
		t.kind = kindDateTimeOffset
		t.scale, err = scale(7)
	case "float", "double":
		t.kind = kindFloat
	case "real":
		t.kind = kindReal
	case "money":
		t = sqlType{kind: kindDecimal, prec: 19, scale: 4}
	case "smallmoney":
		t = sqlType{kind: kindDecimal, prec: 10, scale: 4}
	case "decimal", "numeric":
		t = sqlType{kind: kindDecimal, prec: 18}
		if args != "" {
			p, sc, _ := strings.Cut(args, ",")
			pn, err1 := strconv.Atoi(p)
			sn := 0
			var err2 error
			if sc != "" {
				sn, err2 = strconv.Atoi(sc)
			}
			if err1 != nil || err2 != nil || pn < 1 || pn > 38 || sn < 0 || sn > pn {
				return t, fmt.Errorf("tdsfake: bad precision in type %q", decl)
			}
			t.prec, t.scale = uint8(pn), uint8(sn)
		}
	case "varbinary":
		t.kind = kindVarBinary
		t.size, err = size(1)
	case "binary":
		t.kind = kindBinary
		t.size, err = size(1)
	case "timestamp", "rowversion":
		t = sqlType{kind: kindBinary, size: 8}
	default:
		return t, fmt.Errorf("tdsfake: unsupported type %q", decl)
	}
	return t, err
}

// decimalBytes is the value size of a decimal of the given precision.
func decimalBytes(prec uint8) int {
	switch {
	case prec <= 9:
		return 5
	case prec <= 19:
		return 9
	case prec <= 28:
		return 13
	}
	return 17
}

// timeBytes is the size of the time part of time/datetime2/datetimeoffset.
func timeBytes(scale uint8) int {
	switch {
	case scale <= 2:
		return 3
	case scale <= 4:
		return 4
	}
	return 5
}

// writeTypeInfo writes the TYPE_INFO of COLMETADATA.
func (t sqlType) writeTypeInfo(w *tokenWriter) {
	shortLen := func(tid byte, n int, collation bool) {
		w.byte(tid)
		if n == maxSize || n > 0xFFFE {
			w.u16(0xFFFF)
		} else {
			w.u16(uint16(n))
		}
		if collation {
			w.bytes(defaultCollation[:])
		}
	}
	switch t.kind {
	case kindNVarChar:
		shortLen(tidNVarChar, t.wideBytes(), true)
	case kindNChar:
		shortLen(tidNChar, t.wideBytes(), true)
	case kindVarChar:
		shortLen(tidBigVarChar, t.size, true)
	case kindChar:
		shortLen(tidBigChar, t.size, true)
	case kindVarBinary:
		shortLen(tidBigVarBin, t.size, false)
	case kindBinary:
		shortLen(tidBigBinary, t.size, false)
	case kindGUID:
		w.byte(tidGUID)
		w.byte(16)
	case kindBit:
		w.byte(tidBitN)
		w.byte(1)
	case kindTinyInt, kindSmallInt, kindInt, kindBigInt:
		w.byte(tidIntN)
		w.byte(byte(t.intSize()))
	case kindDateTime:
		w.byte(tidDateTimeN)
		w.byte(8)
	case kindSmallDateTime:
		w.byte(tidDateTimeN)
		w.byte(4)
	case kindDate:
		w.byte(tidDateN)
	case kindDateTime2:
		w.byte(tidDateTime2N)
		w.byte(t.scale)
	case kindDateTimeOffset:
		w.byte(tidDateTimeOffset)
		w.byte(t.scale)
	case kindFloat:
		w.byte(tidFltN)
		w.byte(8)
	case kindReal:
		w.byte(tidFltN)
		w.byte(4)
	case kindDecimal:
		w.byte(tidDecimalN)
		w.byte(byte(decimalBytes(t.prec)))
		w.byte(t.prec)
		w.byte(t.scale)
	}
}

// wideBytes is the maximum byte length of an nchar/nvarchar value (maxSize for max).
func (t sqlType) wideBytes() int {
	if t.size == maxSize {
		return maxSize
	}
	return 2 * t.size
}

func (t sqlType) intSize() int {
	switch t.kind {
	case kindTinyInt:
		return 1
	case kindSmallInt:
		return 2
	case kindInt:
		return 4
	}
	return 8
}

// isShortLen reports whether values are USHORTLEN (or PLP when size is max).
func (t sqlType) isShortLen() bool {
	switch t.kind {
	case kindNVarChar, kindNChar, kindVarChar, kindChar, kindVarBinary, kindBinary:
		return true
	}
	return false
}

// writeValue writes one value of a ROW. v is what the SQLite backend (or a scripted result)
// produced: nil, int64, float64, bool, string, []byte or time.Time.
func (t sqlType) writeValue(w *tokenWriter, v any) error {
	if v == nil {
		switch {
		case t.isShortLen() && t.size == maxSize:
			w.u64(math.MaxUint64) // PLP NULL
		case t.isShortLen():
			w.u16(0xFFFF)
		default:
			w.byte(0)
		}
		return nil
	}
	switch t.kind {
	case kindNVarChar, kindNChar:
		s := toString(v)
		if t.kind == kindNChar && t.size != maxSize {
			s = padRight(s, t.size)
		}
		t.writeShortLenBytes(w, ucs2(s))
	case kindVarChar, kindChar:
		s := toString(v)
		if t.kind == kindChar && t.size != maxSize {
			s = padRight(s, t.size)
		}
		t.writeShortLenBytes(w, encodeCP1252(s))
	case kindVarBinary, kindBinary:
		var b []byte
		switch x := v.(type) {
		case []byte:
			b = x
		default:
			b = []byte(toString(v))
		}
		t.writeShortLenBytes(w, b)
	case kindGUID:
		g, err := guidFromValue(v)
		if err != nil {
			return err
		}
		w.byte(16)
		w.bytes(guidToWire(g))
	case kindBit:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		w.byte(1)
		if n != 0 {
			w.byte(1)
		} else {
			w.byte(0)
		}
	case kindTinyInt, kindSmallInt, kindInt, kindBigInt:
		n, err := toInt(v)
		if err != nil {
			return err
		}
		size := t.intSize()
		w.byte(byte(size))
		var buf [8]byte
		binary.LittleEndian.PutUint64(buf[:], uint64(n))
		w.bytes(buf[:size])
	case kindFloat:
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		w.byte(8)
		w.u64(math.Float64bits(f))
	case kindReal:
		f, err := toFloat(v)
		if err != nil {
			return err
		}
		w.byte(4)
		w.u32(math.Float32bits(float32(f)))
	case kindDecimal:
		return writeDecimal(w, t, v)
	case kindDateTime, kindSmallDateTime, kindDate, kindDateTime2, kindDateTimeOffset:
		tm, err := toTime(v)
		if err != nil {
			return err
		}
		t.writeTime(w, tm)
	}
	return nil
}

func (t sqlType) writeShortLenBytes(w *tokenWriter, b []byte) {
	if t.size != maxSize {
		w.u16(uint16(len(b)))
		w.bytes(b)
		return
	}
	w.u64(uint64(len(b))) // PLP total length
	if len(b) > 0 {
		w.u32(uint32(len(b)))
		w.bytes(b)
	}
	w.u32(0) // PLP terminator
}

// writeTime writes a date/time value. Wall-clock fields of tm are used as they are, except
// for datetimeoffset, which is sent as UTC plus the offset.
func (t sqlType) writeTime(w *tokenWriter, tm time.Time) {
	switch t.kind {
	case kindDateTime:
		w.byte(8)
		days, ticks := encodeDateTime(tm)
		w.u32(uint32(days))
		w.u32(ticks)
	case kindSmallDateTime:
		w.byte(4)
		w.u16(uint16(daysBetween(1900, tm)))
		w.u16(uint16(tm.Hour()*60 + tm.Minute()))
	case kindDate:
		w.byte(3)
		writeDate(w, tm)
	case kindDateTime2:
		w.byte(byte(timeBytes(t.scale) + 3))
		writeTimeOfDay(w, tm, t.scale)
		writeDate(w, tm)
	case kindDateTimeOffset:
		_, off := tm.Zone()
		u := tm.UTC()
		w.byte(byte(timeBytes(t.scale) + 5))
		writeTimeOfDay(w, u, t.scale)
		writeDate(w, u)
		w.u16(uint16(int16(off / 60)))
	}
}

func writeDate(w *tokenWriter, tm time.Time) {
	days := daysSince0001(tm)
	w.byte(byte(days))
	w.byte(byte(days >> 8))
	w.byte(byte(days >> 16))
}

func writeTimeOfDay(w *tokenWriter, tm time.Time, scale uint8) {
	secs := int64(tm.Hour()*3600 + tm.Minute()*60 + tm.Second())
	v := secs*int64(math.Pow10(int(scale))) + int64(tm.Nanosecond())/int64(math.Pow10(9-int(scale)))
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], uint64(v))
	w.bytes(buf[:timeBytes(scale)])
}

func daysSince0001(tm time.Time) int { return daysBetween(1, tm) }

// daysBetween counts the days from January 1st of year to the date of tm's wall clock
// (time.Duration would overflow beyond 292 years).
func daysBetween(year int, tm time.Time) int {
	wall := time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, time.UTC)
	base := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC)
	return int((wall.Unix() - base.Unix()) / 86400)
}

// encodeDateTime converts the wall clock of tm to datetime's days since 1900-01-01 and
// 1/300 s ticks since midnight.
func encodeDateTime(tm time.Time) (int32, uint32) {
	days := int32(daysBetween(1900, tm))
	ticks := uint32(300*(tm.Hour()*3600+tm.Minute()*60+tm.Second())) + uint32(math.Round(float64(tm.Nanosecond())*3/1e7))
	if ticks >= 300*86400 {
		days++
		ticks -= 300 * 86400
	}
	return days, ticks
}

// decodeDateTime is the inverse of encodeDateTime; the result is a wall clock in UTC.
func decodeDateTime(days int32, ticks uint32) time.Time {
	ns := int64(math.Round(float64(ticks%300)/0.3)) * int64(time.Millisecond)
	return time.Date(1900, 1, 1+int(days), 0, 0, int(ticks/300), int(ns), time.UTC)
}

func writeDecimal(w *tokenWriter, t sqlType, v any) error {
	var r big.Rat
	if _, ok := r.SetString(toString(v)); !ok {
		return fmt.Errorf("tdsfake: %v is not a decimal", v)
	}
	r.Mul(&r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(t.scale)), nil)))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	sign := byte(1)
	if n.Sign() < 0 {
		sign = 0
		n.Neg(n)
	}
	size := decimalBytes(t.prec)
	mag := n.Bytes() // big-endian
	if len(mag) > size-1 {
		return fmt.Errorf("tdsfake: %v overflows %s", v, t)
	}
	w.byte(byte(size))
	w.byte(sign)
	le := make([]byte, size-1)
	for i, b := range mag {
		le[len(mag)-1-i] = b
	}
	w.bytes(le)
	return nil
}

func padRight(s string, n int) string {
	if k := len([]rune(s)); k < n {
		return s + strings.Repeat(" ", n-k)
	}
	return s
}

var cp1252 = charmap.Windows1252

func encodeCP1252(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := cp1252.EncodeRune(r)
		if !ok {
			b = '?'
		}
		out = append(out, b)
	}
	return out
}

func decodeCP1252(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		sb.WriteRune(cp1252.DecodeByte(c))
	}
	return sb.String()
}

// GUIDs. The fake stores them as canonical upper-case text ("6F9619FF-8B86-D011-B42D-00C04FC964FF").
// On the wire the first three groups are little-endian (mixed-endian order).

// parseGUID parses canonical text (braces and case ignored) into the 16 bytes in text order.
func parseGUID(s string) ([16]byte, error) {
	var g [16]byte
	t := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "{"), "}")
	if len(t) != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-' {
		return g, fmt.Errorf("tdsfake: %q is not a uniqueidentifier", s)
	}
	h := t[0:8] + t[9:13] + t[14:18] + t[19:23] + t[24:]
	if _, err := hex.Decode(g[:], []byte(h)); err != nil {
		return g, fmt.Errorf("tdsfake: %q is not a uniqueidentifier", s)
	}
	return g, nil
}

// formatGUID renders text-order bytes as canonical upper-case text.
func formatGUID(g [16]byte) string {
	h := strings.ToUpper(hex.EncodeToString(g[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// guidToWire converts text-order bytes to SQL Server's wire order.
func guidToWire(g [16]byte) []byte {
	return []byte{g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6],
		g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]}
}

// guidFromWire converts wire-order bytes to text order.
func guidFromWire(b []byte) [16]byte {
	return [16]byte{b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6],
		b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]}
}

func guidFromValue(v any) ([16]byte, error) {
	switch x := v.(type) {
	case string:
		return parseGUID(x)
	case []byte:
		if len(x) == 16 { // raw bytes in text order
			var g [16]byte
			copy(g[:], x)
			return g, nil
		}
		return parseGUID(string(x))
	}
	return [16]byte{}, fmt.Errorf("tdsfake: cannot use %T as uniqueidentifier", v)
}

// Conversions of backend values.

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return formatDateTime(x)
	}
	return fmt.Sprint(v)
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		return int64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return 1, nil
		case "false":
			return 0, nil
		}
	case []byte:
		return toInt(string(x))
	}
	return 0, fmt.Errorf("tdsfake: cannot convert %T %v to an integer", v, v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case string:
		return strconv.ParseFloat(strings.TrimSpace(x), 64)
	}
	return 0, fmt.Errorf("tdsfake: cannot convert %T %v to a float", v, v)
}

// dateTimeLayout is how the fake stores every date/time value in SQLite: fixed width, so
// that text comparison is chronological. It matches SQLite's strftime('%Y-%m-%d %H:%M:%f').
const dateTimeLayout = "2006-01-02 15:04:05.000"

func formatDateTime(t time.Time) string { return t.Format(dateTimeLayout) }

// formatDateTime2 is a datetime2(7) value's text form (100 ns), which sorts with
// formatDateTime's as text.
func formatDateTime2(t time.Time) string { return t.Format("2006-01-02 15:04:05.0000000") }

var timeLayouts = []string{
	dateTimeLayout,
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
	"20060102",
	"2006-01-02 15:04:05.999999999-07:00",
	time.RFC3339Nano,
}

func toTime(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		s := strings.TrimSpace(x)
		for _, layout := range timeLayouts {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
	case []byte:
		return toTime(string(x))
	}
	return time.Time{}, fmt.Errorf("tdsfake: cannot convert %T %v to a date/time", v, v)
}
