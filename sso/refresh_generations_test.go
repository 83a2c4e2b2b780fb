package sso_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
)

// quietFamily signs alice in at the quiet client (no ID token on refresh: a rotation signs
// nothing) and rotates her family gens times; it returns every token of the family, generation
// 0 first.
func quietFamily(t testing.TB, h *harness, gens int) []string {
	t.Helper()
	verifier, challenge := pkce()
	cfg := h.oauth2Config("quiet", webSecret, webRedirect, "openid", "offline_access")
	u := h.signIn(cfg.AuthCodeURL("st", oauthParam("code_challenge", challenge), oauthParam("code_challenge_method", "S256")), "alice")
	tok, err := cfg.Exchange(t.Context(), u.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	chain := []string{tok.RefreshToken}
	for range gens {
		status, body := h.refreshAs("quiet", chain[len(chain)-1])
		if status != 200 {
			t.Fatalf("refresh %d: %d %v", len(chain), status, body)
		}
		chain = append(chain, body["refresh_token"].(string))
	}
	return chain
}

// refreshAs runs the refresh grant for a client of the harness (secret webSecret).
func (h *harness) refreshAs(client, rt string) (int, map[string]any) {
	status, body, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, client+":"+webSecret)
	return status, body
}

// TestRefreshReuseHoweverOld: a rotated refresh token of a family is recognised as reuse (the
// family is revoked) however many generations old it is, here 5000, more than the 4096 the
// walk along the successor chain went back; made-up tokens naming the family, old or current
// generation, in either token shape, revoke nothing, and cost no more than any refresh request
// (allocations counted: no walk along the generations).
func TestRefreshReuseHoweverOld(t *testing.T) {
	h := newHarness(t)
	const gens = 5000
	chain := quietFamily(t, h, gens)
	family, _, _ := strings.Cut(chain[0], ".")
	cur := chain[gens]
	for i, rt := range chain {
		if !strings.HasPrefix(rt, family+"."+strconv.Itoa(i)+".") {
			t.Fatalf("refresh token %d = %q, want family %s generation %d", i, rt, family, i)
		}
	}
	_, last, _ := strings.Cut(cur[len(family)+1:], ".")
	forged := []string{
		family + ".0." + sso.RandomToken(),
		family + ".4999." + sso.RandomToken(),
		family + ".0.d." + sso.RandomToken(),
		family + ".4999.d." + sso.RandomToken(),
		family + ".0." + last, // the current token's secret under another generation
		family + "." + strconv.Itoa(gens) + "." + sso.RandomToken(),
		family + "." + strconv.Itoa(gens+1) + ".d." + sso.RandomToken(),
	}
	for _, f := range forged {
		if status, body := h.refreshAs("quiet", f); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("forged token %q: %d %v", f, status, body)
		}
	}
	// What a made-up token claiming an old generation costs does not grow with its age: one
	// claiming generation 904 (4096 behind the current one, as far back as the chain was
	// walked) allocates what a refresh request does, not 4096 HMAC steps' worth (about 16,000
	// allocations before).
	for _, f := range []string{family + ".904." + sso.RandomToken(), family + ".904.d." + sso.RandomToken()} {
		if n := testing.AllocsPerRun(10, func() { h.refreshAs("quiet", f) }); n > 2000 {
			t.Errorf("a made-up token %q of an old generation: %.0f allocations per request, want a refresh request's", f[len(family):len(family)+8], n)
		}
	}
	if fam, err := h.store.Family(t.Context(), family); err != nil || fam.Revoked {
		t.Fatalf("a forged token revoked the family: %+v %v", fam, err)
	}
	// The first token, 5000 generations back: reuse.
	if status, body := h.refreshAs("quiet", chain[0]); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reused first token: %d %v", status, body)
	}
	if fam, err := h.store.Family(t.Context(), family); err != nil || !fam.Revoked {
		t.Fatalf("family after its first token was reused 5000 generations on: %+v %v, want revoked", fam, err)
	}
	if !h.hooks.sawEvent("token.refresh_reuse") {
		t.Fatal("no token.refresh_reuse event")
	}
	if status, _ := h.refreshAs("quiet", cur); status != 400 {
		t.Fatal("the current token of a family revoked for reuse refreshed")
	}
}

// TestChainFamilyKeepsItsChain: a family started before tokens were derived from the family (a
// random generation-0 secret, each token derived from the one before) is not signed out: it
// keeps rotating along its chain, its rotated tokens are still recognised as reuse (the family
// is revoked), and made-up tokens naming it, in either shape, revoke nothing.
func TestChainFamilyKeepsItsChain(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	now := time.Now()
	first := "fam-chain.0." + sso.RandomToken()
	if err := h.store.IssueTokens(ctx, sso.Issue{Family: &sso.RefreshToken{Hash: sso.HashToken(first), FamilyID: "fam-chain",
		ClientID: "quiet", Subject: "alice", Audience: []string{"quiet"}, Scopes: []string{"openid", "offline_access"},
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	chain := []string{first}
	for i := 1; i <= 5; i++ {
		status, body := h.refreshAs("quiet", chain[len(chain)-1])
		if status != 200 {
			t.Fatalf("refresh %d of a chain family: %d %v", i, status, body)
		}
		next := body["refresh_token"].(string)
		if !strings.HasPrefix(next, "fam-chain."+strconv.Itoa(i)+".") || strings.HasPrefix(next, "fam-chain."+strconv.Itoa(i)+".d.") {
			t.Fatalf("refresh token %d of a chain family = %q, want its chain's next", i, next)
		}
		chain = append(chain, next)
	}
	for _, f := range []string{"fam-chain.0." + sso.RandomToken(), "fam-chain.0.d." + sso.RandomToken(), "fam-chain.4.d." + sso.RandomToken()} {
		if status, body := h.refreshAs("quiet", f); status != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("forged token %q: %d %v", f, status, body)
		}
	}
	if fam, err := h.store.Family(ctx, "fam-chain"); err != nil || fam.Revoked || fam.Generation != 5 {
		t.Fatalf("chain family after forged tokens: %+v %v", fam, err)
	}
	if status, body := h.refreshAs("quiet", chain[1]); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reused chain token: %d %v", status, body)
	}
	if fam, err := h.store.Family(ctx, "fam-chain"); err != nil || !fam.Revoked {
		t.Fatalf("chain family after reuse: %+v %v, want revoked", fam, err)
	}
}
