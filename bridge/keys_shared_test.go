package bridge_test

import (
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// Session 27 (T): RSA-2048 key generation was most of this package's CPU time (a profile of
// the SAML, admin and device tests: 64%, of it a third each the SAML SPs' keys, the bridge's
// RS256 key and its SAML key), made again for every bridge and every SP. These are read-only
// fixtures: the n-th of a top-level test's SPs (or bridges) gets the n-th key (key set) of the
// package run, so that two SPs (bridges) of one test never share a key, as before, while the
// tests do not each pay for new ones. No test of key generation, rotation or loading is
// served from here (see sharedBridgeKeys).

// sharedKeys hands out RSA keys and bridge key sets by their ordinal within a top-level test.
type sharedKeys struct {
	mu     sync.Mutex
	rsa    []*rsa.PrivateKey
	sets   map[string]*bridgeKeySet // by ordinal and configuration
	counts map[string]int           // by top-level test and kind: how many handed out
}

var testKeys = &sharedKeys{sets: map[string]*bridgeKeySet{}, counts: map[string]int{}}

// ordinal is the number of kind the top-level test of t has had so far (0 first).
func (k *sharedKeys) ordinal(t testing.TB, kind string) int {
	top, _, _ := strings.Cut(t.Name(), "/")
	n := k.counts[top+"\x00"+kind]
	k.counts[top+"\x00"+kind] = n + 1
	return n
}

// spKey is the RSA-2048 key of t's next SAML SP (or other test party): distinct from every
// other key handed to t's top-level test.
func spKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k := testKeys
	k.mu.Lock()
	defer k.mu.Unlock()
	i := k.ordinal(t, "rsa")
	for len(k.rsa) <= i {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		k.rsa = append(k.rsa, key)
	}
	return k.rsa[i]
}

// bridgeKeySet is what a new bridge stored as its keys on an empty store: the OIDC signing
// keys and the SAML IdP key, as rows (sealed under the harness's all-zero encryption key).
type bridgeKeySet struct {
	made time.Time
	sso  []*sso.StoredKey
	saml []*store.SAMLKey
}

// sharedBridgeKeys is for a bridge of t over the new, empty SQLite store st under cfg: when an
// earlier bridge of the same ordinal (within its top-level test) and the same key settings made
// its keys, they are stored in st now, so that bridge.New finds them and makes none (as a
// bridge started on a store whose keys another replica made a few minutes before); otherwise
// the returned func, called after bridge.New, keeps the keys it made for the next such bridge.
// Bridges whose key timing is not the default (keys.rotate_every, the SAML key rotation)
// always make their own, as do the tests that read the start-up log (logged) and those that
// bring their own store.
func sharedBridgeKeys(t testing.TB, st *sqlite.Store, cfg bridge.Config, issuerHost string, logged bool) func() {
	t.Helper()
	def := bridge.Defaults()
	if st == nil || logged || cfg.Keys.RotateEvery != def.Keys.RotateEvery ||
		cfg.SAML.KeyRotateEvery != def.SAML.KeyRotateEvery || cfg.SAML.KeyOverlap != def.SAML.KeyOverlap {
		return func() {}
	}
	k := testKeys
	k.mu.Lock()
	defer k.mu.Unlock()
	id := fmt.Sprintf("%d|%s|%+v|%+v", k.ordinal(t, "bridge"), issuerHost, cfg.Keys, cfg.Tokens)
	ctx := t.Context()
	if set := k.sets[id]; set != nil && time.Since(set.made) < time.Hour {
		for _, sk := range set.sso {
			if err := st.AddSigningKey(ctx, sk); err != nil {
				t.Fatal(err)
			}
		}
		for _, sk := range set.saml {
			if err := st.AddSAMLKey(ctx, sk); err != nil {
				t.Fatal(err)
			}
		}
		return func() {}
	}
	return func() {
		t.Helper()
		set := &bridgeKeySet{made: time.Now()}
		var err error
		if set.sso, err = st.SigningKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if set.saml, err = st.SAMLKeys(ctx); err != nil {
			t.Fatal(err)
		}
		k.mu.Lock()
		defer k.mu.Unlock()
		k.sets[id] = set
	}
}
