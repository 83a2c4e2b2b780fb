package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// q28ClientRace is the bridge's store with two hooks: after is run once, right after the next
// auth request is stored (op has verified the client and the redirect_uri and accepted the
// request; the bridge has not read the client yet), and versionErr, when set, fails the
// client registry's version check (ClientsVersion), the read every reload of the registry
// begins with.
type q28ClientRace struct {
	store.Store
	mu         sync.Mutex
	after      func(ctx context.Context, ar *sso.AuthRequest)
	versionErr error
}

func (s *q28ClientRace) CreateAuthRequest(ctx context.Context, ar *sso.AuthRequest) error {
	if err := s.Store.CreateAuthRequest(ctx, ar); err != nil {
		return err
	}
	s.mu.Lock()
	f := s.after
	s.after = nil
	s.mu.Unlock()
	if f != nil {
		f(ctx, ar)
	}
	return nil
}

func (s *q28ClientRace) ClientsVersion(ctx context.Context) (int64, error) {
	s.mu.Lock()
	err := s.versionErr
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return s.Store.ClientsVersion(ctx)
}

func (s *q28ClientRace) set(after func(context.Context, *sso.AuthRequest), versionErr error) {
	s.mu.Lock()
	s.after, s.versionErr = after, versionErr
	s.mu.Unlock()
}

func (s *q28ClientRace) failVersion(err error) {
	s.mu.Lock()
	s.versionErr = err
	s.mu.Unlock()
}

// Session 28 (Q), closing s27 "/authorize's client-read fault is tested by calling
// answerAuthorized directly": session 27 Q made a fault reading the app's registration after
// op accepted a silent request (prompt=none) an answer at the app (server_error, or
// temporarily_unavailable when the store is unavailable, with state and iss), but its test
// called answerAuthorized with a fake provider. Here it happens through a real GET /authorize
// on the real server, store and client registry. The registry serves a client it holds even
// while the store fails, so the bridge's read after op's can fail only when the client left
// the registry in between and the store then failed: the race is an administrator removing
// the app (a dynamic client) while its sign-in is at /authorize, the registry reloading on the
// removal's notification, and the store failing the registry's next check. It is run in the
// window itself, from the store as op stores the request. The app hears the fault at its
// redirect_uri (op verified it); nothing is left written: no session, the request gone. A
// request that is not silent gets the 500 (503 with Retry-After) page, and no redirect.
func TestQ28AuthorizeClientReadFaultForReal(t *testing.T) {
	race := &q28ClientRace{}
	ws := newWrappedSQLite(t, func(s *sqlite.Store) store.Store { race.Store = s; return race })
	e := newEnvDeps(t, false, nil, envDeps{store: ws.open})
	st := ws.st
	locked := errors.New("database is locked")
	unavailable := fmt.Errorf("%w: connection refused", sso.ErrUnavailable)

	for i, tc := range []struct {
		name   string
		silent bool
		fault  error
		// wantError is what the app is told at its redirect_uri ("": a page, wantStatus).
		wantError  string
		wantStatus int
	}{
		{"silent, store fault", true, locked, "server_error", 0},
		{"silent, store unavailable", true, unavailable, "temporarily_unavailable", 0},
		{"page, store fault", false, locked, "", http.StatusInternalServerError},
		{"page, store unavailable", false, unavailable, "", http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			id := fmt.Sprintf("dyn%d", i)
			redirect := e.rp + "/" + id
			sc, err := sso.EncodeClient(&sso.ClientConfig{ID: id, Name: "Dynamic App", SecretHash: sso.HashSecret(webSecret),
				Trusted: true, RedirectURIs: []string{redirect}, Scopes: []string{"openid"},
				GrantTypes: []string{sso.GrantAuthorizationCode}}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateClient(ctx, sc); err != nil {
				t.Fatal(err)
			}
			if err := e.bridge.Registry().Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			var (
				requestID string
				ran       bool
			)
			race.set(func(rctx context.Context, ar *sso.AuthRequest) {
				if ar.ClientID != id {
					t.Errorf("the hook ran for a request of %q", ar.ClientID)
					return
				}
				ran, requestID = true, ar.ID
				// An administrator removes the app; the registry reloads on the notification
				// (and here once more, as a replica's check would: the same version, nothing
				// to do), then the store fails the registry's next check.
				if _, err := e.bridge.Admin().RemoveClient(context.WithoutCancel(rctx), "test", id); err != nil {
					t.Errorf("remove client: %v", err)
				}
				if err := e.bridge.Registry().Refresh(rctx); err != nil {
					t.Errorf("registry reload after the removal: %v", err)
				}
				race.failVersion(tc.fault)
				if err := e.bridge.Registry().Refresh(rctx); err == nil {
					t.Error("the registry's reload passed while the store failed")
				}
			}, nil)
			t.Cleanup(func() { race.set(nil, nil) })

			cfg := &oauth2.Config{ClientID: id, ClientSecret: webSecret, RedirectURL: redirect, Scopes: []string{"openid"},
				Endpoint: oauth2.Endpoint{AuthURL: e.issuer + sso.PathAuthorize}}
			opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(oauth2.GenerateVerifier())}
			if tc.silent {
				opts = append(opts, oauth2.SetAuthURLParam("prompt", "none"))
			}
			state := "st-" + id
			b := e.browser()
			a := q28Do(t, b, http.MethodGet, cfg.AuthCodeURL(state, opts...), nil, q28Navigation)
			if !ran {
				t.Fatalf("op did not accept the request (the race never ran): %d %q %.300s", a.status, a.location, a.body)
			}

			if tc.wantError != "" {
				if a.status != http.StatusSeeOther || !strings.HasPrefix(a.location, redirect+"?") {
					t.Fatalf("answered %d (Location %q): %.300s; want 303 to the app's redirect_uri", a.status, a.location, a.body)
				}
				u, _ := url.Parse(a.location)
				q := u.Query()
				if q.Get("error") != tc.wantError || q.Get("state") != state || q.Get("iss") != e.issuer || q.Get("code") != "" {
					t.Fatalf("the app is told %v, want error=%s with state %q and iss", q, tc.wantError, state)
				}
				if strings.Contains(a.location, "locked") || strings.Contains(a.location, "refused") {
					t.Fatalf("the store's text sent to the app: %s", a.location)
				}
			} else {
				if a.location != "" || a.status != tc.wantStatus {
					t.Fatalf("answered %d (Location %q), want the %d page", a.status, a.location, tc.wantStatus)
				}
				if tc.wantStatus == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
					t.Fatal("503 without Retry-After (RFC 9110 15.6.4)")
				}
				if strings.Contains(a.body, "not registered") || strings.Contains(a.body, "locked") || strings.Contains(a.body, "refused") {
					t.Fatalf("the page says: %.400s", a.body)
				}
			}
			// Nothing left written: the request ended, no session.
			race.failVersion(nil)
			if _, err := st.AuthRequest(ctx, requestID); !errors.Is(err, sso.ErrNotFound) {
				t.Errorf("the request is still stored (%v)", err)
			}
			if all, err := st.Sessions(ctx, ""); err != nil || len(all) != 0 {
				t.Errorf("sessions: %d (%v), want none", len(all), err)
			}
		})
	}
}
