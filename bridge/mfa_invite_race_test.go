package bridge_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// beforeFactorWrite is a store that runs a hook, once armed, just before it confirms an
// authenticator app or adds a passkey: what another request does between a page's read of the
// member's factors and its enrolment's write. Not armed, it passes every call on
// (TestStoreFakesConformance).
type beforeFactorWrite struct {
	store.Store
	mu   sync.Mutex
	hook func()
}

func (s *beforeFactorWrite) arm(hook func()) { s.mu.Lock(); s.hook = hook; s.mu.Unlock() }

func (s *beforeFactorWrite) fire() {
	s.mu.Lock()
	hook := s.hook
	s.hook = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
}

func (s *beforeFactorWrite) ConfirmTOTP(ctx context.Context, subject string, sealed []byte, step int64, hashes []string) error {
	s.fire()
	return s.Store.ConfirmTOTP(ctx, subject, sealed, step, hashes)
}

func (s *beforeFactorWrite) ConfirmTOTPNotFirst(ctx context.Context, subject string, sealed []byte, step int64, hashes []string) error {
	s.fire()
	return s.Store.ConfirmTOTPNotFirst(ctx, subject, sealed, step, hashes)
}

func (s *beforeFactorWrite) AddWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential) error {
	s.fire()
	return s.Store.AddWebAuthnCredential(ctx, c)
}

func (s *beforeFactorWrite) AddWebAuthnCredentialNotFirst(ctx context.Context, c *store.WebAuthnCredential) error {
	s.fire()
	return s.Store.AddWebAuthnCredentialNotFirst(ctx, c)
}

// TestFirstEnrolmentInvitationFactorRemovedMeanwhile (review s18 R3-4): with
// mfa.first_enrolment: invitation, an authenticator app begun on the security page beside the
// member's only passkey (so no invitation code is asked) is not confirmed without a code once
// that passkey is gone (removed in another tab, or by an administrator's reset): the store
// finds no other factor when it confirms, and the page asks for the invitation code, as for a
// first factor, with the enrolment shown again; with the code it is confirmed. The passkey is
// removed after the confirming request read the member's factors (beforeFactorWrite). Before,
// that read let the app in without a code.
func TestFirstEnrolmentInvitationFactorRemovedMeanwhile(t *testing.T) {
	var race *beforeFactorWrite
	var inner *sqlite.Store
	e := newEnvDeps(t, false, nil, envDeps{store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		inner, race = st, &beforeFactorWrite{Store: st}
		return race
	}}, invitationFirst)
	e.store = inner
	web, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	e.signIn(b, web.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password")
	sub := identitySubject(t, e, mustMember(t, e, "alice").Key)

	// A first authenticator app with an invitation: the session has used a second factor.
	csrf := b.Get(e.issuer + "/account/security").Hidden().Get("csrf")
	begun := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
	m := totpSecretRe.FindStringSubmatch(begun.Body)
	if m == nil {
		t.Fatalf("no enrolment: %.600s", begun.Body)
	}
	done := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"},
		"code": {totpCode(t, m[1], 0)}, "invite": {issueInvite(t, e, "alice")}})
	if done.Status != http.StatusOK || len(recoveryCodeRe.FindAllString(done.Body, -1)) != 10 {
		t.Fatalf("first enrolment with the invitation: %d %.600s", done.Status, done.Body)
	}
	// A passkey beside it (as a registration stores one), then the app removed: the passkey is
	// the member's only factor.
	key := &store.WebAuthnCredential{ID: []byte("alice-key"), Subject: sub, Name: "Key", Data: []byte("{}"), CreatedAt: time.Now()}
	if err := e.store.AddWebAuthnCredential(e.ctx(), key); err != nil {
		t.Fatal(err)
	}
	if p := b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-remove"}}); p.Status != http.StatusOK {
		t.Fatalf("remove the app: %d %.300s", p.Status, p.Body)
	}

	// A new app, begun beside the passkey: no code asked.
	begun = b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-begin"}})
	if m = totpSecretRe.FindStringSubmatch(begun.Body); m == nil || strings.Contains(begun.Body, `name="invite"`) {
		t.Fatalf("an app begun beside a passkey: %.800s", begun.Body)
	}
	// The passkey is removed (another tab) while the app is confirmed without a code: after
	// the request read the factors, before it confirms.
	race.arm(func() {
		if err := e.store.DeleteWebAuthnCredential(e.ctx(), sub, key.ID); err != nil {
			t.Error(err)
		}
	})
	confirm := func(invite string) *bridgetest.Page {
		return b.Post(e.issuer+"/account/security", url.Values{"csrf": {csrf}, "action": {"totp-confirm"},
			"code": {totpCode(t, m[1], 0)}, "invite": {invite}})
	}
	p := confirm("")
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, inviteMissing) || !totpSecretRe.MatchString(p.Body) ||
		!strings.Contains(p.Body, `name="invite"`) {
		t.Fatalf("confirmed without a code after the only other factor was removed: %d (want 400, the enrolment shown again with the invitation field) %.800s",
			p.Status, p.Body)
	}
	noConfirmedTOTP(t, e, "alice", "without a code, the passkey removed")
	if p := confirm(issueInvite(t, e, "alice")); p.Status != http.StatusOK || len(recoveryCodeRe.FindAllString(p.Body, -1)) != 10 {
		t.Fatalf("the app with a new invitation: %d %.600s", p.Status, p.Body)
	}
}
