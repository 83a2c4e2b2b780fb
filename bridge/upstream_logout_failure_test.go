package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// upstreamLogoutFails is a store one of whose steps of an upstream logout fails once while armed.
type upstreamLogoutFails struct {
	store.Store
	step  string // "use", "lookup" or "end"
	err   error
	armed atomic.Bool
}

func (s *upstreamLogoutFails) fail(step string) error {
	if s.step == step && s.armed.CompareAndSwap(true, false) {
		return s.err
	}
	return nil
}

func (s *upstreamLogoutFails) UseHandoffToken(ctx context.Context, hash string, expires time.Time) error {
	if err := s.fail("use"); err != nil {
		return err
	}
	return s.Store.UseHandoffToken(ctx, hash, expires)
}

func (s *upstreamLogoutFails) UpstreamSessions(ctx context.Context, issuer, upstreamSubject, sid string) ([]string, error) {
	if err := s.fail("lookup"); err != nil {
		return nil, err
	}
	return s.Store.UpstreamSessions(ctx, issuer, upstreamSubject, sid)
}

func (s *upstreamLogoutFails) EndSessionWithEvents(ctx context.Context, id string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	if err := s.fail("end"); err != nil {
		return nil, err
	}
	return s.Store.EndSessionWithEvents(ctx, id, build)
}

// TestUpstreamLogoutFailureAnsweredAndRetried (review s20 X20-2; Back-Channel Logout 1.0
// sections 2.6 and 2.8): when the bridge cannot act on an upstream provider's logout token
// (the replay guard, the session lookup or the session's end fails), it answers 400 (2.8: the
// logout failed) JSON, temporarily_unavailable with Retry-After for an unreachable store, else
// server_error, and keeps no guard, so the provider's retry of the same token ends the session; that token,
// once acted on, is refused as a replay (400 JSON). Before, every such failure was echo's
// HTML 500 page, and a failure after the guard kept it for a day.
func TestUpstreamLogoutFailureAnsweredAndRetried(t *testing.T) {
	unavailable := fmt.Errorf("upstream sessions: %w", sso.ErrUnavailable)
	for _, tc := range []struct {
		step   string
		err    error
		status int
		code   string
	}{
		{"use", unavailable, http.StatusBadRequest, "temporarily_unavailable"},
		{"lookup", unavailable, http.StatusBadRequest, "temporarily_unavailable"},
		{"lookup", errors.New("no such table"), http.StatusBadRequest, "server_error"},
		{"end", unavailable, http.StatusBadRequest, "temporarily_unavailable"},
		{"end", errors.New("database is locked"), http.StatusBadRequest, "server_error"},
	} {
		t.Run(fmt.Sprintf("%s %s", tc.step, tc.code), func(t *testing.T) {
			var st *upstreamLogoutFails
			f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, envDeps{store: func(t testing.TB) store.Store {
				s, err := sqlite.Open(t.Context(), sqlite.Memory)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				st = &upstreamLogoutFails{Store: s, step: tc.step, err: tc.err}
				return st
			}})
			b := newHTTPFed(t, f)
			if p := b.do(http.MethodGet, b.toCallback(f, "corp").String(), nil); p.Location == "" {
				t.Fatalf("upstream sign-in did not reach the app: %d %.400s", p.Status, p.Body)
			}
			ctx := context.Background()
			subs, err := st.SubjectByMemberKey(ctx, mustMember(t, f.down, "alice").Key)
			if err != nil {
				t.Fatal(err)
			}
			live := func() int {
				s, err := st.Sessions(ctx, subs.Subject)
				if err != nil {
					t.Fatal(err)
				}
				return len(s)
			}
			tok, err := f.up.bridge.Keys().SignLogoutToken("RS256", sso.LogoutToken{Issuer: f.up.issuer, Audience: "association",
				Subject: identitySubject(t, f.up, mustMember(t, f.up, "alice").Key)})
			if err != nil {
				t.Fatal(err)
			}
			post := func() (*http.Response, map[string]any) {
				return postForm(t, f.down.issuer+"/upstream/corp/backchannel-logout", map[string]string{"logout_token": tok})
			}
			st.armed.Store(true)
			resp, body := post()
			if resp.StatusCode != tc.status || body["error"] != tc.code || resp.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("the failed logout: %d %s %v (Cache-Control %q), want %d %s", resp.StatusCode,
					resp.Header.Get("Content-Type"), body, resp.Header.Get("Cache-Control"), tc.status, tc.code)
			}
			if ra := resp.Header.Get("Retry-After"); (tc.code == "temporarily_unavailable") != (ra != "") {
				t.Fatalf("Retry-After %q on %d", ra, resp.StatusCode)
			}
			if n := live(); n != 1 {
				t.Fatalf("%d sessions after the failed logout", n)
			}
			if resp, body = post(); resp.StatusCode != http.StatusOK || live() != 0 {
				t.Fatalf("the provider's retry: %d %v, %d sessions live; want 200 and the session ended", resp.StatusCode, body, live())
			}
			if resp, body = post(); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
				t.Fatalf("a replay of the token acted on: %d %v, want 400 invalid_request", resp.StatusCode, body)
			}
		})
	}
}
