package rsasign

import (
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
)

// ErrUnavailable is Open's answer when this build or machine cannot load libcrypto 3.
var ErrUnavailable = errors.New("rsasign: OpenSSL 3 libcrypto is not available")

// DigestSize is the length of the SHA-256 digest Sign takes.
const DigestSize = 32

// maxIdle is how many prepared signing contexts a key keeps between signatures: one per core
// that may be signing at once is enough; more are made and freed under a burst.
const maxIdle = 8

// verify checks sig over digest with the key's public half, as crypto/rsa checks its own
// signatures before returning them.
func verify(pub *rsa.PublicKey, digest, sig []byte) error {
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
		return fmt.Errorf("rsasign: OpenSSL's signature does not verify: %w", err)
	}
	return nil
}
