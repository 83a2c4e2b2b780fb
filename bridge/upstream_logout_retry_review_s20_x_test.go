package bridge_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// endFailsOnce is a store whose EndSessionWithEvents fails once while armed, as a store
// briefly unavailable does (a lock timeout, a PostgreSQL failover).
type endFailsOnce struct {
	store.Store
	armed atomic.Bool
}

func (s *endFailsOnce) EndSessionWithEvents(ctx context.Context, id string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	if s.armed.CompareAndSwap(true, false) {
		return nil, errors.New("end session with events: database is locked")
	}
	return s.Store.EndSessionWithEvents(ctx, id, build)
}

// TestUpstreamLogoutTokenRetriedAfterAFailure (review s20 X20-2; Back-Channel Logout 1.0 2.6
// and 2.8): an upstream provider's logout token that the bridge could not act on (the store
// failed while ending the session) is answered with an error, and the provider sending the
// same token again must have the session ended. Before: the jti was recorded as used before the
// sessions were ended and stayed recorded when ending them failed, so the retry was refused as
// "used already" (400) and the bridge session signed in through the provider outlived the
// member's sign-out there for good. (The bridge as a provider signs a fresh token per attempt,
// but providers that retry a delivery with the token they made, as the spec's jti check
// assumes of a replay, lose the logout.)
func TestUpstreamLogoutTokenRetriedAfterAFailure(t *testing.T) {
	var st *endFailsOnce
	f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, envDeps{store: func(t testing.TB) store.Store {
		s, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		st = &endFailsOnce{Store: s}
		return st
	}})
	b := newHTTPFed(t, f)
	cb := b.toCallback(f, "corp")
	if p := b.do(http.MethodGet, cb.String(), nil); p.Location == "" {
		t.Fatalf("upstream sign-in did not reach the app: %d %.400s", p.Status, p.Body)
	}
	ctx := context.Background()
	key := mustMember(t, f.down, "alice").Key
	subs, err := st.SubjectByMemberKey(ctx, key)
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
	if n := live(); n != 1 {
		t.Fatalf("%d bridge sessions after the upstream sign-in", n)
	}
	// The upstream's logout token for alice (sub only: every session of hers there).
	tok, err := f.up.bridge.Keys().SignLogoutToken("RS256", sso.LogoutToken{Issuer: f.up.issuer, Audience: "association",
		Subject: identitySubject(t, f.up, mustMember(t, f.up, "alice").Key)})
	if err != nil {
		t.Fatal(err)
	}
	st.armed.Store(true)
	resp, body := postForm(t, f.down.issuer+"/upstream/corp/backchannel-logout", map[string]string{"logout_token": tok})
	if resp.StatusCode == http.StatusOK {
		t.Fatalf("the store failed but the logout was answered 200 (%v)", body)
	}
	t.Logf("first answer (store failing): %d %v", resp.StatusCode, body)
	if n := live(); n != 1 {
		t.Fatalf("%d sessions after the failed logout", n)
	}
	resp, body = postForm(t, f.down.issuer+"/upstream/corp/backchannel-logout", map[string]string{"logout_token": tok})
	if resp.StatusCode != http.StatusOK || live() != 0 {
		t.Fatalf("the provider's retry of the same logout token: %d %v, %d sessions live; want 200 and the session ended",
			resp.StatusCode, body, live())
	}
}
