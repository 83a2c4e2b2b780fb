package bridge

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// Rekey re-seals every value the store keeps sealed under the key-encryption key (the signing
// keys' and SAML keys' private keys, the installation secrets, the members' TOTP secrets) from
// oldKEK to newKEK, in one transaction: changing keys.encryption_key. It refuses, changing
// nothing, when oldKEK does not open every one of them. It returns how many it re-sealed.
// Every server on the store must be stopped first: one still running seals what it writes
// next (a rotated key, an enrolment) under the old key.
func Rekey(ctx context.Context, st store.Store, oldKEK, newKEK []byte) (int, error) {
	if len(oldKEK) != 32 || len(newKEK) != 32 {
		return 0, errors.New("store rekey: the old and the new key-encryption keys must be 32 bytes each")
	}
	if bytes.Equal(oldKEK, newKEK) {
		return 0, errors.New("store rekey: the new key-encryption key is the old one")
	}
	rs, ok := st.(store.Resealer)
	if !ok {
		return 0, fmt.Errorf("store rekey: this store (%T) cannot re-seal its values", st)
	}
	n, err := rs.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
		switch v.Kind {
		case store.SealedSigningKey:
			return sso.ResealPrivateKey(oldKEK, newKEK, v.Name, v.Value)
		case store.SealedSAMLKey:
			return saml.ResealKey(oldKEK, newKEK, v.Name, v.Value)
		case store.SealedSecret:
			return identity.ResealSecret(oldKEK, newKEK, v.Name, v.Value)
		case store.SealedTOTP:
			return mfa.ResealTOTP(oldKEK, newKEK, v.Name, v.Value)
		}
		return nil, fmt.Errorf("no way to re-seal a value of kind %q", v.Kind)
	})
	if err != nil {
		return 0, fmt.Errorf("store rekey: nothing was changed: %w", err)
	}
	return n, nil
}

// RekeyStore changes the store's key-encryption key to the configuration's
// keys.encryption_key (which must be set), from oldKEK (Rekey). On SQLite it holds the serve
// lock meanwhile: it refuses while a server runs on the store.
func RekeyStore(ctx context.Context, cfg Config, oldKEK []byte) (int, error) {
	if cfg.Keys.EncryptionKey == "" {
		return 0, errors.New("store rekey: set keys.encryption_key to the new key (the old one is given to the command)")
	}
	newKEK, err := base64.StdEncoding.DecodeString(cfg.Keys.EncryptionKey)
	if err != nil || len(newKEK) != 32 {
		return 0, errors.New("store rekey: keys.encryption_key is not base64 of 32 bytes")
	}
	unlock, err := holdServeLock(cfg.StoreConfig())
	if err != nil {
		return 0, fmt.Errorf("store rekey: stop the server first: %w", err)
	}
	defer unlock()
	if sc := cfg.StoreConfig(); sc.Type == "postgres" {
		// Replicas on PostgreSQL share no serve lock, but while any runs one of them holds the
		// key-rotation lease: refuse then, and hold the lease meanwhile so that none starts
		// rotating. A replica still running would seal what it writes next (a rotated key, a
		// TOTP enrolment) under the old key, a mixed store no second rekey can repair
		// (end-of-session review s13 RV3-3).
		node, err := cluster.ForStore(ctx, sc, slog.New(slog.DiscardHandler))
		if err != nil {
			return 0, fmt.Errorf("store rekey: %w", err)
		}
		defer node.Close()
		release, ok, err := node.TryLock(ctx, leaseKeys)
		if err != nil {
			return 0, fmt.Errorf("store rekey: %w", err)
		}
		if !ok {
			return 0, fmt.Errorf("store rekey: a server runs on this store (it holds the %s lease): stop every replica first; nothing was changed", leaseKeys)
		}
		defer release()
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	n, err := Rekey(ctx, st, oldKEK, newKEK)
	if err != nil {
		return n, err
	}
	// Recorded like the administration's changes (end-of-session review s13 RV3-8): who changed
	// keys.encryption_key and when is what an investigation after a compromise asks first.
	if aerr := st.Audit(ctx, &store.AuditEvent{Time: time.Now(), Event: "store.rekeyed",
		Detail: fmt.Sprintf("by cli: %d sealed values re-sealed under the new keys.encryption_key", n)}); aerr != nil {
		return n, fmt.Errorf("store rekey: re-sealed %d values, but the audit line could not be written: %w", n, aerr)
	}
	return n, nil
}
