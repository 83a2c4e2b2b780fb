package sso

import (
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// appendIDTokenRegistered appends the registered claims of c as encoding/json encodes
// oidc.IDTokenClaims without its extra claims (the struct's fields in order, omitempty, HTML-safe
// escaping), for the claims the token endpoint sets: the protocol's (iss, sub, aud, exp, iat,
// auth_time, nonce, acr, amr, azp, client_id, jti, nbf, at_hash, c_hash, sid) and the member's
// profile, e-mail and phone claims. It reports false, appending nothing, when c has an address,
// a locale or an actor, which the caller then encodes with encoding/json. TestAppendIDTokenRegistered
// compares both byte for byte.
func appendIDTokenRegistered(b []byte, c *oidc.IDTokenClaims) ([]byte, bool) {
	if c.Actor != nil || c.Address != nil || c.Locale != nil {
		return b, false
	}
	b = append(b, '{')
	first := true
	name := func(n string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, n...)
		b = append(b, '"', ':')
	}
	str := func(n, v string) {
		if v != "" {
			name(n)
			b = appendJSONString(b, v)
		}
	}
	num := func(n string, v oidc.Time) {
		if v != 0 {
			name(n)
			b = strconv.AppendInt(b, int64(v), 10)
		}
	}
	list := func(n string, v []string) {
		if len(v) > 0 {
			name(n)
			b = append(b, '[')
			for i, s := range v {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, s)
			}
			b = append(b, ']')
		}
	}
	flag := func(n string, v bool) {
		if v {
			name(n)
			b = append(b, "true"...)
		}
	}
	t := &c.TokenClaims
	str("iss", t.Issuer)
	str("sub", t.Subject)
	list("aud", t.Audience)
	num("exp", t.Expiration)
	num("iat", t.IssuedAt)
	num("auth_time", t.AuthTime)
	// TokenClaims.NotBefore is hidden by IDTokenClaims.NotBefore (the same name, less deep).
	str("nonce", t.Nonce)
	str("acr", t.AuthenticationContextClassReference)
	list("amr", t.AuthenticationMethodsReferences)
	str("azp", t.AuthorizedParty)
	str("client_id", t.ClientID)
	str("jti", t.JWTID)
	num("nbf", c.NotBefore)
	str("at_hash", c.AccessTokenHash)
	str("c_hash", c.CodeHash)
	str("sid", c.SessionID)
	p := &c.UserInfoProfile
	str("name", p.Name)
	str("given_name", p.GivenName)
	str("family_name", p.FamilyName)
	str("middle_name", p.MiddleName)
	str("nickname", p.Nickname)
	str("profile", p.Profile)
	str("picture", p.Picture)
	str("website", p.Website)
	str("gender", string(p.Gender))
	str("birthdate", p.Birthdate)
	str("zoneinfo", p.Zoneinfo)
	num("updated_at", p.UpdatedAt)
	str("preferred_username", p.PreferredUsername)
	str("email", c.Email)
	flag("email_verified", bool(c.EmailVerified))
	str("phone_number", c.PhoneNumber)
	flag("phone_number_verified", bool(c.PhoneNumberVerified))
	return append(b, '}'), true
}
