package bridge

import (
	"log/slog"
	"time"

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
