package sso

import "time"

// SetKeyClock replaces the key manager's clock in tests.
func SetKeyClock(m *KeyManager, now func() time.Time) { m.now = now }

// NewAEADCryptoForTest exposes the provider's symmetric crypto to tests.
func NewAEADCryptoForTest(key [32]byte) (interface {
	Encrypt(string) (string, error)
	Decrypt(string) (string, error)
}, error) {
	return newAEADCrypto(key)
}
