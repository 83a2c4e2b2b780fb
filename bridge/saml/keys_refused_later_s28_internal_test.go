package saml

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestKeyRingPassesOverRefusedLaterKey (session 28 K, s27 closing note "Left"): under
// keys.rsa_signer: openssl, a later SAML key this replica's libcrypto refuses is passed over
// while an older key still signs, as a refused RS256 key is (sso.KeyManager.SigningKey): the
// older key signs the responses in its place, the listing marks the refused key OpenSSLRefused
// and not signing, the error line says an older key signs in its place, and the refused key's
// certificate stays in the metadata. Before, the refused key was chosen at its turn and every
// SAML signature here failed until its own sign_until. Withdrawing the key that signs in its
// place makes a successor (as review s27 R4-1 for RS256), or nothing would sign here.
//
// The keys: K1 signs from the start; at the end of K1's turn, less its overlap, the rotation
// makes K2, signing from K1's sign_until, which libcrypto refuses (six primes); K1 is then
// withdrawn, and its successor S signs from a minute before the withdrawal, past K2's start.
// At K2's turn S and K2 both sign; K2, the later, was chosen.
func TestKeyRingPassesOverRefusedLaterKey(t *testing.T) {
	lib := openSSL(t)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	clock := func() time.Time { return now }
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ring, err := NewKeyRingWithOpenSSL(t.Context(), st, bytes.Repeat([]byte{7}, 32), config.SAMLConfig{}, "sso.example.org",
		log, clock, lib, true)
	if err != nil {
		t.Fatal(err)
	}
	k1, _, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}
	now = k1.signUntil.Add(-ring.overlap + time.Minute)
	ring.genRSA = func(random io.Reader, bits int) (*rsa.PrivateKey, error) {
		return rsa.GenerateMultiPrimeKey(random, 6, bits) //nolint:staticcheck // the point: a key libcrypto refuses
	}
	if created, err := ring.Rotate(t.Context()); err != nil || !created {
		t.Fatalf("Rotate: created %v, %v", created, err)
	}
	ring.genRSA = nil
	var k2 *signingKey
	for _, key := range ring.keys {
		if key.id != k1.id {
			k2 = key
		}
	}
	if k2 == nil || !k2.refused() {
		t.Fatalf("the rotation's key %+v is not refused by libcrypto", k2)
	}
	succ, err := ring.Retire(t.Context(), k1.id)
	if err != nil || succ == nil {
		t.Fatalf("Retire(K1): %v, successor %+v", err, succ)
	}
	if !succ.SignUntil.After(k2.createdAt) {
		t.Fatalf("the successor signs until %v, not past K2's start %v", succ.SignUntil, k2.createdAt)
	}

	now = k2.createdAt.Add(time.Minute) // K2's turn: K2 and the successor both sign
	cur, others, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}
	if cur.id != succ.ID {
		t.Fatalf("Signing chose %s, want %s (K2 %s is refused by libcrypto)", cur.id, succ.ID, k2.id)
	}
	digest := sha256.Sum256([]byte("a SAML response"))
	if _, err := cur.cryptoSigner().Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		t.Fatalf("the key that signs does not: %v", err)
	}
	if err := ring.OpenSSLSigns(); err != nil {
		t.Fatalf("OpenSSLSigns: %v", err)
	}
	inMetadata := false
	for _, c := range others {
		inMetadata = inMetadata || bytes.Equal(c.Raw, k2.cert.Raw)
	}
	if !inMetadata {
		t.Fatal("the refused key's certificate left the metadata")
	}
	list, err := ring.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		want := KeyInfo{Signing: k.ID == succ.ID, OpenSSLRefused: k.ID == k2.id}
		if k.Signing != want.Signing || k.OpenSSLRefused != want.OpenSSLRefused {
			t.Errorf("listed %s signing=%v refused=%v, want signing=%v refused=%v", k.ID, k.Signing, k.OpenSSLRefused,
				want.Signing, want.OpenSSLRefused)
		}
	}
	if l := logs.String(); !strings.Contains(l, "an older key that still signs signs in its place") || !strings.Contains(l, "kid="+k2.id) {
		t.Errorf("no error line says an older key signs in the refused key's place:\n%s", l)
	}

	// A server starting now does not start while its libcrypto refuses the latest key, as for
	// RS256 (sso.NewKeyManager): the start-up check is of that key, refused or not.
	if _, err := NewKeyRingWithOpenSSL(t.Context(), st, bytes.Repeat([]byte{7}, 32), config.SAMLConfig{}, "sso.example.org",
		slog.New(slog.DiscardHandler), clock, lib, true); !errors.Is(err, ErrOpenSSLRefused) {
		t.Fatalf("a ring started at the refused key's turn: %v, want ErrOpenSSLRefused", err)
	}

	// Withdrawing the successor, which signs here in K2's place: the store's view says K2
	// signs, this replica's says the successor does; a new successor signs here.
	succ2, err := ring.Retire(t.Context(), succ.ID)
	if err != nil || succ2 == nil {
		t.Fatalf("Retire of the key signing in place of the refused one: %v, successor %+v (nothing would sign here)", err, succ2)
	}
	if cur, _, err := ring.Signing(); err != nil || cur.id != succ2.ID || cur.refused() {
		t.Fatalf("after the withdrawal Signing chose %+v, %v; want %s", cur, err, succ2.ID)
	}

}

// TestDescribePassesOverRefusedKeys: the listing marks as signing the key Signing chooses: the
// latest that signs now and libcrypto did not refuse here, else the latest refused one (its
// signatures fail: nothing else signs).
func TestDescribePassesOverRefusedKeys(t *testing.T) {
	now := time.Now()
	key := func(id string, from, until time.Duration) *store.SAMLKey {
		return &store.SAMLKey{ID: id, CreatedAt: now.Add(from), SignUntil: now.Add(until), ExpiresAt: now.Add(until + time.Hour)}
	}
	older, later := key("older", -time.Hour, time.Hour), key("later", -time.Minute, 2*time.Hour)
	past := key("past", -2*time.Hour, -time.Minute)
	for _, tc := range []struct {
		name    string
		stored  []*store.SAMLKey
		refused map[string]bool
		want    string
	}{
		{"none refused: the later", []*store.SAMLKey{older, later}, nil, "later"},
		{"the later refused: the older", []*store.SAMLKey{older, later}, map[string]bool{"later": true}, "older"},
		{"the older refused: the later", []*store.SAMLKey{older, later}, map[string]bool{"older": true}, "later"},
		{"both refused: the later", []*store.SAMLKey{older, later}, map[string]bool{"older": true, "later": true}, "later"},
		{"the later refused, the other past its turn: the later", []*store.SAMLKey{past, later}, map[string]bool{"later": true}, "later"},
	} {
		var signing []string
		for _, k := range describe(tc.stored, now, tc.refused) {
			if k.Signing {
				signing = append(signing, k.ID)
			}
			if k.OpenSSLRefused != tc.refused[k.ID] {
				t.Errorf("%s: %s listed refused=%v", tc.name, k.ID, k.OpenSSLRefused)
			}
		}
		if len(signing) != 1 || signing[0] != tc.want {
			t.Errorf("%s: signing %v, want %s", tc.name, signing, tc.want)
		}
	}
}
