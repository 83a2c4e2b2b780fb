package sso

import (
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// TestNeedsRefreshToken: the provider issues a refresh token with the access token exactly when
// op's createTokens would (op.needsRefreshToken), for every request tokenResponse is given: a
// code flow's request with offline_access for a client that may refresh, a refresh, and a grant
// the provider runs itself (password, token exchange, device code: newIssuedGrant) with
// offline_access for a client that may refresh; nothing else. op's own token exchange and device
// requests never reach it (the provider runs those grants), so its rule has no branch for them.
func TestNeedsRefreshToken(t *testing.T) {
	refreshing := &client{cfg: &ClientConfig{GrantTypes: []string{GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode}}}
	codeOnly := &client{cfg: &ClientConfig{GrantTypes: []string{GrantAuthorizationCode, GrantDeviceCode}}}
	offline := []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess}
	online := []string{oidc.ScopeOpenID}
	code := func(scopes []string, rt string) op.TokenRequest {
		return authRequest{&AuthRequest{ClientID: "c", Scopes: scopes, ResponseType: rt}}
	}
	issued := func(c *client, scopes []string) op.TokenRequest {
		return newIssuedGrant(c.cfg, grantInfo{scopes: scopes})
	}
	for _, c := range []struct {
		name   string
		req    op.TokenRequest
		client op.Client
		want   bool
	}{
		{"code offline", code(offline, string(oidc.ResponseTypeCode)), refreshing, true},
		{"code online", code(online, string(oidc.ResponseTypeCode)), refreshing, false},
		{"code offline, client without refresh", code(offline, string(oidc.ResponseTypeCode)), codeOnly, false},
		{"code offline, not response type code", code(offline, "id_token"), refreshing, false},
		{"exchanged code", &codeRequest{authRequest: code(offline, string(oidc.ResponseTypeCode)).(authRequest)}, refreshing, true},
		{"refresh", &refreshRequest{rt: &RefreshToken{}}, codeOnly, true},
		{"issued grant, refreshing", &issuedGrantRefresh{issuedGrant{info: grantInfo{scopes: offline}}}, refreshing, true},
		{"issued grant", &issuedGrant{info: grantInfo{scopes: offline}}, refreshing, false},
		{"device, password or exchange grant offline", issued(refreshing, offline), refreshing, true},
		{"device, password or exchange grant online", issued(refreshing, online), refreshing, false},
		{"device, password or exchange grant offline, client without refresh", issued(codeOnly, offline), codeOnly, false},
	} {
		if got := needsRefreshToken(c.req, c.client); got != c.want {
			t.Errorf("%s: needsRefreshToken = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestSealAccess: the opaque access token sealed from an id and a subject opens to
// "<id>:<subject>" (what op sealed and what userinfo and introspection open), and a parked at+jwt
// is handed out once instead, as tokenCrypto.Encrypt does.
func TestSealAccess(t *testing.T) {
	var key [32]byte
	key[0] = 7
	tc, err := newTokenCrypto(key)
	if err != nil {
		t.Fatal(err)
	}
	s1, err := tc.sealAccess("id-1", nil, "sub-1")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := tc.sealAccess("id-1", nil, "sub-1")
	if plain, err := tc.Decrypt(s1); err != nil || plain != "id-1:sub-1" || s1 == s2 {
		t.Fatalf("sealed access token opens to %q, %v (two seals equal: %v)", plain, err, s1 == s2)
	}
	if plain, err := tc.Decrypt(s1[:len(s1)-2] + "AA"); err == nil {
		t.Fatalf("a changed token opened to %q", plain)
	}
	tc.park("id-2", "header.payload.sig", time.Now())
	if got, _ := tc.sealAccess("id-2", nil, "sub-2"); got != "header.payload.sig" {
		t.Fatalf("parked token: got %q", got)
	}
	if got, _ := tc.sealAccess("id-2", nil, "sub-2"); got == "header.payload.sig" {
		t.Fatal("a parked token was handed out twice")
	}
	// An opaque token sealed from its id's fields opens to the id encodeAccessID makes of them.
	at := &AccessToken{FamilyID: "fam", Generation: 3, ClientID: "web", Subject: "sub-3",
		Audience: []string{"web"}, Scopes: []string{"openid", "offline_access"},
		CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
	fields, err := appendAccessIDFields(nil, at)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := tc.sealAccess("", fields, "sub-3")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := tc.Decrypt(s3)
	id, sub, _ := strings.Cut(plain, ":")
	if err != nil || id != b64(fields) || sub != "sub-3" {
		t.Fatalf("token sealed from fields opens to %q, %v; want %q:sub-3", plain, err, b64(fields))
	}
	if got, err := decodeAccessID(id); err != nil || got.FamilyID != "fam" || got.Generation != 3 || got.Subject != "sub-3" ||
		strings.Join(got.Scopes, " ") != "openid offline_access" {
		t.Fatalf("its id decodes to %+v, %v", got, err)
	}
}
