package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Purposes of sealed values: a value sealed for one purpose never opens as another (all share
// the provider's AES-GCM key with op's codes and access tokens).
const (
	sealLogout  = "ssobridge/logout-ticket/v1"
	sealHandoff = "ssobridge/handoff-ticket/v1"
)

// seal encrypts v (JSON) for one purpose, for use in URLs and forms.
func (s *Server) seal(purpose string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	sealed, err := s.provider.Crypto().Encrypt(purpose + "\n" + string(b))
	if err != nil {
		return "", fmt.Errorf("seal %s: %w", purpose, err)
	}
	return sealed, nil
}

var errSealed = errors.New("sealed value invalid")

// unseal decrypts a value sealed for purpose into v.
func (s *Server) unseal(purpose, raw string, v any) error {
	if raw == "" || len(raw) > 8192 {
		return errSealed
	}
	plain, err := s.provider.Crypto().Decrypt(raw)
	if err != nil {
		return errSealed
	}
	body, ok := strings.CutPrefix(plain, purpose+"\n")
	if !ok {
		return errSealed
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		return errSealed
	}
	return nil
}
