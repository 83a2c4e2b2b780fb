package sso

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/internal/rsasign"
)

// KeyConfig says which algorithms to keep keys for and how to rotate them.
type KeyConfig struct {
	// Algorithms to keep a current key for; RS256 is always included.
	Algorithms []string
	// RotateEvery is how long a key signs (default 30 days).
	RotateEvery time.Duration
	// Prepublish is how long before use a new key appears in JWKS (default 24 h).
	Prepublish time.Duration
	// MaxTokenLifetime is the longest lifetime of anything signed (ID tokens, JWT access
	// tokens, logout tokens): a retired key stays in JWKS that long after it stops signing.
	// A key made under a shorter one stays that long too (raising a lifetime extends the
	// stored retirement of every live key); a key made under a longer one keeps its own.
	MaxTokenLifetime time.Duration
	// EncryptionKey (32 bytes) encrypts private keys at rest (AES-256-GCM).
	EncryptionKey []byte
	// Logger receives key lifecycle events (default slog.Default()).
	Logger *slog.Logger
	// OpenSSL, when set, signs RS256 ID tokens, JWT access tokens and logout tokens (the
	// key's compact signers) through libcrypto: the same signatures, 2.5-3.3 times as fast as
	// crypto/rsa (internal/rsasign). Each RS256 key is self-tested with libcrypto when it is
	// loaded or made (Rotate, Reload: checkOpenSSL; not once past its sign_until), never at a
	// sign-in. A key libcrypto refuses is signed by crypto/rsa instead, with a warning; after
	// a signature libcrypto fails, crypto/rsa signs during a back-off (rsasign.Retry), then
	// libcrypto is tried again. Nil: crypto/rsa signs.
	OpenSSL *rsasign.Library
	// RequireOpenSSL (keys.rsa_signer: openssl): NewKeyManager fails when OpenSSL cannot sign
	// with the current RS256 key (its self-test: the same bytes as crypto/rsa), and a later
	// RS256 key that fails the self-test does not sign (SigningKey passes it over; an error is
	// logged, and the test runs again at each Rotate and Reload); a signature libcrypto fails
	// is an error, never crypto/rsa's, and the next one tries libcrypto again. Retire refuses a
	// withdrawal whose successor fails the self-test (ErrSuccessorRefused: nothing changed);
	// with OpenSSL nil (the administration, which could not open libcrypto), every withdrawal
	// that needs an RS256 successor (ErrNoOpenSSL). Otherwise it takes effect only with OpenSSL.
	RequireOpenSSL bool
}

// signingKey is a decrypted key ready to sign.
type signingKey struct {
	id        string
	alg       jose.SignatureAlgorithm
	private   crypto.Signer
	signUntil time.Time
	createdAt time.Time

	signerOnce sync.Once
	signer     jose.Signer
	signerErr  error

	tokenOnce sync.Once
	token     *tokenKey // what signs the compact signers' tokens (ID, access, logout)
	tokenErr  error

	compactOnce sync.Once
	compactSig  *compactSigner
	compactErr  error

	openssl  *rsasign.Library // KeyConfig.OpenSSL, for the compact signers of an RS256 key
	required bool             // KeyConfig.RequireOpenSSL
	log      *slog.Logger
	// opensslErr is why libcrypto's self-test with the key failed (nil: passed or not run),
	// written by tokenSigner's once and then only under KeyManager.loading (checkOpenSSL).
	opensslErr error
	// refused (KeyConfig.RequireOpenSSL): libcrypto failed its self-test with the key, which
	// therefore does not sign here (SigningKey passes it over); it is still published.
	refused atomic.Bool
	warned  bool // checkOpenSSL's warning was logged (under KeyManager.loading)

	typedMu      sync.Mutex
	typed        map[jose.ContentType]jose.Signer    // signers for other typ headers (at+jwt, logout+jwt)
	typedCompact map[jose.ContentType]*compactSigner // compact signers for them
}

// Signer is the key's JWS signer (typ JWT, kid set), built once and shared: a jose.Signer is
// safe for concurrent use, and building one per token showed in the refresh profile.
func (k *signingKey) Signer() (jose.Signer, error) {
	k.signerOnce.Do(func() { k.signer, k.signerErr = op.SignerFromKey(k) })
	return k.signer, k.signerErr
}

// tokenSigner is what signs the key's compact tokens, built once and shared by its compact
// signers. With KeyConfig.OpenSSL an RS256 key is self-tested with libcrypto then (useOpenSSL):
// KeyManager builds it before it installs the key, so the test never runs on a request's path.
func (k *signingKey) tokenSigner() (*tokenKey, error) {
	k.tokenOnce.Do(func() {
		k.token, k.tokenErr = newTokenKey(k.alg, k.private)
		if k.tokenErr == nil && k.openssl != nil && k.alg == jose.RS256 {
			// Set once, before the key signs: its Signer's log lines read them while the
			// re-test of a refused key (checkOpenSSL) may run useOpenSSL again.
			k.token.kid, k.token.log, k.token.required = k.id, k.log, k.required
			k.opensslErr = k.token.useOpenSSL(k.openssl)
		}
	})
	return k.token, k.tokenErr
}

// signsThroughOpenSSL says whether libcrypto signs the key's tokens now: its self-test passed
// and, under keys.rsa_signer: auto, crypto/rsa is not signing after a failure (rsasign.Retry).
func (k *signingKey) signsThroughOpenSSL() bool {
	tk, err := k.tokenSigner()
	if err != nil {
		return false
	}
	s := tk.openssl.Load()
	return s != nil && s.OpenSSL()
}

// compact is the key's ID token signer (compactSigner: what Signer signs, written directly),
// built once and shared.
func (k *signingKey) compact() (*compactSigner, error) {
	k.compactOnce.Do(func() {
		js, err := k.Signer()
		if err != nil {
			k.compactErr = err
			return
		}
		tk, err := k.tokenSigner()
		if err != nil {
			k.compactErr = err
			return
		}
		k.compactSig, k.compactErr = newCompactSigner(tk, js)
	})
	return k.compactSig, k.compactErr
}

// compactFor is the key's compact signer for tokens of typ (at+jwt, logout+jwt): the header
// typedSigner's jose signer writes, the signature of the key's tokenKey (the ID tokens' one).
// Built once per typ and shared.
func (k *signingKey) compactFor(typ jose.ContentType) (*compactSigner, error) {
	k.typedMu.Lock()
	cs, ok := k.typedCompact[typ]
	k.typedMu.Unlock()
	if ok {
		return cs, nil
	}
	js, err := k.typedSigner(typ)
	if err != nil {
		return nil, err
	}
	tk, err := k.tokenSigner()
	if err != nil {
		return nil, err
	}
	if cs, err = newCompactSigner(tk, js); err != nil {
		return nil, err
	}
	k.typedMu.Lock()
	defer k.typedMu.Unlock()
	if prev, ok := k.typedCompact[typ]; ok {
		return prev, nil
	}
	if k.typedCompact == nil {
		k.typedCompact = map[jose.ContentType]*compactSigner{}
	}
	k.typedCompact[typ] = cs
	return cs, nil
}

// signTyped signs payload as a compact JWS with typ as its typ header and key's kid: through
// key's compact signer when it is one of ours (the ID tokens' signature path: libcrypto for
// RS256 under KeyConfig.OpenSSL), else through jose.
func signTyped(key op.SigningKey, typ jose.ContentType, payload []byte) (string, error) {
	if k, ok := key.(*signingKey); ok {
		cs, err := k.compactFor(typ)
		if err != nil {
			return "", err
		}
		tok, err := cs.appendSigned(nil, payload)
		if err != nil {
			return "", err
		}
		return string(tok), nil
	}
	signer, err := newTypedSigner(key, typ)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// typedSigner is the key's JWS signer with typ as the typ header and its kid, built once per
// typ and shared like Signer.
func (k *signingKey) typedSigner(typ jose.ContentType) (jose.Signer, error) {
	k.typedMu.Lock()
	defer k.typedMu.Unlock()
	if s, ok := k.typed[typ]; ok {
		return s, nil
	}
	s, err := newTypedSigner(k, typ)
	if err != nil {
		return nil, err
	}
	if k.typed == nil {
		k.typed = map[jose.ContentType]jose.Signer{}
	}
	k.typed[typ] = s
	return s, nil
}

func newTypedSigner(key op.SigningKey, typ jose.ContentType) (jose.Signer, error) {
	opts := (&jose.SignerOptions{}).WithType(typ).WithHeader(jose.HeaderKey("kid"), key.ID())
	return jose.NewSigner(jose.SigningKey{Algorithm: key.SignatureAlgorithm(), Key: key.Key()}, opts)
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.private }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a published verification key.
type publicKey struct {
	id  string
	alg jose.SignatureAlgorithm
	pub any
}

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return k.alg }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.pub }

// KeyManager keeps the signing keys in memory, backed by a KeyStore, and rotates them.
type KeyManager struct {
	store KeyStore
	cfg   KeyConfig
	now   func() time.Time

	// loading serialises what reads the store's keys and installs them (rotate, Reload): one
	// that read before a withdrawal and installed after another's reload would bring the
	// withdrawn key back until the next reload (end-of-session review s13 RV3-6).
	loading sync.Mutex
	mu      sync.RWMutex
	keys    []*signingKey // every key not yet expired, oldest first
	jwks    []byte        // cached JWKS document
	version int64         // bumped whenever keys change
	// genRSA makes the RS256 keys (nil: rsa.GenerateKey; tests: a key libcrypto refuses).
	genRSA func(random io.Reader, bits int) (*rsa.PrivateKey, error)
}

// NewKeyManager loads keys from the store and creates any that are missing.
func NewKeyManager(ctx context.Context, store KeyStore, cfg KeyConfig) (*KeyManager, error) {
	m, err := OpenKeyManager(store, cfg)
	if err != nil {
		return nil, err
	}
	if err := m.Rotate(ctx); err != nil {
		return nil, err
	}
	if cfg.OpenSSL != nil {
		// libcrypto's set-up (its default provider, the RSA code) and its self-test with every
		// RS256 key ran in Rotate (install), during start-up, whose pages are released after it
		// (bridge/procmem), not at the first sign-in.
		if err := m.openSSLCurrent(); err != nil && cfg.RequireOpenSSL {
			return nil, fmt.Errorf("%w: %w", ErrOpenSSLRefused, err)
		}
	}
	return m, nil
}

// ErrOpenSSLRefused is NewKeyManager's error under KeyConfig.RequireOpenSSL when libcrypto
// cannot sign with the current RS256 key.
var ErrOpenSSLRefused = errors.New("keys: OpenSSL cannot sign with the RS256 key")

// openSSLCurrent is nil when libcrypto signs with the RS256 key that signs now, else why not.
func (m *KeyManager) openSSLCurrent() error {
	k, err := m.signingKey(jose.RS256, true)
	switch {
	case err != nil:
		return err
	case k.signsThroughOpenSSL():
		return nil
	}
	m.loading.Lock()
	defer m.loading.Unlock()
	if k.opensslErr != nil {
		return k.opensslErr
	}
	return errors.New("OpenSSL failed to sign with the key (warning in the log)")
}

// OpenSSLSigns says whether the RS256 key that signs now signs through OpenSSL (KeyConfig.OpenSSL
// set, its self-test passed when it was loaded or made, and, under keys.rsa_signer: auto,
// crypto/rsa is not signing after a failed signature: rsasign.Retry).
func (m *KeyManager) OpenSSLSigns() bool {
	k, err := m.signingKey(jose.RS256, false)
	return err == nil && k.signsThroughOpenSSL()
}

// checkOpenSSL runs libcrypto's self-test with k, an RS256 key about to be installed, when
// KeyConfig.OpenSSL is set (under m.loading: at load or creation, never on a request's path).
// A key that fails it signs with crypto/rsa, with a warning; under RequireOpenSSL it does not
// sign here at all (refused: SigningKey passes it over, so the key signing before it goes on
// until its own sign_until), with an error, and the test runs again at each rotation or reload
// until it passes.
func (m *KeyManager) checkOpenSSL(ctx context.Context, k *signingKey) {
	if m.cfg.OpenSSL == nil || k.alg != jose.RS256 || !m.now().Before(k.signUntil) {
		// Past its sign_until a key is published only for the tokens it signed: it is not
		// loaded into libcrypto, and a refusal of it would be no one's concern (review s26 R1-3).
		return
	}
	tk, err := k.tokenSigner()
	if err != nil {
		return // SigningKey's caller gets the error when it signs
	}
	if !m.cfg.RequireOpenSSL {
		if k.opensslErr != nil && !k.refused.Load() && !k.warned {
			k.warned = true
			m.cfg.Logger.WarnContext(ctx, "keys: OpenSSL refused an RSA signing key; crypto/rsa signs with it", "kid", k.id, "err", k.opensslErr)
		}
		return
	}
	if k.opensslErr == nil {
		if k.refused.Load() {
			k.refused.Store(false)
			m.cfg.Logger.InfoContext(ctx, "keys: OpenSSL signs with the RS256 key it refused before; the key may sign", "kid", k.id)
		}
		return
	}
	if k.refused.Load() {
		// Tested again: nothing signs with a refused key, so its signer may change.
		if k.opensslErr = tk.useOpenSSL(m.cfg.OpenSSL); k.opensslErr == nil {
			k.refused.Store(false)
			m.cfg.Logger.InfoContext(ctx, "keys: OpenSSL signs with the RS256 key it refused before; the key may sign", "kid", k.id)
		}
		return
	}
	k.refused.Store(true)
	m.cfg.Logger.ErrorContext(ctx, "keys: OpenSSL cannot sign with an RS256 key, so it does not sign here (keys.rsa_signer: openssl) "+
		"until the self-test, run again at each rotation or reload, passes; an older key signs until its sign_until",
		"kid", k.id, "signs_from", k.createdAt, "err", k.opensslErr)
}

// OpenKeyManager is a KeyManager that has loaded nothing and makes no key until asked: for the
// administration (Keys, Retire) outside the server.
func OpenKeyManager(store KeyStore, cfg KeyConfig) (*KeyManager, error) {
	if len(cfg.EncryptionKey) != 32 {
		return nil, errors.New("keys: encryption key must be 32 bytes")
	}
	if cfg.RotateEvery <= 0 {
		cfg.RotateEvery = 30 * 24 * time.Hour
	}
	if cfg.Prepublish <= 0 {
		cfg.Prepublish = 24 * time.Hour
	}
	if cfg.MaxTokenLifetime <= 0 {
		cfg.MaxTokenLifetime = 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if !slices.Contains(cfg.Algorithms, "RS256") {
		cfg.Algorithms = append([]string{"RS256"}, cfg.Algorithms...)
	}
	for _, a := range cfg.Algorithms {
		if _, err := parseAlg(a); err != nil {
			return nil, err
		}
	}
	return &KeyManager{store: store, cfg: cfg, now: time.Now}, nil
}

func parseAlg(a string) (jose.SignatureAlgorithm, error) {
	switch a {
	case "RS256":
		return jose.RS256, nil
	case "ES256":
		return jose.ES256, nil
	case "EdDSA":
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("keys: unsupported algorithm %q (use RS256, ES256 or EdDSA)", a)
}

// Rotate reloads keys from the store and generates a new key for every algorithm whose
// current key stops signing within the prepublish window. Safe to call periodically; with
// replicas, the bridge runs it under a leader lease and the others Reload, and every replica
// runs it once at start-up (NewKeyManager): a key is stored only when no other key of its
// algorithm signs past its start (KeyStore.AddSigningKeySuccessor), so replicas racing
// (starting together on an empty store, or a rotation during a lease handover) make one key,
// and the others read it.
//
// It also writes back the retirement of every live key that the current MaxTokenLifetime
// holds later than the store says (a lifetime raised since the key was made), so that the
// store's Purge keeps the key and every replica publishes it as long.
func (m *KeyManager) Rotate(ctx context.Context) error {
	return m.rotate(ctx, m.cfg.Algorithms)
}

// rotate is Rotate for the algorithms algs only.
func (m *KeyManager) rotate(ctx context.Context, algs []string) error {
	m.loading.Lock()
	defer m.loading.Unlock()
	keys, later, err := m.load(ctx)
	if err != nil {
		return err
	}
	if err := m.extend(ctx, later); err != nil {
		return err
	}
	now := m.now()
	for _, a := range algs {
		alg, _ := parseAlg(a)
		var latest *signingKey
		for _, k := range keys {
			if k.alg == alg && (latest == nil || k.signUntil.After(latest.signUntil)) {
				latest = k
			}
		}
		if latest != nil && latest.signUntil.Sub(now) > m.cfg.Prepublish {
			continue
		}
		// The successor signs from the moment its predecessor stops (it is published from now).
		start := now
		if latest != nil && latest.signUntil.After(now) {
			start = latest.signUntil
		}
		k, err := m.generate(ctx, alg, start)
		switch {
		case errors.Is(err, ErrConflict):
			// Another replica stored this key first: use its.
			if keys, _, err = m.load(ctx); err != nil {
				return err
			}
			m.cfg.Logger.InfoContext(ctx, "signing key made by another replica; using it", "alg", string(alg))
		case err != nil:
			return err
		default:
			keys = append(keys, k)
			m.cfg.Logger.InfoContext(ctx, "signing key created", "kid", k.id, "alg", string(alg), "sign_until", k.signUntil)
		}
	}
	return m.install(ctx, keys)
}

// Reload replaces the keys in memory with the store's (another replica rotated them),
// generating none. Keys already known are kept as they are (their signers too).
func (m *KeyManager) Reload(ctx context.Context) error {
	m.loading.Lock()
	defer m.loading.Unlock()
	keys, _, err := m.load(ctx)
	if err != nil {
		return err
	}
	return m.install(ctx, keys)
}

// retirement is when a key leaves JWKS: its stored expiry, or later when a token signed just
// before it stops signing, with the current MaxTokenLifetime, is valid longer (not for a
// withdrawn key).
func (m *KeyManager) retirement(sk *StoredKey) time.Time {
	if sk.Withdrawn() {
		// Withdrawn (Retire): gone at once, never held for the tokens it signed. A replica whose
		// clock is behind the store's may still read the row; it must not extend it.
		return sk.ExpiresAt
	}
	if r := sk.SignUntil.Add(m.cfg.MaxTokenLifetime); r.After(sk.ExpiresAt) {
		return r
	}
	return sk.ExpiresAt
}

// published reports whether sk is in JWKS at now, and until when: not withdrawn (a withdrawn
// key is gone whatever this process's clock says, which may be behind the store's that
// withdrew it: end-of-session review s13 RV3-5) and not past its retirement.
func (m *KeyManager) published(sk *StoredKey, now time.Time) (until time.Time, ok bool) {
	until = m.retirement(sk)
	return until, !sk.Withdrawn() && now.Before(until)
}

// extend writes the later retirement of keys back to the store (KeyStore.ExtendSigningKey,
// which only ever moves it later). A key the store no longer has (purged or withdrawn since
// load) is left to the next load.
func (m *KeyManager) extend(ctx context.Context, later []keyRetirement) error {
	for _, r := range later {
		err := m.store.ExtendSigningKey(ctx, r.id, r.at)
		switch {
		case errors.Is(err, ErrNotFound):
			m.cfg.Logger.WarnContext(ctx, "signing key gone before its retirement could be extended", "kid", r.id)
		case err != nil:
			return fmt.Errorf("keys: extend key %s: %w", r.id, err)
		default:
			m.cfg.Logger.InfoContext(ctx, "signing key retirement extended for the token lifetime", "kid", r.id,
				"expires_at", r.at)
		}
	}
	return nil
}

// keyRetirement is a key's retirement later than the store's expiry of it.
type keyRetirement struct {
	id string
	at time.Time
}

// load reads the keys that have not expired from the store, decoding only those not already
// in memory. A key is kept until its retirement (the later of its stored expiry and
// sign_until + MaxTokenLifetime); later lists the keys whose retirement is after their stored
// expiry.
func (m *KeyManager) load(ctx context.Context) (keys []*signingKey, later []keyRetirement, err error) {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: load: %w", err)
	}
	m.mu.RLock()
	known := make(map[string]*signingKey, len(m.keys))
	for _, k := range m.keys {
		known[k.id] = k
	}
	m.mu.RUnlock()
	now := m.now()
	for _, sk := range stored {
		retire, ok := m.published(sk, now)
		if !ok {
			continue
		}
		k := known[sk.ID]
		if k == nil {
			if k, err = m.decode(sk); err != nil {
				return nil, nil, fmt.Errorf("keys: key %s: %w", sk.ID, err)
			}
		}
		keys = append(keys, k)
		if retire.After(sk.ExpiresAt) {
			later = append(later, keyRetirement{id: sk.ID, at: retire})
		}
	}
	return keys, later, nil
}

func (m *KeyManager) install(ctx context.Context, keys []*signingKey) error {
	for _, k := range keys {
		m.checkOpenSSL(ctx, k)
	}
	set := jose.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.private.Public(), KeyID: k.id, Algorithm: string(k.alg), Use: "sig"})
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("keys: jwks: %w", err)
	}
	m.mu.Lock()
	changed := len(keys) != len(m.keys)
	if !changed {
		for i := range keys {
			if keys[i].id != m.keys[i].id {
				changed = true
			}
		}
	}
	m.keys = keys
	m.jwks = doc
	if changed {
		m.version++
	}
	m.mu.Unlock()
	return nil
}

// generate makes a key of alg that signs from start for RotateEvery and stores it as its
// algorithm's successor (KeyStore.AddSigningKeySuccessor).
func (m *KeyManager) generate(ctx context.Context, alg jose.SignatureAlgorithm, start time.Time) (*signingKey, error) {
	k, sk, err := m.newKey(alg, start)
	if err != nil {
		return nil, err
	}
	if err := m.store.AddSigningKeySuccessor(ctx, sk); err != nil {
		return nil, fmt.Errorf("keys: store: %w", err)
	}
	return k, nil
}

// newKey makes a key of alg that signs from start for RotateEvery: ready to sign, and sealed
// for the store.
func (m *KeyManager) newKey(alg jose.SignatureAlgorithm, start time.Time) (*signingKey, *StoredKey, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		gen := m.genRSA
		if gen == nil {
			gen = rsa.GenerateKey
		}
		priv, err = gen(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("keys: generate %s: %w", alg, err)
	}
	k := &signingKey{
		id:        RandomToken()[:16],
		alg:       alg,
		private:   priv,
		createdAt: start,
		signUntil: start.Add(m.cfg.RotateEvery),
		openssl:   m.cfg.OpenSSL,
		required:  m.cfg.RequireOpenSSL,
		log:       m.cfg.Logger,
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: marshal: %w", err)
	}
	enc, err := seal(m.cfg.EncryptionKey, der, []byte(k.id))
	if err != nil {
		return nil, nil, err
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: k.id, Algorithm: string(alg), Use: "sig"})
	if err != nil {
		return nil, nil, fmt.Errorf("keys: marshal public: %w", err)
	}
	return k, &StoredKey{
		ID: k.id, Algorithm: string(alg), PublicJWK: pub, PrivateEnc: enc,
		CreatedAt: k.createdAt, SignUntil: k.signUntil, ExpiresAt: k.signUntil.Add(m.cfg.MaxTokenLifetime),
	}, nil
}

func (m *KeyManager) decode(sk *StoredKey) (*signingKey, error) {
	alg, err := parseAlg(sk.Algorithm)
	if err != nil {
		return nil, err
	}
	der, err := open(m.cfg.EncryptionKey, sk.PrivateEnc, []byte(sk.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt private key (is keys.encryption_key the one it was created with?): %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, errors.New("private key cannot sign")
	}
	return &signingKey{id: sk.ID, alg: alg, private: priv, createdAt: sk.CreatedAt, signUntil: sk.SignUntil,
		openssl: m.cfg.OpenSSL, required: m.cfg.RequireOpenSSL, log: m.cfg.Logger}, nil
}

// SigningKey returns the key that signs now for alg (falls back to RS256). Under
// KeyConfig.RequireOpenSSL an RS256 key libcrypto refused does not sign (checkOpenSSL).
func (m *KeyManager) SigningKey(alg string) (op.SigningKey, error) {
	want, err := parseAlg(alg)
	if err != nil {
		want = jose.RS256
	}
	k, err := m.signingKey(want, false)
	if err != nil {
		return nil, err
	}
	return k, nil
}

// signingKey is the key that signs want now; a refused key too when withRefused.
func (m *KeyManager) signingKey(want jose.SignatureAlgorithm, withRefused bool) (*signingKey, error) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	var best *signingKey
	refused := false
	for _, k := range m.keys {
		if k.alg != want || !signsAt(now, k.createdAt, k.signUntil) {
			continue
		}
		if !withRefused && k.refused.Load() {
			refused = true
			continue
		}
		if best == nil || signsBefore(k.createdAt, k.id, best.createdAt, best.id) {
			best = k
		}
	}
	if best == nil {
		if refused {
			return nil, fmt.Errorf("keys: no current %s signing key that OpenSSL can sign with (keys.rsa_signer: openssl; error in the log)", want)
		}
		return nil, fmt.Errorf("keys: no current %s signing key", want)
	}
	return best, nil
}

// signsAt reports whether a key created at created that signs until signUntil may sign at now.
// With signsBefore it is the one rule for which key signs an algorithm, which SigningKey
// applies and describe reports (KeyInfo.Signing).
func signsAt(now, created, signUntil time.Time) bool {
	return !now.Before(created) && now.Before(signUntil)
}

// signsBefore reports whether key a (created, id) signs rather than key b when both may: the
// newest; between two created at once (two replicas starting together on an empty store) the
// greater id, so that every replica signs with the same key.
func signsBefore(aCreated time.Time, aID string, bCreated time.Time, bID string) bool {
	return aCreated.After(bCreated) || (aCreated.Equal(bCreated) && aID > bID)
}

// KeyStatus is the key that signs now for one algorithm: when it was created and when it
// stops signing (the next rotation).
type KeyStatus struct {
	Algorithm string
	ID        string
	Created   time.Time
	SignUntil time.Time
}

// Current lists, for each configured algorithm, the key that signs now (an algorithm without
// one is left out: SigningKey fails for it).
func (m *KeyManager) Current() []KeyStatus {
	out := make([]KeyStatus, 0, len(m.cfg.Algorithms))
	for _, a := range m.cfg.Algorithms {
		k, err := m.SigningKey(a)
		if err != nil {
			continue
		}
		sk := k.(*signingKey)
		out = append(out, KeyStatus{Algorithm: string(sk.alg), ID: sk.id, Created: sk.createdAt, SignUntil: sk.signUntil})
	}
	return out
}

// KeyInfo describes a published signing key for an operator (Keys).
type KeyInfo struct {
	ID        string
	Algorithm string
	// Created is when it signs from (a key made ahead of its turn is published before).
	Created time.Time
	// SignUntil is when it stops signing.
	SignUntil time.Time
	// PublishedUntil is when it leaves JWKS: tokens it signed verify until then.
	PublishedUntil time.Time
	// Signing: it is the key that signs its algorithm's tokens now (on this replica: not a key
	// its libcrypto refused, OpenSSLRefused, which SigningKey passes over).
	Signing bool
	// OpenSSLRefused: under keys.rsa_signer: openssl this replica's libcrypto refused the key
	// (its self-test failed, the error is in the log): it signs nothing here until the test,
	// run again at each rotation or reload, passes. Only a manager that holds the keys (the
	// server's) knows it.
	OpenSSLRefused bool
}

// Keys lists the keys published now (what JWKS holds, or will after the replicas' next reload),
// oldest first, read from the store.
func (m *KeyManager) Keys(ctx context.Context) ([]KeyInfo, error) {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	return m.describe(stored, m.now(), m.refusedKeys()), nil
}

// refusedKeys is the ids of the keys this manager holds that libcrypto refused
// (signingKey.refused: keys.rsa_signer: openssl), nil when there are none.
func (m *KeyManager) refusedKeys() map[string]bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out map[string]bool
	for _, k := range m.keys {
		if k.refused.Load() {
			if out == nil {
				out = map[string]bool{}
			}
			out[k.id] = true
		}
	}
	return out
}

// describe is the published keys of stored at now, with the key that signs each algorithm
// marked as SigningKey chooses it: a key of refused (libcrypto refused it here) is marked
// OpenSSLRefused and passed over.
func (m *KeyManager) describe(stored []*StoredKey, now time.Time, refused map[string]bool) []KeyInfo {
	out := make([]KeyInfo, 0, len(stored))
	signer := map[string]int{} // algorithm -> index in out of the key that signs it
	for _, sk := range stored {
		until, ok := m.published(sk, now)
		if !ok {
			continue
		}
		out = append(out, KeyInfo{ID: sk.ID, Algorithm: sk.Algorithm, Created: sk.CreatedAt, SignUntil: sk.SignUntil, PublishedUntil: until,
			OpenSSLRefused: refused[sk.ID]})
		if !signsAt(now, sk.CreatedAt, sk.SignUntil) || refused[sk.ID] {
			continue
		}
		i, ok := signer[sk.Algorithm]
		if !ok || signsBefore(sk.CreatedAt, sk.ID, out[i].Created, out[i].ID) {
			signer[sk.Algorithm] = len(out) - 1
		}
	}
	for _, i := range signer {
		out[i].Signing = true
	}
	return out
}

// Retire withdraws the key kid now, for a key whose private half may be out (NIST SP 800-57
// Pt 1 compromise recovery): it stops signing and leaves JWKS at once, so tokens it signed no
// longer verify here, and no longer at a relying party once it fetches JWKS again; the lease
// holder's rotation never brings it back. When it is the key that signs a configured algorithm
// now, a successor of that algorithm, made and stored in the same transaction, signs from now
// (an algorithm is never left without a key). This process's keys are reloaded; the caller
// tells the other replicas (the bridge's TopicKeys). It returns the successor, nil when none
// was needed; ErrNotFound when no published key has the id; ErrSuccessorRefused (nothing
// changed) under KeyConfig.RequireOpenSSL when this process's libcrypto refuses the successor.
func (m *KeyManager) Retire(ctx context.Context, kid string) (*KeyInfo, error) {
	stored, err := m.store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: retire: %w", err)
	}
	now := m.now()
	var target *KeyInfo
	// The store's view, every replica's: which key signs where libcrypto refuses none.
	published := m.describe(stored, now, nil)
	// This replica's view: the key that signs here in place of a later one its libcrypto
	// refused needs a successor too, or withdrawing it leaves nothing that signs here (review
	// s27 R4-1).
	here := m.describe(stored, now, m.refusedKeys())
	for i := range published {
		if published[i].ID == kid {
			target = &published[i]
			target.Signing = target.Signing || here[i].Signing
		}
	}
	if target == nil {
		return nil, fmt.Errorf("keys: retire %s: no published signing key has this id: %w", kid, ErrNotFound)
	}
	// The successor is sealed with this manager's key-encryption key: one the servers do not
	// have (a CLI with another configuration) would leave them unable to load it, and so
	// still publishing the withdrawn key.
	for _, sk := range stored {
		if sk.ID == kid {
			if _, err := m.decode(sk); err != nil {
				return nil, fmt.Errorf("keys: retire %s: %w: %w", kid, ErrOtherEncryptionKey, err)
			}
		}
	}
	var successor *StoredKey
	var info *KeyInfo
	if target.Signing && slices.Contains(m.cfg.Algorithms, target.Algorithm) {
		alg, _ := parseAlg(target.Algorithm)
		// Signing from a minute ago: a replica whose clock is behind the one withdrawing (a
		// CLI on another host) still finds it current, and the withdrawn key it drops leaves
		// no gap (end-of-session review s13 RV3-5).
		k, sk, err := m.newKey(alg, now.Add(-time.Minute))
		if err != nil {
			return nil, err
		}
		if err := m.refusedHere(k); err != nil {
			// Withdrawn, the key would leave this replica with no RS256 key that signs (review
			// s26 R1-4): nothing is changed, and the caller is told.
			return nil, fmt.Errorf("keys: retire %s: nothing was withdrawn: %w", kid, err)
		}
		successor = sk
		info = &KeyInfo{ID: k.id, Algorithm: string(alg), Created: sk.CreatedAt, SignUntil: sk.SignUntil, PublishedUntil: sk.ExpiresAt, Signing: true}
	}
	if err := m.store.RetireSigningKey(ctx, kid, successor); err != nil {
		return nil, fmt.Errorf("keys: retire %s: %w", kid, err)
	}
	attrs := []any{"kid", kid, "alg", target.Algorithm}
	if info != nil {
		attrs = append(attrs, "successor", info.ID)
	}
	m.cfg.Logger.WarnContext(ctx, "signing key withdrawn: it signs no more and leaves JWKS now", attrs...)
	// Rotate its algorithm, not only Reload: withdrawing the key published ahead of its turn
	// makes no successor above, and the current key may stop signing before the lease
	// holder's next rotation (end-of-session review s13 RV3-2); AddSigningKeySuccessor keeps it
	// to one key. Only its algorithm: a CLI's configuration may list algorithms the servers'
	// store has no key for yet, and those are the servers' to make.
	reload := m.Reload
	if slices.Contains(m.cfg.Algorithms, target.Algorithm) {
		reload = func(ctx context.Context) error { return m.rotate(ctx, []string{target.Algorithm}) }
	}
	if err := reload(ctx); err != nil {
		return info, fmt.Errorf("keys: retired %s, but %w: %w", kid, ErrRetiredNotReloaded, err)
	}
	return info, nil
}

// refusedHere is why this replica's libcrypto refuses k, a key it made, under
// KeyConfig.RequireOpenSSL (ErrSuccessorRefused wrapped with the self-test's error, or with
// ErrNoOpenSSL when this process has no libcrypto to test it with: the administration's, which
// opens it but does not fail without it); nil when it signs with it, or when libcrypto is not
// required.
func (m *KeyManager) refusedHere(k *signingKey) error {
	if !m.cfg.RequireOpenSSL || k.alg != jose.RS256 {
		return nil
	}
	if m.cfg.OpenSSL == nil {
		return fmt.Errorf("%w: %w", ErrSuccessorRefused, ErrNoOpenSSL)
	}
	if _, err := k.tokenSigner(); err != nil {
		return err
	}
	if k.opensslErr != nil {
		return fmt.Errorf("%w: %w", ErrSuccessorRefused, k.opensslErr)
	}
	return nil
}

// ErrSuccessorRefused is a withdrawal's refusal under keys.rsa_signer: openssl when this
// process's libcrypto refuses the successor it made (its self-test fails): withdrawn, the key
// would leave no RS256 key (or SAML key) that signs here. Nothing was changed.
var ErrSuccessorRefused = errors.New("this process's OpenSSL cannot sign with the successor it made (keys.rsa_signer: openssl), so the key was not withdrawn")

// ErrNoOpenSSL is why a withdrawal's successor is refused (ErrSuccessorRefused) under
// KeyConfig.RequireOpenSSL when this process could not open libcrypto to self-test it.
var ErrNoOpenSSL = errors.New("keys.rsa_signer is openssl, and this process could not open OpenSSL 3's libcrypto to test the new key with")

// ErrRetiredNotReloaded is Retire's error when the key is withdrawn in the store but this
// process could not read the keys again afterwards: the withdrawal stands (tell the replicas,
// record it), only this process's keys are stale until its next reload.
var ErrRetiredNotReloaded = errors.New("reloading the keys after the withdrawal failed")

// ErrOtherEncryptionKey is a withdrawal's refusal when this process's keys.encryption_key
// does not open the key (it was sealed under another): nothing was changed. A successor sealed
// under this one would be a key the servers cannot open.
var ErrOtherEncryptionKey = errors.New("keys.encryption_key here is not the one the key was sealed with")

// Algorithms lists the algorithms that have keys.
func (m *KeyManager) Algorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, 0, len(m.cfg.Algorithms))
	for _, a := range m.cfg.Algorithms {
		alg, _ := parseAlg(a)
		out = append(out, alg)
	}
	return out
}

// PublicKeys returns every published key (current, next and retiring).
func (m *KeyManager) PublicKeys() []op.Key {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]op.Key, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, &publicKey{id: k.id, alg: k.alg, pub: k.private.Public()})
	}
	return out
}

// JWKS returns the cached JSON Web Key Set document and its version.
func (m *KeyManager) JWKS() ([]byte, int64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.jwks, m.version
}

// Run rotates keys every interval until ctx ends.
func (m *KeyManager) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := m.Rotate(ctx); err != nil {
				m.cfg.Logger.ErrorContext(ctx, "key rotation failed", "err", err)
			}
		}
	}
}

// ResealPrivateKey opens a stored signing key's sealed private key (StoredKey.PrivateEnc of
// the key kid) with oldKEK and seals it again with newKEK: changing keys.encryption_key. It
// fails when oldKEK does not open it.
func ResealPrivateKey(oldKEK, newKEK []byte, kid string, sealed []byte) ([]byte, error) {
	if len(newKEK) != 32 {
		return nil, errors.New("keys: encryption key must be 32 bytes")
	}
	der, err := open(oldKEK, sealed, []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: the old key-encryption key does not open it: %w", kid, err)
	}
	return seal(newKEK, der, []byte(kid))
}

func seal(key, plaintext, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plaintext, aad), nil
}

func open(key, sealed, aad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
