package bridge

import (
	"context"
	"log/slog"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/saml"
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

// samlKeyAdmin is the SAML key ring as the administration lists and withdraws its keys
// (admin.SAMLKeyManager): the server's ring, or one opened on the store (OpenAdmin).
type samlKeyAdmin struct{ ring *saml.KeyRing }

func samlSigningKey(k saml.KeyInfo) admin.SAMLSigningKey {
	return admin.SAMLSigningKey{ID: k.ID, SignsFrom: k.Created, SignsUntil: k.SignUntil, InMetadataUntil: k.PublishedUntil,
		Signing: k.Signing, CertificateSHA256: k.CertSHA256}
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
