package bridge_test

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/store/postgres/pgtest"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// Replicas starting together on an empty store make one OIDC signing key per algorithm, and
// all sign with it; replicas racing one rotation make one successor per algorithm. Four store
// handles (four pools on PostgreSQL, four handles on one SQLite file) stand for four replicas.
// Before AddSigningKeySuccessor each replica stored a first key of its own: up to 4 per
// algorithm, the replicas signing with different keys.
func TestKeyManagerFirstKeyOnceAcrossReplicas(t *testing.T) {
	const replicas = 4
	backends := map[string]func(t *testing.T) []sso.KeyStore{
		"sqlite": func(t *testing.T) []sso.KeyStore {
			path := filepath.Join(t.TempDir(), "shared.db")
			var out []sso.KeyStore
			for range replicas {
				st, err := sqlite.Open(t.Context(), path)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { st.Close() })
				out = append(out, st)
			}
			return out
		},
		"postgres": func(t *testing.T) []sso.KeyStore {
			dsn := pgtest.NewDatabase(t)
			var out []sso.KeyStore
			for range replicas {
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
	algs := []string{"RS256", "ES256", "EdDSA"}
	cfg := sso.KeyConfig{Algorithms: algs, RotateEvery: 2 * time.Hour, Prepublish: time.Hour,
		MaxTokenLifetime: time.Hour, EncryptionKey: bytes.Repeat([]byte{9}, 32),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// Replicas restarted with a prepublish window longer than the current keys have left to
	// sign: each makes their successors at start-up, so they race one rotation.
	rotating := cfg
	rotating.Prepublish = 3 * time.Hour
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			stores := open(t)
			managers := make([]*sso.KeyManager, replicas)
			race := func(round string, f func(i int) error) {
				t.Helper()
				errs := make([]error, replicas)
				var wg sync.WaitGroup
				begin := make(chan struct{})
				for i := range replicas {
					wg.Go(func() { <-begin; errs[i] = f(i) })
				}
				close(begin)
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Fatalf("%s: replica %d: %v", round, i, err)
					}
				}
			}
			check := func(round string, perAlg int) {
				t.Helper()
				keys, err := stores[0].SigningKeys(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				n := map[string]int{}
				for _, k := range keys {
					n[k.Algorithm]++
				}
				for _, alg := range algs {
					if n[alg] != perAlg {
						t.Errorf("%s: %d %s keys in the store, want %d", round, n[alg], alg, perAlg)
					}
					var kids []string
					for _, m := range managers {
						if err := m.Reload(t.Context()); err != nil {
							t.Fatal(err)
						}
						k, err := m.SigningKey(alg)
						if err != nil {
							t.Fatal(err)
						}
						kids = append(kids, k.ID())
					}
					for _, kid := range kids[1:] {
						if kid != kids[0] {
							t.Errorf("%s: the replicas sign %s with different keys: %v", round, alg, kids)
							break
						}
					}
				}
			}
			race("start", func(i int) (err error) {
				managers[i], err = sso.NewKeyManager(t.Context(), stores[i], cfg)
				return err
			})
			check("after starting together on an empty store", 1)
			race("rotation", func(i int) (err error) {
				managers[i], err = sso.NewKeyManager(t.Context(), stores[i], rotating)
				return err
			})
			check("after racing one rotation", 2)
		})
	}
}
