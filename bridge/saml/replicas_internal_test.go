package saml

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/xml"
	"errors"
	"math/big"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/cluster"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// Replicas starting together on a store without a SAML signing key make one key between them,
// and each signs with it at once (before any reload): two keys would have each replica sign
// with its own, and an SP that read one replica's metadata would refuse the other's responses.
// Then the same when they race one rotation. Each replica has its own store handle (its own
// connection pool) on one database.
func TestKeyRingCreatedOnceAcrossReplicas(t *testing.T) {
	backends := map[string]func(t *testing.T) []KeyStore{
		"sqlite": func(t *testing.T) []KeyStore {
			path := filepath.Join(t.TempDir(), "shared.db")
			var out []KeyStore
			for range 3 {
				st, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				out = append(out, st)
			}
			return out
		},
		"postgres": func(t *testing.T) []KeyStore {
			dsn := pgtest.NewDatabase(t)
			var out []KeyStore
			for range 3 {
				st, err := postgres.Open(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				out = append(out, st)
			}
			return out
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			stores := open(t)
			kek := bytes.Repeat([]byte{7}, 32)
			cfg := config.SAMLConfig{KeyRotateEvery: 100 * 24 * time.Hour, KeyOverlap: 10 * 24 * time.Hour}
			start := time.Now()
			var mu sync.Mutex
			now := start
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			rings := make([]*KeyRing, len(stores))
			errs := make([]error, len(stores))
			var wg sync.WaitGroup
			begin := make(chan struct{})
			for i, st := range stores {
				wg.Go(func() {
					<-begin
					rings[i], errs[i] = NewKeyRing(t.Context(), st, kek, cfg, "sso.example.org", quiet, clock)
				})
			}
			close(begin)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("replica %d: %v", i, err)
				}
			}
			signers := func(round string) string {
				t.Helper()
				ids := map[string]bool{}
				for _, r := range rings {
					k, _, err := r.Signing()
					if err != nil {
						t.Fatalf("%s: %v", round, err)
					}
					ids[k.id] = true
				}
				if len(ids) != 1 {
					t.Fatalf("%s: the replicas sign with %d different keys", round, len(ids))
				}
				for id := range ids {
					return id
				}
				return ""
			}
			first := signers("start")
			keys, err := stores[0].SAMLKeys(t.Context())
			if err != nil || len(keys) != 1 {
				t.Fatalf("start: %d keys stored (%v), want 1", len(keys), err)
			}

			// Day 91: every replica's rotation runs at once (as after a lease handover).
			mu.Lock()
			now = start.Add(91 * 24 * time.Hour)
			mu.Unlock()
			created := make([]bool, len(rings))
			begin = make(chan struct{})
			for i, r := range rings {
				wg.Go(func() {
					<-begin
					created[i], errs[i] = r.Rotate(t.Context())
				})
			}
			close(begin)
			wg.Wait()
			made := 0
			for i := range rings {
				if errs[i] != nil {
					t.Fatalf("rotate on replica %d: %v", i, errs[i])
				}
				if created[i] {
					made++
				}
			}
			keys, err = stores[0].SAMLKeys(t.Context())
			if err != nil || len(keys) != 2 || made != 1 {
				t.Fatalf("rotation: %d keys stored (%v), %d replicas say they made one; want 2 and 1", len(keys), err, made)
			}
			if got := signers("day 91"); got != first {
				t.Fatalf("day 91: the successor signs before its turn")
			}
			for i, r := range rings {
				if _, others, _ := r.Signing(); len(others) != 1 {
					t.Fatalf("day 91: replica %d publishes %d other certificates, want the successor", i, len(others))
				}
			}
		})
	}
}

// spMetadata is a real SP's metadata (crewjam/saml's ServiceProvider) at base.
func spMetadata(t *testing.T, base string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	u, _ := url.Parse(base)
	sp := crewjam.ServiceProvider{Key: key, Certificate: cert, MetadataURL: *u.JoinPath("saml/metadata"),
		AcsURL: *u.JoinPath("saml/acs"), SloURL: *u.JoinPath("saml/slo")}
	b, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An SP registered through one replica's registry is served by another replica's through the
// change notification, and so is its removal. Each replica has its own store handle and its own
// cluster node on one PostgreSQL database; B's clock stands still and its periodic fallback is an
// hour away, so nothing but the notification can tell B.
func TestRegistryChangeReachesOtherReplica(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := t.Context()
	open := func() (*postgres.Store, *cluster.Postgres) {
		st, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		node, err := cluster.OpenPostgres(ctx, cluster.PostgresOptions{DSN: dsn, Fallback: time.Hour, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { node.Close() })
		return st, node
	}
	stA, nodeA := open()
	stB, nodeB := open()
	frozen := time.Now()
	clock := func() time.Time { return frozen }
	regA, err := NewRegistry(config.SAMLConfig{}, stA, clock)
	if err != nil {
		t.Fatal(err)
	}
	regB, err := NewRegistry(config.SAMLConfig{}, stB, clock)
	if err != nil {
		t.Fatal(err)
	}
	regA.Changed = func(ctx context.Context) error { return nodeA.Notify(ctx, cluster.TopicSAML) }
	listening := make(chan struct{}, 1)
	nodeB.Subscribe(cluster.TopicSAML, func(ctx context.Context) error {
		select {
		case listening <- struct{}{}: // the first call comes once B listens
		default:
		}
		return regB.Refresh(ctx)
	})
	<-listening
	// B has read the registry (empty) and keeps it.
	if _, err := regB.ByID(ctx, "lms"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("B before the registration: %v", err)
	}

	if _, err := regA.Register(ctx, config.SAMLServiceProvider{ID: "lms", Name: "Learning Portal"},
		spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := regA.ByID(ctx, "lms"); err != nil {
		t.Fatalf("A after its registration: %v", err)
	}
	waitFor(t, "B serves the SP registered on A", func() bool { _, err := regB.ByID(ctx, "lms"); return err == nil })
	if _, err := regA.Remove(ctx, "lms"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B forgets the SP removed on A", func() bool {
		_, err := regB.ByID(ctx, "lms")
		return errors.Is(err, sso.ErrNotFound)
	})
}

// waitFor polls cond until it holds; it fails the test after 30 s (the fallback it must not
// wait for is an hour).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}
