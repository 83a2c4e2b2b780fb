package identity

import "bytes"

// SealValue seals a value stored in the database (a member's TOTP secret) with the
// key-encryption key, bound to name (the additional data): a copy of the database alone opens
// none, and a sealed value moved under another name does not open.
func SealValue(kek []byte, name string, value []byte) ([]byte, error) {
	body, err := sealSecret(kek, name, value)
	if err != nil {
		return nil, err
	}
	return body, nil
}

// OpenValue opens what SealValue sealed under name (ErrSecretKey when it does not open).
func OpenValue(kek []byte, name string, sealed []byte) ([]byte, error) {
	body, ok := bytes.CutPrefix(sealed, sealedSecretPrefix)
	if !ok {
		return nil, ErrSecretKey
	}
	return openSealedSecret(kek, name, body)
}

// ResealValue opens what SealValue sealed under name with oldKEK and seals it again with
// newKEK (changing keys.encryption_key); ErrSecretKey when oldKEK does not open it.
func ResealValue(oldKEK, newKEK []byte, name string, sealed []byte) ([]byte, error) {
	v, err := OpenValue(oldKEK, name, sealed)
	if err != nil {
		return nil, err
	}
	return SealValue(newKEK, name, v)
}

// ResealSecret is ResealValue for an installation secret as stored (OpenSecrets): one kept in
// plaintext by an early version is returned as it is (it is sealed, under the key then
// configured, at its next read).
func ResealSecret(oldKEK, newKEK []byte, name string, stored []byte) ([]byte, error) {
	if !bytes.HasPrefix(stored, sealedSecretPrefix) {
		return stored, nil
	}
	return ResealValue(oldKEK, newKEK, name, stored)
}
