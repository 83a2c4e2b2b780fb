package identity

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Purposes of sealed values: a value sealed for one purpose never opens as another (all share
// the provider's AES-GCM key with op's codes and access tokens).
const (
	PurposeLogout  = "ssobridge/logout-ticket/v1"
	PurposeHandoff = "ssobridge/handoff-ticket/v1"
)

// ErrSealed: a sealed value does not open (tampered, another purpose, not sealed at all).
var ErrSealed = errors.New("sealed value invalid")

// Crypto is the provider's authenticated encryption (op.Crypto).
type Crypto interface {
	Encrypt(string) (string, error)
	Decrypt(string) (string, error)
}

// Sealer seals values (JSON) for one purpose, for use in URLs and forms.
type Sealer struct{ crypto Crypto }

// NewSealer seals with crypto, which must be authenticated encryption (the provider's,
// sso.NewCrypto): a sealed value is trusted as it opens, and only an AEAD refuses a changed one.
func NewSealer(crypto Crypto) *Sealer { return &Sealer{crypto: crypto} }

// Seal encrypts v (JSON) for purpose.
func (s *Sealer) Seal(purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := s.crypto.Encrypt(purpose + "\n" + string(b))
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", purpose, err)
	}
	return sealed, nil
}

// Unseal decrypts a value sealed for purpose into v; any failure is ErrSealed.
func (s *Sealer) Unseal(purpose, raw string, v any) error {
	if raw == "" || len(raw) > 8192 {
		return ErrSealed
	}
	plain, err := s.crypto.Decrypt(raw)
	if err != nil {
		return ErrSealed
	}
	body, ok := strings.CutPrefix(plain, purpose+"\n")
	if !ok {
		return ErrSealed
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return ErrSealed
	}
	return nil
}
