package bridge

import (
	"bytes"
	"context"
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
	// refused is a value the old key does not open (or that cannot be re-sealed): the
	// transaction then rolls back before its commit, so nothing was changed.
	var refused error
	n, err := rs.Reseal(ctx, func(v store.SealedValue) ([]byte, error) {
		sealed, err := reseal(oldKEK, newKEK, v)
		if err != nil {
			refused = err
		}
		return sealed, err
	})
	switch {
	case err != nil && refused != nil:
		return 0, fmt.Errorf("store rekey: nothing was changed: %w", err)
	case err != nil:
		// The store failed: before its commit nothing was changed; at its commit it cannot
		// say. The re-seal is one transaction: all or nothing.
		return 0, fmt.Errorf("store rekey: the store failed (%w); if it failed at the commit, the change may have been made: "+
			"run this command again: it re-seals every value if the change was not made, and refuses (the old key opening "+
			"none of them) if it was", err)
	}
	return n, nil
}

// errOldKeyOpensNot is a sealed value the old key-encryption key does not open.
var errOldKeyOpensNot = errors.New("the old key-encryption key does not open it")

// reseal re-seals v from oldKEK to newKEK by the code that sealed it.
func reseal(oldKEK, newKEK []byte, v store.SealedValue) ([]byte, error) {
	switch v.Kind {
	case store.SealedSigningKey:
		return sso.ResealPrivateKey(oldKEK, newKEK, v.Name, v.Value)
	case store.SealedSAMLKey:
		return saml.ResealKey(oldKEK, newKEK, v.Name, v.Value)
	case store.SealedSecret, store.SealedTOTP:
		f := identity.ResealSecret
		if v.Kind == store.SealedTOTP {
			f = mfa.ResealTOTP
		}
		sealed, err := f(oldKEK, newKEK, v.Name, v.Value)
		if errors.Is(err, identity.ErrSecretKey) {
			// ErrSecretKey's words are for a server whose configured key opens nothing
			// ("was keys.encryption_key changed?"); here the old key given to rekey is wrong.
			return nil, errOldKeyOpensNot
		}
		return sealed, err
	}
	return nil, fmt.Errorf("no way to re-seal a value of kind %q", v.Kind)
}

// RekeyStore changes the store's key-encryption key to the configuration's
// keys.encryption_key (which must be set), from oldKEK (Rekey). On SQLite it holds the serve
// lock meanwhile: it refuses while a server runs on the store.
func RekeyStore(ctx context.Context, cfg Config, oldKEK []byte) (int, error) {
	if cfg.Keys.EncryptionKey == "" {
		return 0, errors.New("store rekey: set keys.encryption_key to the new key (the old one is given to the command)")
	}
	newKEK, err := ParseKeyEncryptionKey([]byte(cfg.Keys.EncryptionKey))
	if err != nil {
		return 0, fmt.Errorf("store rekey: keys.encryption_key %w", err)
	}
	unlock, err := holdServeLock(cfg.StoreConfig())
	var locked *serveLockedError
	if errors.As(err, &locked) {
		return 0, fmt.Errorf("store rekey: a server (pid %s) runs on this SQLite store (%s is locked): stop it first; nothing was changed", locked.pid, locked.path)
	}
	if err != nil {
		return 0, fmt.Errorf("store rekey: %w", err)
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
