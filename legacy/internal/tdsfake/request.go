package tdsfake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
)

// RequestKind tells how the client sent a request.
type RequestKind int

const (
	// Batch is a SQL batch: the driver sends queries without arguments this way.
	Batch RequestKind = iota
	// RPC is an sp_executesql call (RPC proc id 10): queries with arguments.
	RPC
)

func (k RequestKind) String() string {
	if k == RPC {
		return "rpc"
	}
	return "batch"
}

// Request is one client request as the fake decoded it.
type Request struct {
	Kind RequestKind
	// SQL is the statement text as the client sent it (T-SQL).
	SQL string
	// Params are the sp_executesql parameters @p1.. (none for a batch).
	Params []Param
	// Conn numbers the client connection (1, 2, ... in accept order).
	Conn int
}

// Param is one decoded RPC parameter.
type Param struct {
	// Name including the "@", e.g. "@p1".
	Name string
	// Type is the SQL Server type from the wire TYPE_INFO, e.g. "nvarchar(4000)",
	// "bigint", "uniqueidentifier", "datetime", "datetimeoffset(7)".
	Type string
	// Value is nil, string, int64, bool, float64, []byte or time.Time. uniqueidentifier values
	// are canonical upper-case GUID text. datetime/datetime2/date values are wall clocks in
	// time.UTC; datetimeoffset values carry their offset.
	Value any
}

// byteReader reads little-endian primitives from a message payload with a sticky error.
type byteReader struct {
	b   []byte
	pos int
	err error
}

var errShort = errors.New("tdsfake: message too short")

func (r *byteReader) next(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.pos+n > len(r.b) {
		r.err = errShort
		return nil
	}
	p := r.b[r.pos : r.pos+n]
	r.pos += n
	return p
}

func (r *byteReader) u8() byte {
	if p := r.next(1); p != nil {
		return p[0]
	}
	return 0
}

func (r *byteReader) u16() uint16 {
	if p := r.next(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (r *byteReader) u32() uint32 {
	if p := r.next(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (r *byteReader) u64() uint64 {
	if p := r.next(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (r *byteReader) ucs2(chars int) string {
	p := r.next(2 * chars)
	if p == nil {
		return ""
	}
	s, err := fromUCS2(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return s
}

// skipAllHeaders skips the ALL_HEADERS block that starts SQL batch and RPC messages.
func (r *byteReader) skipAllHeaders() {
	total := int(r.u32())
	if total < 4 {
		r.err = errors.New("tdsfake: bad ALL_HEADERS length")
		return
	}
	r.next(total - 4)
}

// parseBatch decodes a SQL batch message.
func parseBatch(data []byte) (string, error) {
	r := &byteReader{b: data}
	r.skipAllHeaders()
	if r.err != nil {
		return "", r.err
	}
	return fromUCS2(data[r.pos:])
}

// parseRPC decodes an sp_executesql RPC message: statement, declarations, then the values.
func parseRPC(data []byte) (sqlText string, params []Param, err error) {
	r := &byteReader{b: data}
	r.skipAllHeaders()
	nameLen := r.u16()
	if nameLen == 0xFFFF {
		if id := r.u16(); r.err == nil && id != 10 {
			return "", nil, fmt.Errorf("tdsfake: RPC proc id %d is not supported (only sp_executesql, 10)", id)
		}
	} else {
		name := r.ucs2(int(nameLen))
		if r.err == nil && !strings.EqualFold(name, "sp_executesql") {
			return "", nil, fmt.Errorf("tdsfake: RPC to procedure %q is not supported", name)
		}
	}
	r.u16() // option flags
	var all []Param
	for r.err == nil && r.pos < len(r.b) {
		p, err := readParam(r)
		if err != nil {
			return "", nil, err
		}
		all = append(all, p)
	}
	if r.err != nil {
		return "", nil, r.err
	}
	if len(all) < 1 {
		return "", nil, errors.New("tdsfake: sp_executesql without a statement")
	}
	stmt, ok := all[0].Value.(string)
	if !ok {
		return "", nil, errors.New("tdsfake: sp_executesql statement is not a string")
	}
	if len(all) == 1 {
		return stmt, nil, nil
	}
	decl, _ := all[1].Value.(string)
	params = all[2:]
	names := declaredNames(decl)
	if len(names) != len(params) {
		return "", nil, fmt.Errorf("tdsfake: %d parameters declared (%q), %d sent", len(names), decl, len(params))
	}
	for i := range params {
		if params[i].Name == "" {
			params[i].Name = names[i]
		}
	}
	return stmt, params, nil
}

// declaredNames extracts the parameter names of an sp_executesql declaration string such
// as "@p1 nvarchar(5),@p2 decimal(18,2)".
func declaredNames(decl string) []string {
	var names []string
	depth := 0
	start := 0
	for i := 0; i <= len(decl); i++ {
		if i < len(decl) {
			switch decl[i] {
			case '(':
				depth++
				continue
			case ')':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		if f := strings.Fields(decl[start:i]); len(f) > 0 {
			names = append(names, f[0])
		}
		start = i + 1
	}
	return names
}

// readParam reads one RPC parameter: name, status, TYPE_INFO, value.
func readParam(r *byteReader) (Param, error) {
	var p Param
	p.Name = r.ucs2(int(r.u8()))
	r.u8() // status flags (by-ref output, default value)
	tid := r.u8()
	if r.err != nil {
		return p, r.err
	}
	switch tid {
	case tidNull:
		p.Type = "null"
	case tidInt1, tidBit, tidInt2, tidInt4, tidInt8, tidFlt4, tidFlt8, tidDateTime, tidDateTim4:
		p.Type, p.Value = readFixedParam(r, tid)
	case tidIntN, tidBitN, tidFltN, tidDateTimeN, tidGUID, tidMoneyN:
		size := int(r.u8())
		n := int(r.u8())
		if n == 0 {
			p.Type = byteLenTypeName(tid, size)
			break
		}
		b := r.next(n)
		if r.err != nil {
			break
		}
		p.Type, p.Value = decodeByteLen(tid, size, b)
	case tidDecimalN, tidNumericN, tidDecimal, tidNumeric:
		r.u8() // size
		prec, scale := r.u8(), r.u8()
		p.Type = fmt.Sprintf("decimal(%d,%d)", prec, scale)
		if n := int(r.u8()); n > 0 {
			b := r.next(n)
			if r.err == nil {
				p.Value = decodeDecimal(b, scale)
			}
		}
	case tidDateN:
		p.Type = "date"
		if n := int(r.u8()); n == 3 {
			b := r.next(3)
			if r.err == nil {
				days := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
				p.Value = time.Date(1, 1, 1+days, 0, 0, 0, 0, time.UTC)
			}
		}
	case tidTimeN, tidDateTime2N, tidDateTimeOffset:
		scale := r.u8()
		n := int(r.u8())
		p.Type = map[byte]string{tidTimeN: "time", tidDateTime2N: "datetime2", tidDateTimeOffset: "datetimeoffset"}[tid] + fmt.Sprintf("(%d)", scale)
		if n > 0 {
			b := r.next(n)
			if r.err == nil {
				p.Value = decodeTime(tid, scale, b)
			}
		}
	case tidNVarChar, tidNChar, tidBigVarChar, tidBigChar, tidBigVarBin, tidBigBinary:
		maxLen := r.u16()
		if tid != tidBigVarBin && tid != tidBigBinary {
			r.next(5) // collation
		}
		p.Type = shortLenTypeName(tid, maxLen)
		var raw []byte
		var null bool
		if maxLen == 0xFFFF {
			raw, null = readPLP(r)
		} else {
			n := r.u16()
			if n == 0xFFFF {
				null = true
			} else {
				raw = r.next(int(n))
			}
		}
		if r.err != nil || null {
			break
		}
		switch tid {
		case tidNVarChar, tidNChar:
			s, err := fromUCS2(raw)
			if err != nil {
				return p, err
			}
			p.Value = s
		case tidBigVarChar, tidBigChar:
			p.Value = decodeCP1252(raw)
		default:
			p.Value = append([]byte(nil), raw...)
		}
	default:
		return p, fmt.Errorf("tdsfake: parameter %s has unsupported TDS type %#x", p.Name, tid)
	}
	return p, r.err
}

func readPLP(r *byteReader) (data []byte, null bool) {
	total := r.u64()
	if total == math.MaxUint64 {
		return nil, true
	}
	data = []byte{}
	for r.err == nil {
		n := r.u32()
		if n == 0 {
			break
		}
		data = append(data, r.next(int(n))...)
	}
	return data, false
}

func readFixedParam(r *byteReader, tid byte) (string, any) {
	switch tid {
	case tidInt1:
		return "tinyint", int64(r.u8())
	case tidBit:
		return "bit", r.u8() != 0
	case tidInt2:
		return "smallint", int64(int16(r.u16()))
	case tidInt4:
		return "int", int64(int32(r.u32()))
	case tidInt8:
		return "bigint", int64(r.u64())
	case tidFlt4:
		return "real", float64(math.Float32frombits(r.u32()))
	case tidFlt8:
		return "float", math.Float64frombits(r.u64())
	case tidDateTime:
		days, ticks := int32(r.u32()), r.u32()
		return "datetime", decodeDateTime(days, ticks)
	case tidDateTim4:
		days, mins := r.u16(), r.u16()
		return "smalldatetime", time.Date(1900, 1, 1+int(days), 0, int(mins), 0, 0, time.UTC)
	}
	return "", nil
}

func byteLenTypeName(tid byte, size int) string {
	switch tid {
	case tidIntN:
		return map[int]string{1: "tinyint", 2: "smallint", 4: "int", 8: "bigint"}[size]
	case tidBitN:
		return "bit"
	case tidFltN:
		if size == 4 {
			return "real"
		}
		return "float"
	case tidDateTimeN:
		if size == 4 {
			return "smalldatetime"
		}
		return "datetime"
	case tidGUID:
		return "uniqueidentifier"
	case tidMoneyN:
		if size == 4 {
			return "smallmoney"
		}
		return "money"
	}
	return "?"
}

func decodeByteLen(tid byte, size int, b []byte) (string, any) {
	name := byteLenTypeName(tid, size)
	switch tid {
	case tidIntN:
		switch len(b) {
		case 1:
			return name, int64(b[0])
		case 2:
			return name, int64(int16(binary.LittleEndian.Uint16(b)))
		case 4:
			return name, int64(int32(binary.LittleEndian.Uint32(b)))
		case 8:
			return name, int64(binary.LittleEndian.Uint64(b))
		}
	case tidBitN:
		return name, b[0] != 0
	case tidFltN:
		if len(b) == 4 {
			return name, float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
		if len(b) == 8 {
			return name, math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
	case tidDateTimeN:
		if len(b) == 8 {
			return name, decodeDateTime(int32(binary.LittleEndian.Uint32(b)), binary.LittleEndian.Uint32(b[4:]))
		}
		if len(b) == 4 {
			return name, time.Date(1900, 1, 1+int(binary.LittleEndian.Uint16(b)), 0, int(binary.LittleEndian.Uint16(b[2:])), 0, 0, time.UTC)
		}
	case tidGUID:
		if len(b) == 16 {
			return name, formatGUID(guidFromWire(b))
		}
	case tidMoneyN:
		var v int64
		if len(b) == 8 {
			v = int64(uint64(binary.LittleEndian.Uint32(b))<<32 | uint64(binary.LittleEndian.Uint32(b[4:])))
		} else if len(b) == 4 {
			v = int64(int32(binary.LittleEndian.Uint32(b)))
		}
		return name, float64(v) / 10000
	}
	return name, nil
}

func shortLenTypeName(tid byte, maxLen uint16) string {
	name := map[byte]string{tidNVarChar: "nvarchar", tidNChar: "nchar", tidBigVarChar: "varchar",
		tidBigChar: "char", tidBigVarBin: "varbinary", tidBigBinary: "binary"}[tid]
	switch {
	case maxLen == 0xFFFF:
		return name + "(max)"
	case tid == tidNVarChar || tid == tidNChar:
		return fmt.Sprintf("%s(%d)", name, maxLen/2)
	}
	return fmt.Sprintf("%s(%d)", name, maxLen)
}

// decodeDecimal renders a DECIMALN value as decimal text.
func decodeDecimal(b []byte, scale uint8) string {
	sign, mag := b[0], b[1:]
	be := make([]byte, len(mag)) // the magnitude is little-endian; big.Int wants big-endian
	for i := range mag {
		be[len(mag)-1-i] = mag[i]
	}
	digits := []byte(new(big.Int).SetBytes(be).String())
	for len(digits) <= int(scale) {
		digits = append([]byte{'0'}, digits...)
	}
	s := string(digits)
	if scale > 0 {
		s = s[:len(s)-int(scale)] + "." + s[len(s)-int(scale):]
	}
	if sign == 0 {
		s = "-" + s
	}
	return s
}

// decodeTime decodes time/datetime2/datetimeoffset values.
func decodeTime(tid byte, scale uint8, b []byte) any {
	tb := timeBytes(scale)
	if len(b) < tb {
		return nil
	}
	var buf [8]byte
	copy(buf[:], b[:tb])
	units := binary.LittleEndian.Uint64(buf[:])
	ns := int64(units) * int64(math.Pow10(9-int(scale)))
	if tid == tidTimeN {
		return time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ns))
	}
	d := b[tb:]
	if len(d) < 3 {
		return nil
	}
	days := int(d[0]) | int(d[1])<<8 | int(d[2])<<16
	t := time.Date(1, 1, 1+days, 0, 0, 0, 0, time.UTC).Add(time.Duration(ns))
	if tid == tidDateTimeOffset && len(d) >= 5 {
		off := int(int16(binary.LittleEndian.Uint16(d[3:])))
		t = t.In(time.FixedZone("", off*60))
	}
	return t
}
