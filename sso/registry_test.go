package sso_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// versionFailing is a store whose ClientsVersion fails while down is set, and whose Clients
// fails while loadDown is.
type versionFailing struct {
	*memstore.Store
	down, loadDown atomic.Bool
}

func (s *versionFailing) Clients(ctx context.Context) ([]*sso.StoredClient, error) {
	if s.loadDown.Load() {
		return nil, errors.New("disk I/O error")
	}
	return s.Store.Clients(ctx)
}

func (s *versionFailing) ClientsVersion(ctx context.Context) (int64, error) {
	if s.down.Load() {
		return 0, errors.New("database is locked")
	}
	return s.Store.ClientsVersion(ctx)
}

// TestRegistryRefreshFailureIsNotUnknownClient: with a zero check interval (the bridge's, with
// its cluster node) lookups never reload; Refresh does, on a change notification or a poll. Its
// failure, at the version check or at the load, is kept until a Refresh succeeds: meanwhile a
// cached client is served and an id the cache lacks is the store's failure, for every lookup,
// not sso.ErrNotFound (invalid_client). Review: 3409e08 reported only a lookup's own reload.
func TestRegistryRefreshFailureIsNotUnknownClient(t *testing.T) {
	ctx := t.Context()
	mem := memstore.New()
	st := &versionFailing{Store: mem}
	addClient := func(id string) {
		t.Helper()
		sc, err := sso.EncodeClient(&sso.ClientConfig{ID: id, SecretHash: sso.HashSecret(svcSecret),
			GrantTypes: []string{sso.GrantClientCredentials}, Scopes: []string{"api.read"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.CreateClient(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	addClient("cached")
	reg, err := sso.NewRegistry(ctx, st, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		down *atomic.Bool
	}{
		{"version check fails", &st.down},
		{"load fails", &st.loadDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addClient("added-" + strings.ReplaceAll(tc.name, " ", "-")) // moves the version
			tc.down.Store(true)
			if err := reg.Refresh(ctx); err == nil {
				t.Fatal("Refresh with the store failing: nil error")
			}
			for i := range 2 { // every lookup hears of it, not only the first
				if c, err := reg.ClientConfig(ctx, "cached"); err != nil || c.ID != "cached" {
					t.Fatalf("lookup %d: cached client after a failed Refresh: %v, %v", i, c, err)
				}
				_, err := reg.ClientConfig(ctx, "nobody")
				if err == nil || errors.Is(err, sso.ErrNotFound) {
					t.Fatalf("lookup %d: uncached id after a failed Refresh: %v, want the store's error", i, err)
				}
			}
			tc.down.Store(false)
			if err := reg.Refresh(ctx); err != nil {
				t.Fatalf("Refresh with the store back: %v", err)
			}
			if _, err := reg.ClientConfig(ctx, "nobody"); !errors.Is(err, sso.ErrNotFound) {
				t.Fatalf("unknown id after a successful Refresh: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestRegistryReloadFailureIsNotUnknownClient: while the store cannot be read, a cached client
// is still served, but an id the cache lacks is the store's failure, not sso.ErrNotFound, and
// the token endpoint answers server_error (500), not invalid_client (RFC 6749 5.2 is for an
// unknown client or a failed authentication): the client may have been registered meanwhile.
// Review s14 RV3-4: the failure was reported as "no such client".
func TestRegistryReloadFailureIsNotUnknownClient(t *testing.T) {
	ctx := t.Context()
	mem, keys, _, hooks, cfg := harnessParts(t, "http://127.0.0.1:1")
	st := &versionFailing{Store: mem}
	addClient := func(id string) {
		t.Helper()
		sc, err := sso.EncodeClient(&sso.ClientConfig{ID: id, SecretHash: sso.HashSecret(svcSecret),
			GrantTypes: []string{sso.GrantClientCredentials}, Scopes: []string{"api.read"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := mem.CreateClient(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	addClient("cached")
	reg, err := sso.NewRegistry(ctx, st, nil, time.Nanosecond) // every lookup checks the version
	if err != nil {
		t.Fatal(err)
	}
	p, err := sso.New(cfg, st, keys, reg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	token := func(id string) (int, string) {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}
		r := httptest.NewRequest(http.MethodPost, sso.PathToken, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, svcSecret)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}

	addClient("added") // while the store fails, the registry cannot know it
	st.down.Store(true)
	if c, err := reg.ClientConfig(ctx, "cached"); err != nil || c.ID != "cached" {
		t.Fatalf("cached client while the store fails: %v, %v", c, err)
	}
	_, err = reg.ClientConfig(ctx, "added")
	if err == nil || errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("uncached client while the store fails: %v, want the store's error", err)
	}
	if code, body := token("added"); code != http.StatusInternalServerError || !strings.Contains(body, "server_error") {
		t.Fatalf("token request of an uncached client while the store fails: %d %s, want 500 server_error", code, body)
	}
	if code, body := token("cached"); code != http.StatusOK {
		t.Fatalf("token request of a cached client while the store fails: %d %s", code, body)
	}

	st.down.Store(false)
	if _, err := reg.ClientConfig(ctx, "nobody"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("unknown client with the store back: %v, want ErrNotFound", err)
	}
	if code, body := token("nobody"); code != http.StatusUnauthorized || !strings.Contains(body, "invalid_client") {
		t.Fatalf("token request of an unknown client: %d %s, want 401 invalid_client", code, body)
	}
	if code, body := token("added"); code != http.StatusOK {
		t.Fatalf("token request of the added client with the store back: %d %s", code, body)
	}
}
