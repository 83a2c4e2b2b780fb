package saml

import (
	"bytes"
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/internal/rsasign"
	"github.com/ssobridge/ssobridge/sso"
)

// KeyStore keeps the sealed signing keys.
type KeyStore interface {
	// AddSAMLSuccessor stores a key unless another already signs past its start (another
	// replica made it first): sso.ErrConflict then.
	AddSAMLSuccessor(ctx context.Context, k *store.SAMLKey) error
	SAMLKeys(ctx context.Context) ([]*store.SAMLKey, error)
	// RetireSAMLKey withdraws a key now and stores its successor in the same transaction.
	RetireSAMLKey(ctx context.Context, id string, successor *store.SAMLKey) error
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
	// openssl, when set (keys.rsa_signer auto or openssl, libcrypto loaded), makes the keys'
	// RSA-SHA256 signatures (rsasign.Signer), each key after its self-test when it is opened
	// or made.
	openssl *rsasign.Library
	// required (keys.rsa_signer: openssl): libcrypto signs or nothing does (rsaSigner).
	required bool

	mu   sync.RWMutex
	keys []*signingKey // not expired, oldest first
	// genRSA makes the keys (nil: rsa.GenerateKey; tests: a key libcrypto refuses).
	genRSA func(random io.Reader, bits int) (*rsa.PrivateKey, error)
}

type signingKey struct {
	id        string
	cert      *x509.Certificate
	private   *rsa.PrivateKey
	createdAt time.Time
	signUntil time.Time
	expiresAt time.Time
	// rsa signs with the key: through libcrypto (rsasign.Signer) when the ring has OpenSSL
	// and the key passed its self-test, else the private key itself (crypto/rsa).
	rsa crypto.Signer
	// signer signs the IdP's own XML with the key (its metadata, its LogoutRequests): made
	// once, with the key (newSigner).
	signer *dsig.SigningContext
}

// cryptoSigner is what signs with the key: its rsa signer, or the private key.
func (s *signingKey) cryptoSigner() crypto.Signer {
	if s.rsa != nil {
		return s.rsa
	}
	return s.private
}

// newSigner is the XML signer of a key (its crypto.Signer) and its certificate: enveloped
// RSA-SHA256 signatures (SHA-256 with an RSA key) over exclusive C14N with no inclusive
// prefixes. It keeps no state between signatures: one serves every request.
func newSigner(key crypto.Signer, cert *x509.Certificate) *dsig.SigningContext {
	sc, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		panic(err) // only for a nil signer: never
	}
	sc.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	return sc
}

// rsaSigner is what signs with priv (key id, signing until signUntil): libcrypto when the ring
// has it and the key passes its self-test (rsasign.Library.NewSigner), else crypto/rsa, with a
// warning; under keys.rsa_signer: openssl (required) a key libcrypto refuses signs nothing
// (refusedSigner), with an error, and crypto/rsa never signs instead of libcrypto (review s26
// R1-2); the self-test runs again at each Rotate and Reload until it passes (retest), as for
// the OIDC keys. A key past its sign_until only stays in the metadata: it is not loaded into
// libcrypto (review s26 R1-3). Run when a key is opened or made (Rotate, Reload), never on a
// request's path.
func (k *KeyRing) rsaSigner(priv *rsa.PrivateKey, id string, signUntil time.Time) crypto.Signer {
	if !k.now().Before(signUntil) {
		return priv
	}
	if k.openssl == nil {
		if k.required {
			// Only the administration's ring (OpenKeyRingWithOpenSSL) is required without
			// libcrypto: it signs nothing, and refuses a withdrawal's successor it cannot test.
			return refusedSigner{pub: &priv.PublicKey, err: fmt.Errorf("saml keys: key %s: %w", id, sso.ErrNoOpenSSL)}
		}
		return priv
	}
	s, err := k.openssl.NewSigner(priv, k.signerOptions(id))
	if err == nil {
		return s
	}
	if k.required {
		k.log.Error("saml keys: OpenSSL refused a SAML signing key, so it signs nothing here (keys.rsa_signer: openssl) "+
			"until the self-test, run again at each rotation or reload, passes; an older key that still signs signs "+
			"in its place until its sign_until, else SAML signatures fail", "kid", id, "err", err)
		return refusedSigner{pub: &priv.PublicKey, err: fmt.Errorf("saml keys: OpenSSL refused the key %s (keys.rsa_signer: openssl): %w", id, err)}
	}
	k.log.Warn("saml keys: OpenSSL refused a SAML signing key; crypto/rsa signs with it", "kid", id, "err", err)
	return priv
}

// signerOptions are the key id's rsasign.Signer options: the ring's mode, and its log lines.
func (k *KeyRing) signerOptions(id string) rsasign.SignerOptions {
	return rsasign.SignerOptions{Required: k.required, Now: k.now,
		OnFailure: func(err error, n int64, backoff time.Duration) {
			if k.required {
				k.log.Error("saml keys: OpenSSL failed to sign, so the signature fails (keys.rsa_signer: openssl); libcrypto is tried again for the next one",
					"kid", id, "err", err)
				return
			}
			k.log.Warn("saml keys: OpenSSL failed to sign; crypto/rsa signs with this key until libcrypto is tried again",
				"kid", id, "failures", n, "retry_in", backoff, "err", err)
		},
		OnRecover: func(n int64) {
			k.log.Info("saml keys: OpenSSL signs with the key again", "kid", id, "failures", n)
		}}
}

// retest is key, held already, after libcrypto's self-test ran again when it refused the key
// under keys.rsa_signer: openssl (refusedSigner) and the key still signs: a copy that signs
// through libcrypto once the test passes (an info line), else key as it is (its refusal was
// logged when it was opened or made). The held key is not changed: a request may be signing
// with it.
func (k *KeyRing) retest(key *signingKey) *signingKey {
	if _, refused := key.rsa.(refusedSigner); !refused || k.openssl == nil || !k.now().Before(key.signUntil) {
		return key
	}
	s, err := k.openssl.NewSigner(key.private, k.signerOptions(key.id))
	if err != nil {
		return key
	}
	c := *key
	c.rsa, c.signer = s, newSigner(s, c.cert)
	k.log.Info("saml keys: OpenSSL signs with the SAML key it refused before; the key signs", "kid", key.id)
	return &c
}

// refusedSigner is the signer of a SAML key libcrypto refused under keys.rsa_signer: openssl:
// every signature is its error.
type refusedSigner struct {
	pub *rsa.PublicKey
	err error
}

func (r refusedSigner) Public() crypto.PublicKey { return r.pub }

func (r refusedSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) { return nil, r.err }

// refused says whether libcrypto refused the key under keys.rsa_signer: openssl (it signs
// nothing here: refusedSigner).
func (s *signingKey) refused() bool {
	_, r := s.rsa.(refusedSigner)
	return r
}

// OpenSSLSigns says what makes the signatures of the key that signs now: nil when libcrypto
// does, else why not (no OpenSSL, the key refused, or crypto/rsa after a failure).
func (k *KeyRing) OpenSSLSigns() error {
	cur, _, err := k.Signing()
	if err != nil {
		return err
	}
	return k.openSSLSigns(cur)
}

// openSSLSigns is OpenSSLSigns for the key cur.
func (k *KeyRing) openSSLSigns(cur *signingKey) error {
	switch s := cur.cryptoSigner().(type) {
	case *rsasign.Signer:
		if s.OpenSSL() {
			return nil
		}
		return errors.New("libcrypto failed a signature with the key (warning in the log); crypto/rsa signs until it is tried again")
	case refusedSigner:
		return s.err
	}
	if k.openssl == nil {
		return errors.New("no OpenSSL (keys.rsa_signer)")
	}
	return fmt.Errorf("libcrypto %s refused the key %s (warning in the log)", k.openssl.Version(), cur.id)
}

// NewKeyRing loads the keys and makes one when none signs now. subject names the certificates
// (the issuer's host).
func NewKeyRing(ctx context.Context, st KeyStore, kek []byte, cfg config.SAMLConfig, subject string, log *slog.Logger, now func() time.Time) (*KeyRing, error) {
	return NewKeyRingWithOpenSSL(ctx, st, kek, cfg, subject, log, now, nil, false)
}

// ErrOpenSSLRefused is NewKeyRingWithOpenSSL's error when required and libcrypto cannot sign
// with the SAML key that signs now.
var ErrOpenSSLRefused = errors.New("saml keys: OpenSSL cannot sign with the SAML signing key")

// NewKeyRingWithOpenSSL is NewKeyRing whose keys sign through libcrypto (lib, when not nil:
// keys.rsa_signer), each after its self-test; a key libcrypto refuses signs with crypto/rsa,
// or, when required (keys.rsa_signer: openssl), not at all: then the ring is not made when the
// key that signs now is refused (ErrOpenSSLRefused).
func NewKeyRingWithOpenSSL(ctx context.Context, st KeyStore, kek []byte, cfg config.SAMLConfig, subject string, log *slog.Logger,
	now func() time.Time, lib *rsasign.Library, required bool) (*KeyRing, error) {
	if len(kek) != 32 {
		return nil, errors.New("saml keys: the key-encryption key must be 32 bytes")
	}
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	k := &KeyRing{store: st, kek: kek, rotateEvery: cfg.RotateEvery(), overlap: cfg.Overlap(), subject: subject, log: log, now: now,
		openssl: lib, required: required && lib != nil}
	if _, err := k.Rotate(ctx); err != nil {
		return nil, err
	}
	if k.required {
		// The latest key that signs now, a refused one too, as sso.NewKeyManager checks the
		// RS256 key: a server does not start while its libcrypto refuses it.
		cur, _, err := k.signing(true)
		if err == nil {
			err = k.openSSLSigns(cur)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrOpenSSLRefused, err)
		}
	}
	return k, nil
}

// OpenKeyRing opens the keys for the administration (ssobridge keys list --saml, keys retire
// --saml), with the servers' configuration: it makes no key and opens none until asked (Keys
// reads the store; Retire opens the key it withdraws), so a CLI whose keys.encryption_key is
// not the servers' is refused at the withdrawal, not at every command.
func OpenKeyRing(st KeyStore, kek []byte, cfg config.SAMLConfig, subject string, log *slog.Logger, now func() time.Time) (*KeyRing, error) {
	if len(kek) != 32 {
		return nil, errors.New("saml keys: the key-encryption key must be 32 bytes")
	}
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &KeyRing{store: st, kek: kek, rotateEvery: cfg.RotateEvery(), overlap: cfg.Overlap(), subject: subject, log: log, now: now}, nil
}

// OpenKeyRingWithOpenSSL is OpenKeyRing for the administration under keys.rsa_signer (lib:
// libcrypto, nil when this process could not open it; required: openssl), so that a withdrawal
// self-tests its successor with this host's libcrypto as the servers would (review s27 R4-8):
// under required, a successor libcrypto refuses, or any when lib is nil, is
// sso.ErrSuccessorRefused and nothing changes.
func OpenKeyRingWithOpenSSL(st KeyStore, kek []byte, cfg config.SAMLConfig, subject string, log *slog.Logger, now func() time.Time,
	lib *rsasign.Library, required bool) (*KeyRing, error) {
	k, err := OpenKeyRing(st, kek, cfg, subject, log, now)
	if err != nil {
		return nil, err
	}
	k.openssl, k.required = lib, required
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

// load reads the published keys. A key this ring holds already (its id and certificate) is
// kept as it is, with the row's times, not opened again: Reload runs on every change
// notification and every periodic fallback (2 s on SQLite), and opening a key decrypts it and
// parses an RSA key and a certificate (closing note s15, K). The OIDC keys do the same
// (sso.KeyManager.load).
func (k *KeyRing) load(ctx context.Context) ([]*signingKey, error) {
	stored, err := k.store.SAMLKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml keys: load: %w", err)
	}
	k.mu.RLock()
	held := k.keys
	k.mu.RUnlock()
	now := k.now()
	var keys []*signingKey
	for _, sk := range stored {
		if !published(sk, now) {
			continue
		}
		if key := reusable(held, sk); key != nil {
			keys = append(keys, k.retest(key))
			continue
		}
		key, err := k.open(sk)
		if err != nil {
			return nil, fmt.Errorf("saml keys: key %s: %w", sk.ID, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}

// reusable is the key of held that sk is, with sk's times (the same one when they did not
// change), or nil when held has no key of its id and certificate.
func reusable(held []*signingKey, sk *store.SAMLKey) *signingKey {
	for _, key := range held {
		if key.id != sk.ID || !bytes.Equal(key.cert.Raw, sk.CertDER) {
			continue
		}
		if key.createdAt.Equal(sk.CreatedAt) && key.signUntil.Equal(sk.SignUntil) && key.expiresAt.Equal(sk.ExpiresAt) {
			return key
		}
		c := *key
		c.createdAt, c.signUntil, c.expiresAt = sk.CreatedAt, sk.SignUntil, sk.ExpiresAt
		return &c
	}
	return nil
}

// published tells whether a stored key is in the metadata at now: not past its expiry and not
// withdrawn (RetireSAMLKey), whatever this process's clock says of the withdrawing one's.
func published(sk *store.SAMLKey, now time.Time) bool {
	return now.Before(sk.ExpiresAt) && !sk.Withdrawn()
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
	key, sk, err := k.newKey(now, start)
	if err != nil {
		return nil, err
	}
	if err := k.store.AddSAMLSuccessor(ctx, sk); err != nil {
		return nil, fmt.Errorf("saml keys: store: %w", err)
	}
	return key, nil
}

// newKey makes a key that signs from start for rotateEvery, and its sealed stored form.
func (k *KeyRing) newKey(now, start time.Time) (*signingKey, *store.SAMLKey, error) {
	gen := k.genRSA
	if gen == nil {
		gen = rsa.GenerateKey
	}
	priv, err := gen(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("saml keys: generate: %w", err)
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return nil, nil, err
	}
	key := &signingKey{id: hex.EncodeToString(idb), private: priv, createdAt: start, signUntil: start.Add(k.rotateEvery)}
	key.expiresAt = key.signUntil.Add(k.overlap)
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
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
		return nil, nil, fmt.Errorf("saml keys: certificate: %w", err)
	}
	if key.cert, err = x509.ParseCertificate(der); err != nil {
		return nil, nil, err
	}
	key.rsa = k.rsaSigner(priv, key.id, key.signUntil)
	key.signer = newSigner(key.rsa, key.cert)
	sealed, err := sealKey(k.kek, x509.MarshalPKCS1PrivateKey(priv), key.id)
	if err != nil {
		return nil, nil, err
	}
	return key, &store.SAMLKey{ID: key.id, CertDER: der, PrivateEnc: sealed, CreatedAt: key.createdAt,
		SignUntil: key.signUntil, ExpiresAt: key.expiresAt}, nil
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
	signer := k.rsaSigner(priv, sk.ID, sk.SignUntil)
	return &signingKey{id: sk.ID, cert: cert, private: priv, createdAt: sk.CreatedAt, signUntil: sk.SignUntil, expiresAt: sk.ExpiresAt,
		rsa: signer, signer: newSigner(signer, cert)}, nil
}

// Signing returns the key that signs now and the other published certificates (its successor
// during the overlap before, its predecessor during the overlap after). A key libcrypto refused
// here under keys.rsa_signer: openssl (refusedSigner) is passed over while an older key still
// signs, as sso.KeyManager passes over a refused RS256 key: that one signs in its place until
// its own sign_until. Only when no other key signs is the refused one chosen, and its
// signatures fail with why (OpenSSLSigns says it).
func (k *KeyRing) Signing() (*signingKey, []*x509.Certificate, error) { return k.signing(false) }

// signing is Signing; withRefused: the latest key that signs now, refused or not.
func (k *KeyRing) signing(withRefused bool) (*signingKey, []*x509.Certificate, error) {
	now := k.now()
	k.mu.RLock()
	defer k.mu.RUnlock()
	var cur, refused *signingKey
	for _, key := range k.keys {
		if !signsAt(now, key.createdAt, key.signUntil) {
			continue
		}
		if key.refused() && !withRefused {
			if refused == nil || key.createdAt.After(refused.createdAt) {
				refused = key
			}
			continue
		}
		if cur == nil || key.createdAt.After(cur.createdAt) {
			cur = key
		}
	}
	if cur == nil {
		cur = refused
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

// KeyInfo is a published SAML signing key as the administration lists it.
type KeyInfo struct {
	ID string
	// Created and SignUntil bound when it signs; PublishedUntil is when it leaves the metadata.
	Created, SignUntil, PublishedUntil time.Time
	// Signing: it signs the IdP's responses and requests now (on this replica, as Signing
	// chooses it: not a key its libcrypto refused while an older one still signs).
	Signing bool
	// OpenSSLRefused: under keys.rsa_signer: openssl this process's libcrypto refused the key
	// (its self-test failed, the error is in the log), so it signs nothing here until the test,
	// run again at each rotation or reload, passes. Only a ring that holds the keys (the
	// server's) knows it.
	OpenSSLRefused bool
	// CertSHA256 is its certificate's SHA-256 fingerprint (upper-case hex pairs joined by
	// colons, as SPs and openssl x509 -fingerprint -sha256 show it).
	CertSHA256 string
}

// Keys lists the published keys (those in the metadata), oldest first, as the store has them
// now.
func (k *KeyRing) Keys(ctx context.Context) ([]KeyInfo, error) {
	stored, err := k.store.SAMLKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml keys: list: %w", err)
	}
	return describe(stored, k.now(), k.refusedIDs()), nil
}

// refusedIDs is the ids of the keys this ring holds that libcrypto refused (refusedSigner:
// keys.rsa_signer: openssl), nil when there are none.
func (k *KeyRing) refusedIDs() map[string]bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	var out map[string]bool
	for _, key := range k.keys {
		if key.refused() {
			if out == nil {
				out = map[string]bool{}
			}
			out[key.id] = true
		}
	}
	return out
}

// describe is the published keys of stored at now, with the one that signs marked as Signing
// chooses it: a key of refused (libcrypto refused it here) is marked OpenSSLRefused and passed
// over while another key signs.
func describe(stored []*store.SAMLKey, now time.Time, refused map[string]bool) []KeyInfo {
	out := make([]KeyInfo, 0, len(stored))
	cur, curRefused := -1, -1
	for _, sk := range stored {
		if !published(sk, now) {
			continue
		}
		out = append(out, KeyInfo{ID: sk.ID, Created: sk.CreatedAt, SignUntil: sk.SignUntil, PublishedUntil: sk.ExpiresAt,
			OpenSSLRefused: refused[sk.ID], CertSHA256: fingerprint(sk.CertDER)})
		if !signsAt(now, sk.CreatedAt, sk.SignUntil) {
			continue
		}
		best := &cur
		if refused[sk.ID] {
			best = &curRefused
		}
		if *best < 0 || sk.CreatedAt.After(out[*best].Created) {
			*best = len(out) - 1
		}
	}
	if cur < 0 {
		cur = curRefused
	}
	if cur >= 0 {
		out[cur].Signing = true
	}
	return out
}

// signsAt tells whether a key that signs from created until signUntil signs at now.
func signsAt(now, created, signUntil time.Time) bool {
	return !now.Before(created) && now.Before(signUntil)
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	parts := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}

// Retire withdraws the key kid now, for a key whose private key may be out (NIST SP 800-57
// Pt 1 compromise recovery): it signs no more and leaves the metadata at once (SAML metadata
// 2.4.1.1: the KeyDescriptors use="signing" are the keys an SP may trust), and the lease
// holder's rotation never brings it back. When it is the key that signs now, a successor made
// here and stored in the same transaction signs from now (the IdP is never left without a
// key): SPs refuse what it signs until they read the metadata again. This process's keys are
// reloaded (and the next key made when one is due); the caller tells the other replicas
// (the bridge's TopicKeys). It returns the successor, nil when none was needed;
// sso.ErrNotFound when no published key has the id, sso.ErrOtherEncryptionKey when this
// process's key-encryption key does not open it (nothing changed), sso.ErrSuccessorRefused
// under keys.rsa_signer: openssl when libcrypto refuses the successor (nothing changed), and
// an error wrapping sso.ErrRetiredNotReloaded when the key was withdrawn but reloading failed.
func (k *KeyRing) Retire(ctx context.Context, kid string) (*KeyInfo, error) {
	stored, err := k.store.SAMLKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("saml keys: withdraw: %w", err)
	}
	now := k.now()
	var target *KeyInfo
	// The store's view, every replica's: which key signs where libcrypto refuses none.
	list := describe(stored, now, nil)
	// This replica's view: the key that signs here in place of a later one its libcrypto
	// refused needs a successor too, or withdrawing it leaves nothing that signs SAML here (as
	// sso.KeyManager.Retire, review s27 R4-1).
	here := describe(stored, now, k.refusedIDs())
	for i := range list {
		if list[i].ID == kid {
			target = &list[i]
			target.Signing = target.Signing || here[i].Signing
		}
	}
	if target == nil {
		return nil, fmt.Errorf("saml keys: withdraw %s: no published saml signing key has this id: %w", kid, sso.ErrNotFound)
	}
	// The successor is sealed with this ring's key-encryption key: one the servers do not have
	// (a CLI with another configuration) would leave them unable to load the keys, and so still
	// signing with the withdrawn one.
	for _, sk := range stored {
		if sk.ID == kid {
			if _, err := k.open(sk); err != nil {
				return nil, fmt.Errorf("saml keys: withdraw %s: %w: %w", kid, sso.ErrOtherEncryptionKey, err)
			}
		}
	}
	var successor *store.SAMLKey
	var info *KeyInfo
	if target.Signing {
		// Signing from a minute ago: a replica whose clock is behind the withdrawing one's
		// still finds it current, and the withdrawn key it drops leaves no gap.
		key, sk, err := k.newKey(now, now.Add(-time.Minute))
		if err != nil {
			return nil, err
		}
		if r, refused := key.rsa.(refusedSigner); refused {
			// Withdrawn, the key would leave nothing that signs SAML here (review s26 R1-4, as
			// for the OIDC keys): nothing is changed, and the caller is told.
			return nil, fmt.Errorf("saml keys: withdraw %s: nothing was withdrawn: %w: %w", kid, sso.ErrSuccessorRefused, r.err)
		}
		successor = sk
		info = &KeyInfo{ID: key.id, Created: key.createdAt, SignUntil: key.signUntil, PublishedUntil: key.expiresAt, Signing: true,
			CertSHA256: fingerprint(sk.CertDER)}
	}
	if err := k.store.RetireSAMLKey(ctx, kid, successor); err != nil {
		return nil, fmt.Errorf("saml keys: withdraw %s: %w", kid, err)
	}
	attrs := []any{"kid", kid}
	if info != nil {
		attrs = append(attrs, "successor", info.ID)
	}
	k.log.WarnContext(ctx, "saml signing key withdrawn: it signs no more and leaves the metadata now", attrs...)
	// Rotate, not only Reload: withdrawing the key published ahead of its turn makes no
	// successor above, and the signing key may stop signing before the lease holder's next
	// rotation; AddSAMLSuccessor keeps that to one key.
	if _, err := k.Rotate(ctx); err != nil {
		return info, fmt.Errorf("saml keys: withdrew %s, but %w: %w", kid, sso.ErrRetiredNotReloaded, err)
	}
	return info, nil
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
