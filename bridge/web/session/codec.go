package session

import (
	"encoding/binary"
	"errors"
	"math/bits"

	"github.com/gorilla/securecookie"
)

// gobStrings serializes the cookie's values (a map of strings) as encoding/gob does, byte for
// byte, without gob's reflection: gob compiled and sent the map's type on every cookie, which
// was most of the cookie's cost per request. Its output is gob's, and gob reads it; it reads
// gob's output of such a map, and hands anything else to gob. So cookies written before, and
// by other replicas running an earlier version, are read, and they read these.
type gobStrings struct{}

var _ securecookie.Serializer = gobStrings{}

// gobMapType is the message gob sends first: the definition of map[interface{}]interface{}
// (type id 64, key and element type interface).
const gobMapType = "\r\x7f\x04\x01\x02\xff\x80\x00\x01\x10\x01\x10\x00\x00"

// gobValuePrefix starts the value message (after its length): type id 64, the top-level map's
// field delta.
const gobValuePrefix = "\xff\x80\x00"

// gobStringName is an interface value's concrete type name and gob's id of string (6, as a
// signed integer).
const gobStringName = "\x06string\x0c"

var errNotStrings = errors.New("session: not a map of strings")

// Serialize writes gob's encoding of a map[interface{}]interface{} of strings; anything else
// goes to gob.
func (gobStrings) Serialize(src interface{}) ([]byte, error) {
	m, ok := src.(map[interface{}]interface{})
	if !ok {
		return securecookie.GobEncoder{}.Serialize(src)
	}
	body := len(gobValuePrefix) + uintLen(uint64(len(m)))
	for k, v := range m {
		ks, ok1 := k.(string)
		vs, ok2 := v.(string)
		if !ok1 || !ok2 {
			return securecookie.GobEncoder{}.Serialize(src)
		}
		body += ifaceLen(ks) + ifaceLen(vs)
	}
	out := make([]byte, 0, len(gobMapType)+uintLen(uint64(body))+body)
	out = append(out, gobMapType...)
	out = appendUint(out, uint64(body))
	out = append(out, gobValuePrefix...)
	out = appendUint(out, uint64(len(m)))
	for k, v := range m {
		out = appendIface(out, k.(string))
		out = appendIface(out, v.(string))
	}
	return out, nil
}

// Deserialize reads what Serialize writes into a *map[interface{}]interface{}; anything else
// goes to gob. The keys the cookie uses are the package's constants (no copy, no boxing); the
// values are substrings of one copy of src.
func (gobStrings) Deserialize(src []byte, dst interface{}) error {
	if p, ok := dst.(*map[interface{}]interface{}); ok {
		var buf [8]stringPair
		if pairs, err := appendStrings(buf[:0], src); err == nil {
			if *p == nil {
				*p = make(map[interface{}]interface{}, len(pairs))
			}
			all := string(src)
			for _, kv := range pairs {
				(*p)[internKey(all[kv.k0:kv.k1])] = all[kv.v0:kv.v1]
			}
			return nil
		}
	}
	return securecookie.GobEncoder{}.Deserialize(src, dst)
}

// cookieKeys are the keys the cookie holds, as interface values made once.
var cookieKeys = [...]interface{}{keyBrowser, keySession, keyBinding, keyPending}

// internKey is k as an interface value: one of cookieKeys when it is one.
func internKey(k string) interface{} {
	for _, c := range cookieKeys {
		if c.(string) == k {
			return c
		}
	}
	return k
}

// stringPair is a key and its value in the bytes parsed: offsets [k0:k1] and [v0:v1].
type stringPair struct{ k0, k1, v0, v1 int }

// parseStrings parses gob's encoding of a map of strings exactly (errNotStrings otherwise).
func parseStrings(b []byte) (map[string]string, error) {
	pairs, err := appendStrings(nil, b)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		m[string(b[kv.k0:kv.k1])] = string(b[kv.v0:kv.v1])
	}
	return m, nil
}

// appendStrings parses gob's encoding of a map of strings exactly, appending its entries to
// pairs (errNotStrings otherwise).
func appendStrings(pairs []stringPair, src []byte) ([]stringPair, error) {
	b := src
	if len(b) < len(gobMapType) || string(b[:len(gobMapType)]) != gobMapType {
		return nil, errNotStrings
	}
	b = b[len(gobMapType):]
	n, b, ok := readUint(b)
	if !ok || n != uint64(len(b)) || len(b) < len(gobValuePrefix) || string(b[:len(gobValuePrefix)]) != gobValuePrefix {
		return nil, errNotStrings
	}
	b = b[len(gobValuePrefix):]
	count, b, ok := readUint(b)
	if !ok || count > uint64(len(b)) {
		return nil, errNotStrings
	}
	off := func(rest []byte) int { return len(src) - len(rest) }
	for range count {
		var kv stringPair
		var k, v []byte
		if k, b, ok = readIface(b); !ok {
			return nil, errNotStrings
		}
		kv.k0 = off(b) - len(k)
		kv.k1 = kv.k0 + len(k)
		if v, b, ok = readIface(b); !ok {
			return nil, errNotStrings
		}
		kv.v0 = off(b) - len(v)
		kv.v1 = kv.v0 + len(v)
		pairs = append(pairs, kv)
	}
	if len(b) != 0 {
		return nil, errNotStrings
	}
	return pairs, nil
}

// An interface value holding a string: the type name and id, the value's byte count, the
// singleton field delta 0, the string's length and bytes.
func ifaceLen(s string) int {
	inner := 1 + uintLen(uint64(len(s))) + len(s)
	return len(gobStringName) + uintLen(uint64(inner)) + inner
}

func appendIface(b []byte, s string) []byte {
	b = append(b, gobStringName...)
	b = appendUint(b, uint64(1+uintLen(uint64(len(s)))+len(s)))
	b = append(b, 0)
	b = appendUint(b, uint64(len(s)))
	return append(b, s...)
}

// readIface reads an interface value holding a string: the string's bytes (the end of b's
// string field: what follows them is rest) and rest.
func readIface(b []byte) ([]byte, []byte, bool) {
	if len(b) < len(gobStringName) || string(b[:len(gobStringName)]) != gobStringName {
		return nil, nil, false
	}
	b = b[len(gobStringName):]
	inner, b, ok := readUint(b)
	if !ok || inner > uint64(len(b)) {
		return nil, nil, false
	}
	v, rest := b[:inner], b[inner:]
	if len(v) == 0 || v[0] != 0 {
		return nil, nil, false
	}
	n, s, ok := readUint(v[1:])
	if !ok || n != uint64(len(s)) {
		return nil, nil, false
	}
	return s, rest, true
}

// gob's unsigned integers: below 128 one byte; else the byte count negated, then the bytes
// big-endian.
func uintLen(x uint64) int {
	if x < 128 {
		return 1
	}
	return 1 + (bits.Len64(x)+7)/8
}

func appendUint(b []byte, x uint64) []byte {
	if x < 128 {
		return append(b, byte(x))
	}
	n := (bits.Len64(x) + 7) / 8
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], x)
	b = append(b, byte(-n))
	return append(b, buf[8-n:]...)
}

func readUint(b []byte) (uint64, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	if b[0] < 128 {
		return uint64(b[0]), b[1:], true
	}
	n := int(-int8(b[0]))
	if n < 1 || n > 8 || len(b) < 1+n {
		return 0, nil, false
	}
	var x uint64
	for _, c := range b[1 : 1+n] {
		x = x<<8 | uint64(c)
	}
	if x < 128 || uintLen(x) != 1+n { // gob writes the shortest form only
		return 0, nil, false
	}
	return x, b[1+n:], true
}
