package sso_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// Review s25: the token endpoint's answers when something other than the grant
// itself fails (the AMS behind the hooks, the store), and what the client's retry then gets.

// x25Hooks are the harness's hooks whose CheckGrant, CheckSignIn and Claims fail while told
// to (the AMS away for a moment).
type x25Hooks struct {
	*fakeHooks
	grantErr, signInErr, claimsErr atomic.Pointer[error]
}

func (h *x25Hooks) CheckGrant(ctx context.Context, subject, clientID string) error {
	if e := h.grantErr.Load(); e != nil {
		return *e
	}
	return h.fakeHooks.CheckGrant(ctx, subject, clientID)
}

func (h *x25Hooks) CheckSignIn(_ context.Context, _, _ string, _ time.Time, _ []string) error {
	if e := h.signInErr.Load(); e != nil {
		return *e
	}
	return nil
}

func (h *x25Hooks) Claims(ctx context.Context, subject, clientID string, scopes []string, target sso.ClaimTarget) (map[string]any, error) {
	if e := h.claimsErr.Load(); e != nil {
		return nil, *e
	}
	return h.fakeHooks.Claims(ctx, subject, clientID, scopes, target)
}

// x25FamilyStore fails its family reads while told to, with an error that is not
// sso.ErrUnavailable (a disk I/O error, a driver fault).
type x25FamilyStore struct {
	*memstore.Store
	err *atomic.Pointer[error]
}

func (s x25FamilyStore) Family(ctx context.Context, id string) (*sso.RefreshToken, error) {
	if e := s.err.Load(); e != nil {
		return nil, *e
	}
	return s.Store.Family(ctx, id)
}

// x25FamilyStoreErr is where x25FamilyStore's error is set (nil: reads work).
type x25FamilyStoreErr = atomic.Pointer[error]

// newX25Harness is newHarness with x25Hooks, on a store whose family reads fail while famErr
// holds an error.
func newX25Harness(t *testing.T) (*harness, *x25Hooks, *atomic.Pointer[error]) {
	t.Helper()
	return newX25HarnessOn(t, nil)
}

// newX25HarnessOn is newX25Harness on st0 (a replica of another harness; nil: a new store).
func newX25HarnessOn(t *testing.T, st0 *memstore.Store) (*harness, *x25Hooks, *atomic.Pointer[error]) {
	t.Helper()
	h := newHarnessOn(t, st0, nil)
	st, keys, reg, fh, cfg := harnessPartsOn(t, h.issuer, h.store)
	famErr := new(atomic.Pointer[error])
	hooks := &x25Hooks{fakeHooks: fh}
	p, err := sso.New(cfg, x25FamilyStore{st, famErr}, keys, reg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	h.srv.Config.Handler = p
	h.p, h.hooks = p, fh
	return h, hooks, famErr
}

func x25Refresh(h *harness, rt string) (int, map[string]any) {
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "web:"+webSecret)
	return status, body
}

// X-1 (High): a refresh the server could not decide (the AMS unreachable while the member is
// checked, the store failing to read the family) is answered 400 invalid_grant with an empty
// description: refreshGrant.exchange wraps every refreshRequestByToken error, its
// server_error included, in invalid_grant, and writeOpError answers the outer type. A client
// drops a refresh token on invalid_grant (RFC 6749 5.2: the grant is invalid), so an AMS
// outage signs every member out of every app that refreshes during it, although Hooks says
// "an unreachable AMS is a server error (the grant stays valid)" and the other member grants
// answer 503 temporarily_unavailable (memberAllowed). Fails on main: 400 invalid_grant "".
func TestX25RefreshServerFaultIsNotInvalidGrant(t *testing.T) {
	amsDown := fmt.Errorf("claims: %w", errors.New("legacy: membership system unavailable: dial tcp: connection refused"))
	diskIO := errors.New("sqlite: family: disk I/O error")
	for _, tc := range []struct {
		name string
		fail func(*x25Hooks, *atomic.Pointer[error]) func()
	}{
		{"CheckGrant: AMS unreachable", func(hk *x25Hooks, _ *atomic.Pointer[error]) func() {
			hk.grantErr.Store(&amsDown)
			return func() { hk.grantErr.Store(nil) }
		}},
		{"CheckSignIn: AMS unreachable", func(hk *x25Hooks, _ *atomic.Pointer[error]) func() {
			hk.signInErr.Store(&amsDown)
			return func() { hk.signInErr.Store(nil) }
		}},
		{"store: family read fails", func(_ *x25Hooks, fe *atomic.Pointer[error]) func() {
			fe.Store(&diskIO)
			return func() { fe.Store(nil) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The refresh on a replica: the family is not in its family cache, so it is read.
			origin := newHarness(t)
			tok := origin.tokens("alice", "openid", "offline_access")
			h, hooks, famErr := newX25HarnessOn(t, origin.store)
			restore := tc.fail(hooks, famErr)
			status, body := x25Refresh(h, tok.RefreshToken)
			restore()
			if status < 500 || body["error"] == "invalid_grant" {
				t.Errorf("refresh while the server cannot decide: %d %v, want a 5xx (server_error or temporarily_unavailable), never invalid_grant", status, body)
			}
			if status, body := x25Refresh(h, tok.RefreshToken); status != http.StatusOK {
				t.Errorf("the same refresh token once the fault is gone: %d %v, want 200", status, body)
			}
		})
	}
}

// X-2 (Medium): the ID token's claims (Hooks.Claims; in the bridge the member's AMS read, which
// the code grant makes for the first time there) are read after IssueTokens has consumed the
// code or rotated the refresh token. When that read fails the client is told 500, or 503
// ("keep your code or refresh token and try again": writeGrantError), and its retry is then a
// replay: the code's grant is revoked and token.code_replay audited, or the family is revoked
// as a reused refresh token and token.refresh_reuse audited. Fails on main: the retries get
// 400 invalid_grant ("invalid code"; "refresh token already used; the grant has been
// revoked") with the replay and reuse events.
func TestX25FailureAfterTheGrantWriteLeavesTheRetry(t *testing.T) {
	unavailable := fmt.Errorf("claims: %w", sso.ErrUnavailable)
	amsDown := fmt.Errorf("claims: %w", errors.New("legacy: membership system unavailable: dial tcp: connection refused"))
	for _, fault := range []struct {
		name string
		err  error
	}{{"claims unavailable (503)", unavailable}, {"claims fail (500)", amsDown}} {
		t.Run("code/"+fault.name, func(t *testing.T) {
			h, hooks, _ := newX25Harness(t)
			code, verifier := h.code("alice", "openid", "profile", "offline_access")
			hooks.claimsErr.Store(&fault.err)
			status, body := h.exchange("web", code, verifier, webRedirect)
			hooks.claimsErr.Store(nil)
			if status < 500 {
				t.Fatalf("exchange while the claims fail: %d %v, want a 5xx", status, body)
			}
			status, body = h.exchange("web", code, verifier, webRedirect)
			if status != http.StatusOK || h.hooks.sawEvent("token.code_replay") {
				t.Errorf("the client's retry of the code it was told to keep: %d %v (token.code_replay audited: %v), want 200 and no replay",
					status, body, h.hooks.sawEvent("token.code_replay"))
			}
		})
		t.Run("refresh/"+fault.name, func(t *testing.T) {
			h, hooks, _ := newX25Harness(t)
			tok := h.tokens("alice", "openid", "offline_access")
			hooks.claimsErr.Store(&fault.err)
			status, body := x25Refresh(h, tok.RefreshToken)
			hooks.claimsErr.Store(nil)
			if status < 500 {
				t.Fatalf("refresh while the claims fail: %d %v, want a 5xx", status, body)
			}
			status, body = x25Refresh(h, tok.RefreshToken)
			if status != http.StatusOK || h.hooks.sawEvent("token.refresh_reuse") {
				t.Errorf("the client's retry with the refresh token it still holds: %d %v (token.refresh_reuse audited: %v), want 200 and no reuse",
					status, body, h.hooks.sawEvent("token.refresh_reuse"))
			}
		})
	}
}
