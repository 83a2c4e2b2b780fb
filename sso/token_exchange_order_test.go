package sso_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/sso"
)

// exchangeOnlyHooks are hooks with token exchange and without a ConsentChecker: they keep no
// consent records, so a third-party client can never pass the exchange's consent check.
// redeemed counts the subject tokens ExchangeExternal redeemed (spent).
type exchangeOnlyHooks struct {
	h        *fakeHooks
	redeemed atomic.Int32
}

func (x *exchangeOnlyHooks) Claims(ctx context.Context, s, c string, sc []string, t sso.ClaimTarget) (map[string]any, error) {
	return x.h.Claims(ctx, s, c, sc, t)
}
func (x *exchangeOnlyHooks) CheckGrant(ctx context.Context, s, c string) error {
	return x.h.CheckGrant(ctx, s, c)
}
func (x *exchangeOnlyHooks) EndSession(ctx context.Context, r *op.EndSessionRequest) (string, error) {
	return x.h.EndSession(ctx, r)
}
func (x *exchangeOnlyHooks) Event(ctx context.Context, e, s, c, d string) { x.h.Event(ctx, e, s, c, d) }
func (x *exchangeOnlyHooks) ExternalTokenTypes() []string                 { return x.h.ExternalTokenTypes() }
func (x *exchangeOnlyHooks) ExchangeExternal(ctx context.Context, c, tok, tt string) (string, []string, error) {
	x.redeemed.Add(1)
	return x.h.ExchangeExternal(ctx, c, tok, tt)
}

// TestTokenExchangeOrder: what token exchange can refuse without knowing the member it refuses
// before the subject token is redeemed (redeeming spends it: an AMS refresh token names its
// member only at the AMS's token endpoint, which rotates it). With hooks that record no
// consent, a third-party client is refused invalid_scope with the token unspent; a trusted
// client's exchange redeems it. With consent records, the member's consent is checked after the
// redemption (TestTokenExchangeConsentAfterRedemption in package bridge).
func TestTokenExchangeOrder(t *testing.T) {
	st, keys, _, fake, cfg := harnessParts(t, "http://127.0.0.1:1")
	reg, err := sso.NewRegistry(t.Context(), st, []sso.ClientConfig{
		{ID: "trusted", Name: "Trusted", SecretHash: sso.HashSecret(webSecret), Trusted: true, RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantTokenExchange}},
		{ID: "thirdx", Name: "Third party", SecretHash: sso.HashSecret(webSecret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{sso.GrantTokenExchange}},
	}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	hooks := &exchangeOnlyHooks{h: fake}
	p, err := sso.New(cfg, st, keys, reg, hooks)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	h := &harness{t: t, p: p, store: st, hooks: fake, srv: srv, issuer: srv.URL, http: srv.Client()}
	form := url.Values{"grant_type": {sso.GrantTokenExchange}, "subject_token": {"ams:alice"}, "subject_token_type": {amsTokenType},
		"scope": {"openid"}}
	status, body, _ := h.token(form, "thirdx:"+webSecret)
	if status != 400 || body["error"] != "invalid_scope" || !fake.sawEvent("token.consent_required") {
		t.Fatalf("third party without consent records: %d %v", status, body)
	}
	if n := hooks.redeemed.Load(); n != 0 {
		t.Fatalf("the refused exchange redeemed (spent) the subject token %d times", n)
	}
	if status, body, _ = h.token(form, "trusted:"+webSecret); status != 200 {
		t.Fatalf("trusted exchange: %d %v", status, body)
	}
	if n := hooks.redeemed.Load(); n != 1 {
		t.Fatalf("the trusted exchange redeemed %d tokens, want 1", n)
	}
}
