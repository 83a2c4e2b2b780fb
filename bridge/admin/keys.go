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
	// Signing: it signs its algorithm's tokens now (on the server that answers: not a key
	// its libcrypto refused).
	Signing bool `json:"signing"`
	// OpenSSLRefused: under keys.rsa_signer: openssl the libcrypto of the server that answers
	// refused the key (its self-test failed; the error is in that server's log), so it signs
	// nothing there and the key marked Signing signs instead (sso.KeyInfo.OpenSSLRefused).
	// The CLI, which holds no keys, never says so.
	OpenSSLRefused bool `json:"openssl_refused,omitempty"`
}

func signingKey(k sso.KeyInfo) SigningKey {
	return SigningKey{ID: k.ID, Algorithm: k.Algorithm, SignsFrom: k.Created, SignsUntil: k.SignUntil,
		InJWKSUntil: k.PublishedUntil, Signing: k.Signing, OpenSSLRefused: k.OpenSSLRefused}
}

// SigningKeys lists the published signing keys, oldest first; the read is audited
// (admin.signing_keys_list), as the other reads of the administration are.
func (a *Service) SigningKeys(ctx context.Context, actor string) ([]SigningKey, error) {
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
	a.record(ctx, actor, "admin.signing_keys_list", "", "", fmt.Sprintf("(%d)", len(out)))
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
	if err := retireRefused(err, "signing key", kid); err != nil {
		return nil, err
	}
	detail := "kid=" + kid
	var out *SigningKey
	if succ != nil {
		k := signingKey(*succ)
		out = &k
		detail += " successor=" + k.ID + " alg=" + k.Algorithm
	}
	a.withdrawn(ctx, actor, "admin.signing_key_retired", kid, detail, err)
	return out, nil
}

// retireRefused is the administration's error for a key manager's answer to a withdrawal:
// nil when the key is withdrawn (err nil, or sso.ErrRetiredNotReloaded: only this process's
// reload failed afterwards).
func retireRefused(err error, what, kid string) error {
	switch {
	case err == nil, errors.Is(err, sso.ErrRetiredNotReloaded):
		return nil
	case errors.Is(err, sso.ErrNotFound):
		return fmt.Errorf("%w: no published %s %q", ErrNotFound, what, kid)
	case errors.Is(err, sso.ErrOtherEncryptionKey):
		return fmt.Errorf("%w: the %s %s was left as it is; withdraw it with the servers' configuration", ErrOtherEncryptionKey, what, kid)
	case errors.Is(err, sso.ErrSuccessorRefused):
		return fmt.Errorf("admin: withdraw %s %s: %w", what, kid, err)
	default:
		return fmt.Errorf("admin: withdraw %s %s: %w", what, kid, err)
	}
}

// ErrSuccessorRefused is a withdrawal refused under keys.rsa_signer: openssl because this
// server's libcrypto refuses the successor it made (the HTTP API answers 409): nothing was
// changed, the key still signs (review s26 R1-4).
var ErrSuccessorRefused = sso.ErrSuccessorRefused

// ErrOtherEncryptionKey is a withdrawal refused because this process's keys.encryption_key does
// not open the key (the HTTP API answers 409): nothing was changed.
var ErrOtherEncryptionKey = sso.ErrOtherEncryptionKey

// withdrawn tells every replica that a key was withdrawn and records it (event, detail);
// reloadErr, if any, is this process's reload afterwards, which failed.
func (a *Service) withdrawn(ctx context.Context, actor, event, kid, detail string, reloadErr error) {
	if a.Changes != nil {
		if nerr := a.Changes.Notify(ctx, cluster.TopicKeys); nerr != nil {
			a.log().WarnContext(ctx, "admin: key withdrawn, but the replicas could not be told; they reload at their next check", "kid", kid, "err", nerr)
		}
	}
	a.record(ctx, actor, event, "", "", detail)
	if reloadErr != nil {
		a.log().ErrorContext(ctx, "admin: key withdrawn; reloading this process's keys failed", "kid", kid, "err", reloadErr)
	}
}

// SAMLKeyManager lists and withdraws the SAML identity provider's signing keys (bridge/saml's
// KeyRing, the server's own or one opened on the store for the CLI).
type SAMLKeyManager interface {
	SAMLKeys(ctx context.Context) ([]SAMLSigningKey, error)
	// RetireSAMLKey withdraws the key now (saml.KeyRing Retire): the successor, nil when none
	// was needed; sso.ErrNotFound, sso.ErrOtherEncryptionKey and sso.ErrRetiredNotReloaded as
	// sso.KeyManager's Retire.
	RetireSAMLKey(ctx context.Context, kid string) (*SAMLSigningKey, error)
}

// SAMLSigningKey is a SAML signing key published in the IdP's metadata.
type SAMLSigningKey struct {
	ID string `json:"kid"`
	// SignsFrom and SignsUntil bound when it signs; InMetadataUntil is when it leaves the
	// metadata.
	SignsFrom       time.Time `json:"signs_from"`
	SignsUntil      time.Time `json:"signs_until"`
	InMetadataUntil time.Time `json:"in_metadata_until"`
	// Signing: it signs the IdP's responses and requests now (on the server that answers: an
	// older key signs there in place of a later one its OpenSSL refused).
	Signing bool `json:"signing"`
	// OpenSSLRefused: under keys.rsa_signer: openssl the libcrypto of the server that answers
	// refused the key (its self-test failed; the error is in that server's log): an older key
	// that still signs signs there in its place, else whatever it signs there fails, until the
	// test, run again at each reload, passes.
	OpenSSLRefused bool `json:"openssl_refused,omitempty"`
	// CertificateSHA256 is its certificate's SHA-256 fingerprint (AB:CD:...), as SPs show it.
	CertificateSHA256 string `json:"certificate_sha256"`
}

// SAMLSigningKeys lists the SAML signing keys in the metadata, oldest first; the read is
// audited (admin.saml_signing_keys_list).
func (a *Service) SAMLSigningKeys(ctx context.Context, actor string) ([]SAMLSigningKey, error) {
	if a.SAMLKeyManager == nil {
		return nil, fmt.Errorf("%w: the SAML signing keys are not managed here", ErrInvalid)
	}
	list, err := a.SAMLKeyManager.SAMLKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: saml signing keys: %w", err)
	}
	a.record(ctx, actor, "admin.saml_signing_keys_list", "", "", fmt.Sprintf("(%d)", len(list)))
	return list, nil
}

// RetireSAMLSigningKey withdraws the SAML signing key kid now (its private key may be out): it
// signs no more and leaves the metadata at once; when it signed, a successor signs from now,
// and SPs refuse the IdP's responses until they read its metadata again. Every replica is told
// (TopicKeys); it is audited (admin.saml_signing_key_retired). It returns the successor, nil
// when none was needed.
func (a *Service) RetireSAMLSigningKey(ctx context.Context, actor, kid string) (*SAMLSigningKey, error) {
	if a.SAMLKeyManager == nil {
		return nil, fmt.Errorf("%w: the SAML signing keys are not managed here", ErrInvalid)
	}
	if kid == "" {
		return nil, fmt.Errorf("%w: the key id (kid) is required", ErrInvalid)
	}
	succ, err := a.SAMLKeyManager.RetireSAMLKey(ctx, kid)
	if err := retireRefused(err, "SAML signing key", kid); err != nil {
		return nil, err
	}
	detail := "kid=" + kid
	if succ != nil {
		detail += " successor=" + succ.ID + " sha256=" + succ.CertificateSHA256
	}
	a.withdrawn(ctx, actor, "admin.saml_signing_key_retired", kid, detail, err)
	return succ, nil
}

func (a *Service) httpSigningKeys(w http.ResponseWriter, r *http.Request) {
	list, err := a.SigningKeys(r.Context(), actor(r))
	a.answer(w, r, http.StatusOK, map[string]any{"keys": list}, err)
}

func (a *Service) httpRetireSigningKey(w http.ResponseWriter, r *http.Request) {
	kid := r.PathValue("kid")
	succ, err := a.RetireSigningKey(r.Context(), actor(r), kid)
	a.answer(w, r, http.StatusOK, map[string]any{"retired": kid, "successor": succ}, err)
}

func (a *Service) httpSAMLSigningKeys(w http.ResponseWriter, r *http.Request) {
	list, err := a.SAMLSigningKeys(r.Context(), actor(r))
	a.answer(w, r, http.StatusOK, map[string]any{"keys": list}, err)
}

func (a *Service) httpRetireSAMLSigningKey(w http.ResponseWriter, r *http.Request) {
	kid := r.PathValue("kid")
	succ, err := a.RetireSAMLSigningKey(r.Context(), actor(r), kid)
	a.answer(w, r, http.StatusOK, map[string]any{"retired": kid, "successor": succ}, err)
}
