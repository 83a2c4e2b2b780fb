package session

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/securecookie"
)

// sealer is the cookie's codec: gorilla securecookie's format, byte for byte, with its keys and
// limits as sessions.NewCookieStore sets them (HMAC-SHA256, AES-CTR with a random IV, values up
// to 4096 characters, cookies up to 30 days old), so cookies written by securecookie, by
// earlier versions and by other replicas, are read, and they read these. It does the same work
// with fewer allocations: securecookie keys a new HMAC (two SHA-256 blocks) for every Encode and
// Decode, formats the MAC input with fmt.Sprintf and copies the value between five buffers; the
// sealer keeps keyed HMACs in a pool and builds each cookie in one buffer.
//
// securecookie's format: base64url(date "|" base64url(iv || AES-CTR(serialized)) "|" mac),
// where mac is HMAC-SHA256 over name "|" date "|" base64url(iv || ciphertext), base64 with
// padding, date in Unix seconds.
type sealer struct {
	block cipher.Block
	macs  sync.Pool // *pooledMAC: HMAC-SHA256 under the hash key
	now   func() time.Time
}

// The limits securecookie applies by default (sessions.NewCookieStore keeps them: the cookie
// store's MaxAge, 30 days, is securecookie's own default).
const (
	sealMaxLength = 4096
	sealMaxAge    = 86400 * 30
)

var (
	errSealTooLong = errors.New("session: cookie value too long")
	errSealMAC     = securecookie.ErrMacInvalid
	errSealDate    = errors.New("session: cookie timestamp invalid or expired")
	errSealDecrypt = errors.New("session: cookie decryption failed")
)

// newSealer is the codec for hashKey and blockKey; nil when securecookie would not use them as
// given (no hash key, a block key that is no AES key): the store keeps securecookie's codec and
// its errors then.
func newSealer(hashKey, blockKey []byte) *sealer {
	if len(hashKey) == 0 {
		return nil
	}
	block, err := aes.NewCipher(blockKey)
	if err != nil {
		return nil
	}
	s := &sealer{block: block, now: time.Now}
	s.macs.New = newMACPool(hashKey)
	return s
}

var b64 = base64.URLEncoding

// mac appends to dst the MAC of name "|" body (body: date "|" encrypted value).
func (s *sealer) mac(dst []byte, name string, body []byte) []byte {
	m := s.macs.Get().(*pooledMAC)
	m.h.Reset()
	m.buf = append(append(m.buf[:0], name...), '|')
	m.h.Write(m.buf)
	m.h.Write(body)
	m.buf = m.h.Sum(m.buf[:0])
	dst = append(dst, m.buf...)
	s.macs.Put(m)
	return dst
}

// pooledMAC is a keyed HMAC and a buffer for what it is given (a slice handed to the hash
// through its interface escapes: a buffer kept with it is not allocated per call).
type pooledMAC struct {
	h   hash.Hash
	buf []byte
}

func newMACPool(key []byte) func() any {
	key = bytes.Clone(key)
	return func() any { return &pooledMAC{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)} }
}

// Encode seals value (the session's map) for the cookie name.
func (s *sealer) Encode(name string, value interface{}) (string, error) {
	plain, err := gobStrings{}.Serialize(value)
	if err != nil {
		return "", err
	}
	bs := s.block.BlockSize()
	ivct := make([]byte, bs+len(plain))
	if _, err := rand.Read(ivct[:bs]); err != nil {
		return "", err
	}
	cipher.NewCTR(s.block, ivct[:bs]).XORKeyStream(ivct[bs:], plain)

	date := strconv.AppendInt(make([]byte, 0, 20), s.now().UTC().Unix(), 10)
	// body: date "|" base64(ivct) "|" mac, built in place, then base64 of all of it.
	bodyLen := len(date) + 1 + b64.EncodedLen(len(ivct))
	body := make([]byte, bodyLen, bodyLen+1+sha256.Size)
	n := copy(body, date)
	body[n] = '|'
	b64.Encode(body[n+1:], ivct)
	macd := s.mac(append(body, '|'), name, body)
	out := make([]byte, b64.EncodedLen(len(macd)))
	b64.Encode(out, macd)
	if len(out) > sealMaxLength {
		return "", errSealTooLong
	}
	return string(out), nil
}

// Decode opens a cookie sealed for name into dst (a *map[interface{}]interface{}).
func (s *sealer) Decode(name, value string, dst interface{}) error {
	if len(value) > sealMaxLength {
		return errSealTooLong
	}
	b := make([]byte, b64.DecodedLen(len(value)))
	n, err := b64.Decode(b, []byte(value))
	if err != nil {
		return err
	}
	b = b[:n]
	// date "|" value "|" mac; the mac may contain '|'.
	i := bytes.IndexByte(b, '|')
	if i < 0 {
		return errSealMAC
	}
	j := bytes.IndexByte(b[i+1:], '|')
	if j < 0 {
		return errSealMAC
	}
	j += i + 1
	var sum [sha256.Size]byte
	want := s.mac(sum[:0], name, b[:j])
	if got := b[j+1:]; len(got) != len(want) || subtle.ConstantTimeCompare(got, want) != 1 {
		return errSealMAC
	}
	t1, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil || t1 < s.now().UTC().Unix()-sealMaxAge {
		return errSealDate
	}
	enc := b[i+1 : j]
	ivct := make([]byte, b64.DecodedLen(len(enc)))
	n, err = b64.Decode(ivct, enc)
	if err != nil {
		return err
	}
	ivct = ivct[:n]
	bs := s.block.BlockSize()
	if len(ivct) <= bs {
		return errSealDecrypt
	}
	plain := ivct[bs:]
	cipher.NewCTR(s.block, ivct[:bs]).XORKeyStream(plain, plain)
	return gobStrings{}.Deserialize(plain, dst)
}
