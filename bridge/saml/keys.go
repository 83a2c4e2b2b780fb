package saml

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// KeyStore keeps the sealed signing keys.
type KeyStore interface {
	// AddSAMLSuccessor stores a key unless another already signs past its start (another
	// replica made it first): sso.ErrConflict then.
	AddSAMLSuccessor(ctx context.Context, k *store.SAMLKey) error
	SAMLKeys(ctx context.Context) ([]*store.SAMLKey, error)
}

// KeyRing holds the IdP's signing keys, sealed at rest under the key-encryption key (AES-256-GCM,
// bound to the key id) like the OIDC signing keys. One key signs at a time; its successor is
// made KeyOverlap before it stops signing and published from then, and it stays published
// KeyOverlap after, so an SP that reads the metadata now and then trusts the next certificate
// before it is used.
type KeyRing struct {
	store       KeyStore
	kek         []byte
	rotateEvery time.Duration
	overlap     time.Duration
	subject     string
	log         *slog.Logger
	now         func() time.Time

	mu   sync.RWMutex
	keys []*signingKey // not expired, oldest first
}

type signingKey struct {
	id        string
	cert      *x509.Certificate
	private   *rsa.PrivateKey
	createdAt time.Time
	signUntil time.Time
	expiresAt time.Time
	// signer signs the IdP's own XML with the key (its metadata, its LogoutRequests): made
	// once, with the key (newSigner).
	signer *dsig.SigningContext
}

// newSigner is the XML signer of a key and its certificate: enveloped RSA-SHA256 signatures
// (NewDefaultSigningContext's SHA-256 with an RSA key) over exclusive C14N with no inclusive
// prefixes. It keeps no state between signatures: one serves every request.
func newSigner(priv *rsa.PrivateKey, cert *x509.Certificate) *dsig.SigningContext {
	sc := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: priv, Leaf: cert}))
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	return sc
}

// NewKeyRing loads the keys and makes one when none signs now. subject names the certificates
// (the issuer's host).
func NewKeyRing(ctx context.Context, st KeyStore, kek []byte, cfg config.SAMLConfig, subject string, log *slog.Logger, now func() time.Time) (*KeyRing, error) {
	if len(kek) != 32 {
		return nil, errors.New("saml keys: the key-encryption key must be 32 bytes")
	}
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	k := &KeyRing{store: st, kek: kek, rotateEvery: cfg.RotateEvery(), overlap: cfg.Overlap(), subject: subject, log: log, now: now}
	if _, err := k.Rotate(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload reads the keys again (another replica rotated them).
func (k *KeyRing) Reload(ctx context.Context) error {
	keys, err := k.load(ctx)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

func (k *KeyRing) load(ctx context.Context) ([]*signingKey, error) {
	stored, err := k.store.SAMLKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml keys: load: %w", err)
	}
	now := k.now()
	var keys []*signingKey
	for _, sk := range stored {
		key, err := k.open(sk)
		if err != nil {
			return nil, fmt.Errorf("saml keys: key %s: %w", sk.ID, err)
		}
		if now.Before(key.expiresAt) {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// Rotate reloads the keys and makes the successor of the signing key once it stops signing
// within the overlap; created reports whether it made one. The server calls it on the replica
// that holds the key-rotation lease, and every replica calls it once at start-up (NewKeyRing):
// the key is stored only when no other key signs past its start, so replicas racing (starting
// together on an empty store, or a rotation during a lease handover) make one key, and the
// others read it.
func (k *KeyRing) Rotate(ctx context.Context) (created bool, err error) {
	keys, err := k.load(ctx)
	if err != nil {
		return false, err
	}
	now := k.now()
	var latest *signingKey
	for _, key := range keys {
		if latest == nil || key.signUntil.After(latest.signUntil) {
			latest = key
		}
	}
	if latest == nil || latest.signUntil.Sub(now) <= k.overlap {
		start := now
		if latest != nil && latest.signUntil.After(now) {
			start = latest.signUntil
		}
		key, err := k.generate(ctx, now, start)
		switch {
		case errors.Is(err, sso.ErrConflict):
			// Another replica stored this key first: use its.
			if keys, err = k.load(ctx); err != nil {
				return false, err
			}
			k.log.InfoContext(ctx, "saml signing key made by another replica; using it")
		case err != nil:
			return false, err
		default:
			keys = append(keys, key)
			created = true
			k.log.InfoContext(ctx, "saml signing key created", "kid", key.id, "signs_from", key.createdAt, "sign_until", key.signUntil)
		}
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return created, nil
}

func (k *KeyRing) generate(ctx context.Context, now, start time.Time) (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("saml keys: generate: %w", err)
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return nil, err
	}
	key := &signingKey{id: hex.EncodeToString(idb), private: priv, createdAt: start, signUntil: start.Add(k.rotateEvery)}
	key.expiresAt = key.signUntil.Add(k.overlap)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: k.subject + " SAML signing " + key.id},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     key.expiresAt,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("saml keys: certificate: %w", err)
	}
	if key.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	key.signer = newSigner(priv, key.cert)
	sealed, err := sealKey(k.kek, x509.MarshalPKCS1PrivateKey(priv), key.id)
	if err != nil {
		return nil, err
	}
	if err := k.store.AddSAMLSuccessor(ctx, &store.SAMLKey{ID: key.id, CertDER: der, PrivateEnc: sealed, CreatedAt: key.createdAt,
		SignUntil: key.signUntil, ExpiresAt: key.expiresAt}); err != nil {
		return nil, fmt.Errorf("saml keys: store: %w", err)
	}
	return key, nil
}

func (k *KeyRing) open(sk *store.SAMLKey) (*signingKey, error) {
	der, err := openKey(k.kek, sk.PrivateEnc, sk.ID)
	if err != nil {
		return nil, fmt.Errorf("decrypt private key (is keys.encryption_key the one it was created with?): %w", err)
	}
	priv, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	cert, err := x509.ParseCertificate(sk.CertDER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	return &signingKey{id: sk.ID, cert: cert, private: priv, createdAt: sk.CreatedAt, signUntil: sk.SignUntil, expiresAt: sk.ExpiresAt,
		signer: newSigner(priv, cert)}, nil
}

// Signing returns the key that signs now and the other published certificates (its successor
// during the overlap before, its predecessor during the overlap after).
func (k *KeyRing) Signing() (*signingKey, []*x509.Certificate, error) {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var cur *signingKey
	for _, key := range k.keys {
		if now.Before(key.createdAt) || !now.Before(key.signUntil) {
			continue
		}
		if cur == nil || key.createdAt.After(cur.createdAt) {
			cur = key
		}
	}
	if cur == nil {
		return nil, nil, errors.New("saml keys: no signing key now")
	}
	var others []*x509.Certificate
	for _, key := range k.keys {
		if key != cur {
			others = append(others, key.cert)
		}
	}
	return cur, others, nil
}

// ResealKey opens a stored SAML key's sealed private key (store.SAMLKey.PrivateEnc of the key
// id) with oldKEK and seals it again with newKEK: changing keys.encryption_key. It fails when
// oldKEK does not open it.
func ResealKey(oldKEK, newKEK []byte, id string, sealed []byte) ([]byte, error) {
	plain, err := openKey(oldKEK, sealed, id)
	if err != nil {
		return nil, fmt.Errorf("saml key %s: the old key-encryption key does not open it: %w", id, err)
	}
	return sealKey(newKEK, plain, id)
}

func keyAAD(id string) []byte { return []byte("ssobridge-saml-key:" + id) }

func sealKey(kek, plain []byte, id string) ([]byte, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, keyAAD(id)), nil
}

func openKey(kek, sealed []byte, id string) ([]byte, error) {
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], keyAAD(id))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
