package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/sso"
)

// SigningKeyManager lists and withdraws the provider's signing keys (sso.KeyManager: the
// server's own, or one opened on the store for the CLI).
type SigningKeyManager interface {
	Keys(ctx context.Context) ([]sso.KeyInfo, error)
	Retire(ctx context.Context, kid string) (*sso.KeyInfo, error)
}

// SigningKey is a published signing key as the administration shows it.
type SigningKey struct {
	ID        string `json:"kid"`
	Algorithm string `json:"alg"`
	// SignsFrom and SignsUntil bound when it signs; InJWKSUntil is when it leaves JWKS (tokens
	// it signed verify until then).
	SignsFrom   time.Time `json:"signs_from"`
	SignsUntil  time.Time `json:"signs_until"`
	InJWKSUntil time.Time `json:"in_jwks_until"`
	// Signing: it signs its algorithm's tokens now.
	Signing bool `json:"signing"`
}

func signingKey(k sso.KeyInfo) SigningKey {
	return SigningKey{ID: k.ID, Algorithm: k.Algorithm, SignsFrom: k.Created, SignsUntil: k.SignUntil,
		InJWKSUntil: k.PublishedUntil, Signing: k.Signing}
}

// SigningKeys lists the published signing keys, oldest first.
func (a *Service) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	if a.SigningKeyManager == nil {
		return nil, fmt.Errorf("%w: the signing keys are not managed here", ErrInvalid)
	}
	list, err := a.SigningKeyManager.Keys(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: signing keys: %w", err)
	}
	out := make([]SigningKey, 0, len(list))
	for _, k := range list {
		out = append(out, signingKey(k))
	}
	return out, nil
}

// RetireSigningKey withdraws the signing key kid now (its private key may be out): it signs no
// more and leaves JWKS at once, tokens it signed stop verifying at this provider, and a
// successor of its algorithm signs from now when it was the key that signed (sso.KeyManager
// Retire). Every replica is told (TopicKeys); it is audited. It returns the successor, nil when
// none was needed.
func (a *Service) RetireSigningKey(ctx context.Context, actor, kid string) (*SigningKey, error) {
	if a.SigningKeyManager == nil {
		return nil, fmt.Errorf("%w: the signing keys are not managed here", ErrInvalid)
	}
	if kid == "" {
		return nil, fmt.Errorf("%w: the key id (kid) is required", ErrInvalid)
	}
	succ, err := a.SigningKeyManager.Retire(ctx, kid)
	switch {
	case errors.Is(err, sso.ErrNotFound):
		return nil, fmt.Errorf("%w: no published signing key %q", ErrNotFound, kid)
	case err != nil && !errors.Is(err, sso.ErrRetiredNotReloaded):
		return nil, fmt.Errorf("admin: retire signing key: %w", err)
	}
	// Withdrawn (err, if any, is this process's reload): tell every replica and record it.
	if a.Changes != nil {
		if nerr := a.Changes.Notify(ctx, cluster.TopicKeys); nerr != nil {
			a.log().WarnContext(ctx, "admin: signing key withdrawn, but the replicas could not be told; they reload at their next check", "err", nerr)
		}
	}
	detail := "kid=" + kid
	var out *SigningKey
	if succ != nil {
		k := signingKey(*succ)
		out = &k
		detail += " successor=" + k.ID + " alg=" + k.Algorithm
	}
	a.record(ctx, actor, "admin.signing_key_retired", "", "", detail)
	if err != nil {
		a.log().ErrorContext(ctx, "admin: signing key withdrawn; reloading this process's keys failed", "kid", kid, "err", err)
	}
	return out, nil
}

func (a *Service) httpSigningKeys(w http.ResponseWriter, r *http.Request) {
	list, err := a.SigningKeys(r.Context())
	a.answer(w, r, http.StatusOK, map[string]any{"keys": list}, err)
}

func (a *Service) httpRetireSigningKey(w http.ResponseWriter, r *http.Request) {
	kid := r.PathValue("kid")
	succ, err := a.RetireSigningKey(r.Context(), actor(r), kid)
	a.answer(w, r, http.StatusOK, map[string]any{"retired": kid, "successor": succ}, err)
}
