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
