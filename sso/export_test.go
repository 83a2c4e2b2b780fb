package sso

import (
	"crypto/rsa"
	"io"
	"time"
)

// SetKeyClock replaces the key manager's clock in tests.
func SetKeyClock(m *KeyManager, now func() time.Time) { m.now = now }

// AccessID is what an access token id encodes, for the fuzz tests of the id parser.
type AccessID = AccessToken

// EncodeAccessID and DecodeAccessID expose the access token id codec to tests.
func EncodeAccessID(at *AccessToken) (string, error) { return encodeAccessID(at) }

// encodeAccessID returns the id of at, as issuing makes it (appendAccessIDFields, then
// accessID). It leaves at.IDHash alone: issuing a token needs no hash of its id (revocation and
// the checks of a presented token do: decodeAccessID sets it).
func encodeAccessID(at *AccessToken) (string, error) {
	var stack [1024]byte
	b, err := appendAccessIDFields(stack[:0], at)
	if err != nil {
		return "", err
	}
	return accessID("", b), nil
}
func DecodeAccessID(id string) (*AccessToken, error) { return decodeAccessID(id) }

// ParseRefreshToken exposes the refresh token parser to tests.
func ParseRefreshToken(token string) (string, int64, bool) { return parseRefreshToken(token) }

// OpenSSLForTest is openSSL (jws_openssl_internal_test.go) for the external tests: libcrypto,
// or a skip where this build or machine has none (CI must have it).
var OpenSSLForTest = openSSL

// SetRSAKeyGenerator replaces how the key manager makes RS256 keys in tests (a key libcrypto
// refuses: six primes).
func SetRSAKeyGenerator(m *KeyManager, gen func(random io.Reader, bits int) (*rsa.PrivateKey, error)) {
	m.genRSA = gen
}
