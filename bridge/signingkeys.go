package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/internal/rsasign"
	"github.com/ssobridge/ssobridge/sso"
)

// signingKeyConfig is how the provider keeps its signing keys (keys.*): the same for the
// server and for the administration that lists and withdraws them (OpenAdmin), so that both
// agree on which keys are published and until when. kek seals their private keys.
func signingKeyConfig(cfg Config, kek []byte, log *slog.Logger) sso.KeyConfig {
	// A retired key stays published as long as anything it signed is valid.
	maxLife := max(cfg.Tokens.IDToken, cfg.Tokens.AccessToken) + time.Hour
	return sso.KeyConfig{Algorithms: cfg.Keys.Algorithms, RotateEvery: cfg.Keys.RotateEvery,
		MaxTokenLifetime: maxLife, EncryptionKey: kek, Logger: log}
}

// openRSASigner opens what keys.rsa_signer asks to make RSA signatures with (RS256 ID, access
// and logout tokens; the SAML keys' signatures): libcrypto
// (internal/rsasign) for "openssl" (an error without it) and "auto" (crypto/rsa without it),
// nothing for "go". The log says why crypto/rsa signs; logRSASigner, once the keys have tried
// libcrypto, says which does.
func openRSASigner(ctx context.Context, mode string, log *slog.Logger) (*rsasign.Library, error) {
	return openRSASignerWith(ctx, mode, log, rsasign.Open)
}

// openRSASignerWith is openRSASigner with libcrypto opened by open.
func openRSASignerWith(ctx context.Context, mode string, log *slog.Logger, open func() (*rsasign.Library, error)) (*rsasign.Library, error) {
	if mode == "go" {
		log.InfoContext(ctx, "RS256 signs with Go's crypto/rsa", "keys.rsa_signer", mode)
		return nil, nil
	}
	lib, err := open()
	if err != nil {
		if mode == "openssl" {
			return nil, fmt.Errorf("keys.rsa_signer: openssl: %w", err)
		}
		log.InfoContext(ctx, "RS256 signs with Go's crypto/rsa", "keys.rsa_signer", "auto", "reason", err.Error())
		return nil, nil
	}
	return lib, nil
}

// NoOpenSSLReason is why this process cannot open OpenSSL 3's libcrypto, when err is a
// withdrawal refused for want of it (sso.ErrNoOpenSSL: the CLI's keys retire under
// keys.rsa_signer: openssl); nil for any other error (review s28 R8-10).
func NoOpenSSLReason(err error) error {
	if !errors.Is(err, sso.ErrNoOpenSSL) {
		return nil
	}
	if _, oerr := rsasign.Open(); oerr != nil {
		return oerr
	}
	return nil
}

// logRSASigner says what signs RS256 tokens, once the key manager has self-tested its keys
// with libcrypto (lib non-nil): OpenSSL, or crypto/rsa after the key's warning. A key loaded
// later is self-tested then and logs its own warning (error under "openssl") if it fails.
func logRSASigner(ctx context.Context, mode string, lib *rsasign.Library, keys *sso.KeyManager, log *slog.Logger) {
	if lib == nil {
		return
	}
	if keys.OpenSSLSigns() {
		log.InfoContext(ctx, "RS256 signs through OpenSSL", "keys.rsa_signer", cmp.Or(mode, "auto"), "libcrypto", lib.Version())
		return
	}
	log.InfoContext(ctx, "RS256 signs with Go's crypto/rsa", "keys.rsa_signer", cmp.Or(mode, "auto"),
		"reason", "libcrypto "+lib.Version()+" failed its self-test with the key (warning above)")
}

// logSAMLSigner says at start-up what signs the SAML key that signs now: OpenSSL, or crypto/rsa
// and why (keys.rsa_signer: go, no libcrypto, or the key refused under auto).
func logSAMLSigner(ctx context.Context, mode string, lib *rsasign.Library, ring *saml.KeyRing, log *slog.Logger) {
	err := ring.OpenSSLSigns()
	if err == nil {
		log.InfoContext(ctx, "SAML signs through OpenSSL", "keys.rsa_signer", cmp.Or(mode, "auto"), "libcrypto", lib.Version())
		return
	}
	log.InfoContext(ctx, "SAML signs with Go's crypto/rsa", "keys.rsa_signer", cmp.Or(mode, "auto"), "reason", err.Error())
}

// samlKeyAdmin is the SAML key ring as the administration lists and withdraws its keys
// (admin.SAMLKeyManager): the server's ring, or one opened on the store (OpenAdmin).
type samlKeyAdmin struct{ ring *saml.KeyRing }

func samlSigningKey(k saml.KeyInfo) admin.SAMLSigningKey {
	return admin.SAMLSigningKey{ID: k.ID, SignsFrom: k.Created, SignsUntil: k.SignUntil, InMetadataUntil: k.PublishedUntil,
		Signing: k.Signing, OpenSSLRefused: k.OpenSSLRefused, CertificateSHA256: k.CertSHA256}
}

func (s samlKeyAdmin) SAMLKeys(ctx context.Context) ([]admin.SAMLSigningKey, error) {
	list, err := s.ring.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.SAMLSigningKey, 0, len(list))
	for _, k := range list {
		out = append(out, samlSigningKey(k))
	}
	return out, nil
}

func (s samlKeyAdmin) RetireSAMLKey(ctx context.Context, kid string) (*admin.SAMLSigningKey, error) {
	succ, err := s.ring.Retire(ctx, kid)
	if succ == nil {
		return nil, err
	}
	k := samlSigningKey(*succ)
	return &k, err
}
