package sso

// SealKeyForTest seals a private key's PKCS #8 DER for the store as the key manager does (the
// key id bound in), for tests that store a key made elsewhere (another replica's).
func SealKeyForTest(kek, der []byte, kid string) ([]byte, error) { return seal(kek, der, []byte(kid)) }
