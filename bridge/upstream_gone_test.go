package bridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/upstream"
	"github.com/ssobridge/ssobridge/sso"
)

// TestUpstreamCallbackOfAGoneRequest (end-of-session review s12 RV2-5): the provider's answer
// comes back after the app's sign-in request is gone (expired, or removed): the member gets
// "This sign-in has expired" and the app no code, and the callback reads the request once
// (before, finish read it again). It reads it first (end-of-session review s13 RV1-4): nothing
// else happens, the identity the provider answered for (verified e-mail, linking by e-mail on)
// is not linked to the member with that address; before, it was linked, and then the sign-in
// said "expired".
func TestUpstreamCallbackOfAGoneRequest(t *testing.T) {
	var wc *writeCounter
	f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, envDeps{store: countedStore(&wc)})
	b := newHTTPFed(t, f)
	cb := b.toCallback(f, "corp")
	ctx := t.Context()
	l, err := wc.UpstreamLogin(ctx, sso.HashToken("upstream-state:"+cb.Query().Get("state")))
	if err != nil || l.AuthRequestID == "" {
		t.Fatalf("the pending upstream sign-in: %+v %v", l, err)
	}
	if err := wc.DeleteAuthRequest(ctx, l.AuthRequestID); err != nil {
		t.Fatal(err)
	}
	reads := wc.authRequestReads.Load()
	p := b.do(http.MethodGet, cb.String(), nil)
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "This sign-in has expired") ||
		!strings.Contains(p.Body, "The sign-in link is no longer valid") || strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("callback of a gone request: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	if n := wc.authRequestReads.Load() - reads; n != 1 {
		t.Errorf("the callback read its sign-in request %d times, want 1", n)
	}
	if evs, err := wc.AuditEvents(ctx, store.AuditFilter{Event: "upstream.linked"}); err != nil || len(evs) != 0 {
		t.Errorf("the callback of a gone request linked the identity: %+v %v", evs, err)
	}
	if l, err := wc.UpstreamLogin(ctx, l.ID); err != nil || l.State != store.UpstreamDone {
		t.Errorf("the pending upstream sign-in after the callback: %+v %v, want done", l, err)
	}
}

// TestUpstreamCallbackOfAFinishedRequest: as TestUpstreamCallbackOfAGoneRequest, for a sign-in
// request finished meanwhile (the member signed in another way): the callback links nothing
// and says the request was used (end-of-session review s14).
func TestUpstreamCallbackOfAFinishedRequest(t *testing.T) {
	var wc *writeCounter
	f := newFederationDeps(t, true, func(p *upstream.ProviderConfig) { p.LinkByEmail = true }, envDeps{store: countedStore(&wc)})
	b := newHTTPFed(t, f)
	cb := b.toCallback(f, "corp")
	ctx := t.Context()
	l, err := wc.UpstreamLogin(ctx, sso.HashToken("upstream-state:"+cb.Query().Get("state")))
	if err != nil || l.AuthRequestID == "" {
		t.Fatalf("the pending upstream sign-in: %+v %v", l, err)
	}
	ar, err := wc.AuthRequest(ctx, l.AuthRequestID)
	if err != nil {
		t.Fatal(err)
	}
	if err := wc.CompleteAuthRequest(ctx, l.AuthRequestID, sso.Completion{Subject: "someone", AuthTime: time.Now(),
		AMR: []string{"pwd"}, SessionID: "s", Browser: ar.Browser}); err != nil {
		t.Fatal(err)
	}
	p := b.do(http.MethodGet, cb.String(), nil)
	if p.Status == http.StatusOK || strings.HasPrefix(p.Location, f.rp.srv.URL) {
		t.Fatalf("callback of a finished request: %d %q %.400s", p.Status, p.Location, p.Body)
	}
	if evs, err := wc.AuditEvents(ctx, store.AuditFilter{Event: "upstream.linked"}); err != nil || len(evs) != 0 {
		t.Errorf("the callback of a finished request linked the identity: %+v %v", evs, err)
	}
	if l, err := wc.UpstreamLogin(ctx, l.ID); err != nil || l.State != store.UpstreamDone {
		t.Errorf("the pending upstream sign-in after the callback: %+v %v, want done", l, err)
	}
}
