package saml

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// retireRing is a key ring over a SQLite store that shares its clock.
func retireRing(t *testing.T, now *time.Time, cfg config.SAMLConfig) (*KeyRing, *sqlite.Store) {
	t.Helper()
	return retireRingAt(t, filepath.Join(t.TempDir(), "t.db"), now, cfg)
}

func retireRingAt(t *testing.T, path string, now *time.Time, cfg config.SAMLConfig) (*KeyRing, *sqlite.Store) {
	t.Helper()
	clock := func() time.Time { return *now }
	st, err := sqlite.Open(t.Context(), path, sqlite.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ring, err := NewKeyRing(t.Context(), st, bytes.Repeat([]byte{7}, 32), cfg, "sso.example.org", quiet, clock)
	if err != nil {
		t.Fatal(err)
	}
	return ring, st
}

func keyIDs(list []KeyInfo) []string {
	var out []string
	for _, k := range list {
		out = append(out, k.ID)
	}
	return out
}

// TestKeyRingRetire: withdrawing the key that signs makes a successor that signs at once and
// is the only key left published; the withdrawn key is refused a second time, unknown keys
// are not found, another ring (a CLI) with another key-encryption key is refused and changes
// nothing; withdrawing the key published ahead of its turn makes the next one at once when one
// is due; a withdrawal of the key published after (no longer signing) makes no successor.
func TestKeyRingRetire(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	ring, st := retireRing(t, &now, cfg)
	first, _, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}

	// Another key-encryption key (a CLI with another configuration) is refused: nothing changes.
	other, err := OpenKeyRing(st, bytes.Repeat([]byte{8}, 32), cfg, "sso.example.org", quiet, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Retire(t.Context(), first.id); !errors.Is(err, sso.ErrOtherEncryptionKey) {
		t.Fatalf("Retire with another key-encryption key: %v, want sso.ErrOtherEncryptionKey", err)
	}
	if list, _ := ring.Keys(t.Context()); !slices.Equal(keyIDs(list), []string{first.id}) || !list[0].Signing {
		t.Fatalf("keys after a refused withdrawal: %+v", list)
	}

	succ, err := ring.Retire(t.Context(), first.id)
	if err != nil || succ == nil || !succ.Signing || succ.ID == first.id {
		t.Fatalf("Retire(the signing key) = %+v, %v; want a successor that signs", succ, err)
	}
	k, others, err := ring.Signing()
	if err != nil || k.id != succ.ID || len(others) != 0 {
		t.Fatalf("after the withdrawal: signing %v with %d other certificates (%v), want %s alone", k, len(others), err, succ.ID)
	}
	signsWith(t, k)
	if fingerprint(k.cert.Raw) != succ.CertSHA256 {
		t.Fatalf("successor's fingerprint %s, its certificate's %s", succ.CertSHA256, fingerprint(k.cert.Raw))
	}
	if list, _ := ring.Keys(t.Context()); !slices.Equal(keyIDs(list), []string{succ.ID}) {
		t.Fatalf("Keys after the withdrawal = %v, want the successor only", keyIDs(list))
	}
	if _, err := ring.Retire(t.Context(), first.id); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Retire(withdrawn already) = %v, want sso.ErrNotFound", err)
	}
	if _, err := ring.Retire(t.Context(), "no-such-key"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Retire(unknown) = %v, want sso.ErrNotFound", err)
	}
	// The lease holder's rotation does not bring the withdrawn key back, and makes nothing.
	if created, err := ring.Rotate(t.Context()); err != nil || created {
		t.Fatalf("Rotate after the withdrawal: created %v, %v", created, err)
	}

	// Into the overlap: the next key is published ahead of its turn. Withdrawing it makes
	// no successor of its own, but the next one at once (the signing key stops within the
	// overlap).
	now = now.Add(91 * 24 * time.Hour)
	if created, err := ring.Rotate(t.Context()); err != nil || !created {
		t.Fatalf("Rotate into the overlap: created %v, %v", created, err)
	}
	list, _ := ring.Keys(t.Context())
	if len(list) != 2 || list[0].ID != succ.ID || !list[0].Signing || list[1].Signing {
		t.Fatalf("keys in the overlap: %+v", list)
	}
	ahead := list[1]
	if s, err := ring.Retire(t.Context(), ahead.ID); err != nil || s != nil {
		t.Fatalf("Retire(the key published ahead) = %+v, %v; want no successor", s, err)
	}
	list, _ = ring.Keys(t.Context())
	if len(list) != 2 || list[0].ID != succ.ID || list[1].ID == ahead.ID || !list[1].Created.Equal(succ.SignUntil) {
		t.Fatalf("keys after withdrawing the key published ahead: %+v, want %s and a new next key from %v", list, succ.ID, succ.SignUntil)
	}

	// After the turn: the earlier key, published an overlap after it stops, is withdrawn
	// without a successor; the key that signs stays.
	now = now.Add(10 * 24 * time.Hour)
	if _, err := ring.Rotate(t.Context()); err != nil {
		t.Fatal(err)
	}
	list, _ = ring.Keys(t.Context())
	if len(list) != 2 || list[0].ID != succ.ID || list[0].Signing || !list[1].Signing {
		t.Fatalf("keys after the turn: %+v", list)
	}
	if s, err := ring.Retire(t.Context(), succ.ID); err != nil || s != nil {
		t.Fatalf("Retire(the key published after) = %+v, %v; want no successor", s, err)
	}
	if k, others, _ := ring.Signing(); k.id != list[1].ID || len(others) != 0 {
		t.Fatalf("after withdrawing the key published after: signing %s with %d others, want %s alone", k.id, len(others), list[1].ID)
	}
}

// TestKeyRingRetireReplicas: a replica that did not withdraw the key drops it at its reload
// (the TopicKeys notification, or SQLite's fallback poll), whatever its clock says, and signs
// with the successor; its metadata publishes the successor's certificate only.
func TestKeyRingRetireReplicas(t *testing.T) {
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	ti := newTestIdP(t)
	ring := ti.h.Keys
	first, _, err := ring.Signing()
	if err != nil {
		t.Fatal(err)
	}
	// The administration's ring: opened on the same store, makes no key.
	admin, err := OpenKeyRing(ring.store, ring.kek, cfg, "sso.example.org", quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if list, err := admin.Keys(t.Context()); err != nil || !slices.Equal(keyIDs(list), []string{first.id}) {
		t.Fatalf("the administration's ring lists %v (%v), want %s", keyIDs(list), err, first.id)
	}
	succ, err := admin.Retire(t.Context(), first.id)
	if err != nil || succ == nil {
		t.Fatalf("Retire = %+v, %v", succ, err)
	}
	// Until it reloads, the server's ring signs with the withdrawn key (it has not heard).
	if k, _, _ := ring.Signing(); k.id != first.id {
		t.Fatalf("before the reload the server signs with %s", k.id)
	}
	if err := ring.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	k, others, err := ring.Signing()
	if err != nil || k.id != succ.ID || len(others) != 0 {
		t.Fatalf("after the reload: signing %v with %d others (%v), want %s alone", k, len(others), err, succ.ID)
	}

	rec := httptest.NewRecorder()
	c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "https://sso.example.org"+PathMetadata, nil), rec)
	if err := ti.h.metadata(c); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("metadata: %d %v", rec.Code, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	var certs []string
	for _, c := range doc.FindElements("//KeyDescriptor[@use='signing']//X509Certificate") {
		certs = append(certs, c.Text())
	}
	if want := base64.StdEncoding.EncodeToString(k.cert.Raw); len(certs) != 1 || certs[0] != want {
		t.Fatalf("metadata certificates after the withdrawal: %d, want the successor's only", len(certs))
	}
}

// TestKeyRingRetireConcurrent: administrators withdrawing the signing key at once (on one
// ring or on two) withdraw it once: one gets the successor, the others sso.ErrNotFound, and
// one key signs after.
func TestKeyRingRetireConcurrent(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	ring, st := retireRing(t, &now, cfg)
	first, _, _ := ring.Signing()
	second, err := OpenKeyRing(st, ring.kek, cfg, "sso.example.org", quiet, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		won   []*KeyInfo
		errs  []error
		begin = make(chan struct{})
	)
	for i := range 6 {
		r := ring
		if i%2 == 1 {
			r = second
		}
		wg.Go(func() {
			<-begin
			s, err := r.Retire(t.Context(), first.id)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won = append(won, s)
			case !errors.Is(err, sso.ErrNotFound):
				errs = append(errs, err)
			}
		})
	}
	close(begin)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(won) != 1 || won[0] == nil {
		t.Fatalf("%d withdrawals succeeded, want 1 with a successor", len(won))
	}
	if err := ring.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if list, _ := ring.Keys(t.Context()); !slices.Equal(keyIDs(list), []string{won[0].ID}) {
		t.Fatalf("keys after concurrent withdrawals: %v, want %s alone", keyIDs(list), won[0].ID)
	}
}

// TestKeyRingRetireLaggingReplica: a replica whose clock (its store's too) is behind the
// withdrawing process's drops the withdrawn key at its reload, though by its clock the key's
// expiry is still ahead, and signs with the successor alone.
func TestKeyRingRetireLaggingReplica(t *testing.T) {
	cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
	path := filepath.Join(t.TempDir(), "t.db")
	lagging := time.Now().Truncate(time.Second)
	server, _ := retireRingAt(t, path, &lagging, cfg)
	first, _, err := server.Signing()
	if err != nil {
		t.Fatal(err)
	}
	ahead := lagging.Add(30 * time.Second)
	_, st := retireRingAt(t, path, &ahead, cfg)
	admin, err := OpenKeyRing(st, server.kek, cfg, "sso.example.org", quiet, func() time.Time { return ahead })
	if err != nil {
		t.Fatal(err)
	}
	succ, err := admin.Retire(t.Context(), first.id)
	if err != nil || succ == nil {
		t.Fatalf("Retire = %+v, %v", succ, err)
	}
	if err := server.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if k, others, err := server.Signing(); err != nil || k.id != succ.ID || len(others) != 0 {
		t.Fatalf("the lagging replica signs with %v and %d others (%v), want %s alone", k, len(others), err, succ.ID)
	}
	if list, _ := server.Keys(t.Context()); !slices.Equal(keyIDs(list), []string{succ.ID}) {
		t.Fatalf("the lagging replica lists %v, want %s alone", keyIDs(list), succ.ID)
	}
}
