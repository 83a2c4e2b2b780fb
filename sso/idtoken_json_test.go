package sso

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/text/language"
)

// TestAppendIDTokenRegistered: the registered claims written directly are byte for byte what
// encoding/json writes for oidc.IDTokenClaims without extra claims, over random combinations of
// the claims it writes (empty or not, strings that need escaping, lists of 0-3 values); with an
// address, a locale or an actor it declines.
func TestAppendIDTokenRegistered(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 2026))
	strs := []string{"", "", "web", "https://idp.example", "m-1", "n\"once", `a\b`, "<script>&amp;", "Zoë", "\u2028", "\x01\x7f", "\xff"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	list := func() []string {
		n := rng.IntN(4)
		if n == 0 && rng.IntN(2) == 0 {
			return nil
		}
		out := make([]string, n)
		for i := range out {
			out[i] = str()
		}
		return out
	}
	tm := func() oidc.Time {
		if rng.IntN(3) == 0 {
			return 0
		}
		return oidc.Time(rng.Int64N(4_000_000_000) - 1_000_000_000)
	}
	others := []func(c *oidc.IDTokenClaims){
		func(c *oidc.IDTokenClaims) { c.Address = &oidc.UserInfoAddress{} },
		func(c *oidc.IDTokenClaims) { c.Actor = &oidc.ActorClaims{Subject: "x"} },
		func(c *oidc.IDTokenClaims) { c.Locale = oidc.NewLocale(language.German) },
	}
	flag := func() oidc.Bool { return rng.IntN(2) == 0 }
	for i := range 3000 {
		c := &oidc.IDTokenClaims{
			TokenClaims: oidc.TokenClaims{
				Issuer: str(), Subject: str(), Audience: list(), Expiration: tm(), IssuedAt: tm(),
				AuthTime: tm(), NotBefore: tm(), Nonce: str(), AuthenticationContextClassReference: str(),
				AuthenticationMethodsReferences: list(), AuthorizedParty: str(), ClientID: str(), JWTID: str(),
				SignatureAlg: "ES256",
			},
			NotBefore: tm(), AccessTokenHash: str(), CodeHash: str(), SessionID: str(),
			UserInfoProfile: oidc.UserInfoProfile{
				Name: str(), GivenName: str(), FamilyName: str(), MiddleName: str(), Nickname: str(),
				Profile: str(), Picture: str(), Website: str(), Gender: oidc.Gender(str()), Birthdate: str(),
				Zoneinfo: str(), UpdatedAt: tm(), PreferredUsername: str(),
			},
			UserInfoEmail: oidc.UserInfoEmail{Email: str(), EmailVerified: flag()},
			UserInfoPhone: oidc.UserInfoPhone{PhoneNumber: str(), PhoneNumberVerified: flag()},
		}
		other := i%5 == 4
		if other {
			others[rng.IntN(len(others))](c)
		}
		got, ok := appendIDTokenRegisteredHashes(nil, c, idHashes{})
		if ok == other {
			t.Fatalf("case %d: ok %v with another claim %v: %+v", i, ok, other, c)
		}
		if !ok {
			if len(got) != 0 {
				t.Fatalf("case %d: declined but appended %s", i, got)
			}
			continue
		}
		written := map[string]bool{}
		for _, r := range topLevelKeys(got, nil) {
			written[string(got[r[0]:r[1]])] = true
		}
		for _, n := range []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
			"client_id", "jti", "nbf", "at_hash", "c_hash", "sid", "name", "given_name", "family_name", "middle_name",
			"nickname", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "updated_at",
			"preferred_username", "email", "email_verified", "phone_number", "phone_number_verified", "groups", "country", ""} {
			if registeredWrittenHashes(c, idHashes{}, n) != written[n] {
				t.Fatalf("case %d: registeredWrittenHashes(%q) = %v, written %v: %s", i, n, !written[n], written[n], got)
			}
		}
		want, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
