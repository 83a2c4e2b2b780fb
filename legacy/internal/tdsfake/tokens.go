package tdsfake

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// Token types (MS-TDS 2.2.7).
const (
	tokReturnStatus byte = 0x79
	tokColMetadata  byte = 0x81
	tokError        byte = 0xAA
	tokInfo         byte = 0xAB
	tokLoginAck     byte = 0xAD
	tokRow          byte = 0xD1
	tokEnvChange    byte = 0xE3
	tokDone         byte = 0xFD
	tokDoneProc     byte = 0xFE
	tokDoneInProc   byte = 0xFF
)

// DONE status bits and CurCmd values.
const (
	doneFinal  uint16 = 0x00
	doneMore   uint16 = 0x01
	doneError  uint16 = 0x02
	doneCount  uint16 = 0x10
	doneAttn   uint16 = 0x20
	cmdSetOn   uint16 = 0xB9
	cmdSetOff  uint16 = 0xBA
	cmdSelect  uint16 = 0xC1
	cmdSet     uint16 = 0xF9
	cmdExecute uint16 = 0xE0
)

// ENVCHANGE types.
const (
	envDatabase   byte = 1
	envLanguage   byte = 2
	envPacketSize byte = 4
	envCollation  byte = 7
	envResetAck   byte = 18
)

// tdsVersion74 is TDS 7.4 as LOGINACK carries it (big-endian on the wire).
const tdsVersion74 uint32 = 0x74000004

// serverName is what ERROR tokens and LOGINACK report.
const serverName = "tdsfake"

// defaultCollation is SQL_Latin1_General_CP1_CI_AS (LCID 0x0409, CI/KS/WS flags, sort id 52):
// case-insensitive, code page 1252 for varchar.
var defaultCollation = [5]byte{0x09, 0x04, 0xD0, 0x00, 0x34}

// ucs2 encodes s as UTF-16LE.
func ucs2(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}

// fromUCS2 decodes UTF-16LE.
func fromUCS2(b []byte) (string, error) {
	if len(b)%2 != 0 {
		return "", errors.New("tdsfake: odd-length UCS-2 string")
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u)), nil
}

// tokenWriter builds a reply message: little-endian primitives plus the tokens the fake sends.
type tokenWriter struct {
	b []byte
}

func (w *tokenWriter) byte(v byte)    { w.b = append(w.b, v) }
func (w *tokenWriter) bytes(v []byte) { w.b = append(w.b, v...) }
func (w *tokenWriter) u16(v uint16)   { w.b = binary.LittleEndian.AppendUint16(w.b, v) }
func (w *tokenWriter) u32(v uint32)   { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *tokenWriter) u64(v uint64)   { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *tokenWriter) bVarChar(s string) {
	u := ucs2(s)
	w.byte(byte(len(u) / 2))
	w.bytes(u)
}
func (w *tokenWriter) usVarChar(s string) {
	u := ucs2(s)
	w.u16(uint16(len(u) / 2))
	w.bytes(u)
}

// lengthPrefixed writes a token whose body is preceded by its uint16 length.
func (w *tokenWriter) lengthPrefixed(tok byte, body func(w *tokenWriter)) {
	w.byte(tok)
	at := len(w.b)
	w.u16(0)
	body(w)
	binary.LittleEndian.PutUint16(w.b[at:], uint16(len(w.b)-at-2))
}

// envChange writes an ENVCHANGE with B_VARCHAR new and old values.
func (w *tokenWriter) envChange(typ byte, newValue, oldValue string) {
	w.lengthPrefixed(tokEnvChange, func(w *tokenWriter) {
		w.byte(typ)
		w.bVarChar(newValue)
		w.bVarChar(oldValue)
	})
}

// envCollation writes the SQL collation ENVCHANGE (B_VARBYTE values).
func (w *tokenWriter) envCollation() {
	w.lengthPrefixed(tokEnvChange, func(w *tokenWriter) {
		w.byte(envCollation)
		w.byte(byte(len(defaultCollation)))
		w.bytes(defaultCollation[:])
		w.byte(0)
	})
}

// envResetAck acknowledges RESETCONNECTION.
func (w *tokenWriter) envResetAck() {
	w.lengthPrefixed(tokEnvChange, func(w *tokenWriter) {
		w.byte(envResetAck)
		w.byte(0)
		w.byte(0)
	})
}

// message writes an ERROR or INFO token.
func (w *tokenWriter) message(tok byte, number int32, state, class byte, text string) {
	w.lengthPrefixed(tok, func(w *tokenWriter) {
		w.u32(uint32(number))
		w.byte(state)
		w.byte(class)
		w.usVarChar(text)
		w.bVarChar(serverName)
		w.bVarChar("")
		w.u32(1) // line number
	})
}

func (w *tokenWriter) serverError(e *ServerError) {
	class := e.Class
	if class == 0 {
		class = 16
	}
	state := e.State
	if state == 0 {
		state = 1
	}
	w.message(tokError, e.Number, state, class, e.Message)
}

// loginAck writes LOGINACK for TDS 7.4.
func (w *tokenWriter) loginAck() {
	w.lengthPrefixed(tokLoginAck, func(w *tokenWriter) {
		w.byte(1) // interface: SQL_TSQL
		w.b = binary.BigEndian.AppendUint32(w.b, tdsVersion74)
		w.bVarChar("Microsoft SQL Server")
		w.bytes([]byte{16, 0, 0x10, 0x7A}) // program version 16.0.4218
	})
}

func (w *tokenWriter) done(tok byte, status, curCmd uint16, rows uint64) {
	w.byte(tok)
	w.u16(status)
	w.u16(curCmd)
	w.u64(rows)
}

func (w *tokenWriter) returnStatus(v int32) {
	w.byte(tokReturnStatus)
	w.u32(uint32(v))
}

// colMetadata writes COLMETADATA for cols.
func (w *tokenWriter) colMetadata(cols []column) {
	w.byte(tokColMetadata)
	w.u16(uint16(len(cols)))
	for _, c := range cols {
		w.u32(0)      // user type
		w.u16(0x0009) // flags: nullable, updateable unknown (0x08)
		c.typ.writeTypeInfo(w)
		w.bVarChar(c.name)
	}
}

// row writes one ROW token.
func (w *tokenWriter) row(cols []column, values []any) error {
	w.byte(tokRow)
	for i, c := range cols {
		if err := c.typ.writeValue(w, values[i]); err != nil {
			return fmt.Errorf("column %q: %w", c.name, err)
		}
	}
	return nil
}
