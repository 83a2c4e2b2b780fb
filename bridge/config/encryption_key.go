package config

import (
	"encoding/base64"
	"errors"
	"strings"
)

// DecodeEncryptionKey is the one rule for a key-encryption key wherever it is given:
// keys.encryption_key (serve's check, the server's set-up, store rekey's new key), the data
// directory's generated key file and store rekey's old key (review s14 RV2-6: three decoders,
// only one trimmed). It is base64 (standard alphabet, padded) of exactly 32 bytes, with any
// spaces or line ends around it: a value pasted from `openssl rand -base64 32` or read from a
// file or an environment variable keeps its line end.
func DecodeEncryptionKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(key) != 32 {
		return nil, errors.New("does not hold base64 of 32 bytes")
	}
	return key, nil
}
