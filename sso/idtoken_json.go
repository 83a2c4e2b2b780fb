package sso

import (
	"encoding/json"
	"strconv"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// appendIDTokenRegisteredHashes appends the registered claims of c as encoding/json encodes
// oidc.IDTokenClaims without its extra claims (the struct's fields in order, omitempty, HTML-safe
// escaping), for the claims the token endpoint sets: the protocol's (iss, sub, aud, exp, iat,
// auth_time, nonce, acr, amr, azp, client_id, jti, nbf, at_hash, c_hash, sid) and the member's
// profile, e-mail and phone claims, with at_hash and sid from h where h has them (in place of
// c's). It reports false, appending nothing, when c has an address, a locale or an actor, which
// the caller then encodes with encoding/json. TestAppendIDTokenRegistered compares both byte for
// byte.
func appendIDTokenRegisteredHashes(b []byte, c *oidc.IDTokenClaims, h idHashes) ([]byte, bool) {
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
	// base64url: a JSON string as it is.
	raw := func(n string, v []byte) {
		if len(v) > 0 {
			name(n)
			b = append(b, '"')
			b = append(b, v...)
			b = append(b, '"')
		}
	}
	if h.atHash != nil {
		raw("at_hash", h.atHash)
	} else {
		str("at_hash", c.AccessTokenHash)
	}
	str("c_hash", c.CodeHash)
	if h.sid != nil {
		raw("sid", h.sid)
	} else {
		str("sid", c.SessionID)
	}
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

// registeredWrittenHashes reports whether appendIDTokenRegisteredHashes writes the claim name
// for c and h (the claim is one of its fields and not empty), so that an extra claim of that
// name is left out, as oidc.IDTokenClaims.MarshalJSON does; TestAppendIDTokenRegistered checks it
// against what was written. Asked per extra claim instead of scanning the written JSON for its
// names.
func registeredWrittenHashes(c *oidc.IDTokenClaims, h idHashes, name string) bool {
	t, p := &c.TokenClaims, &c.UserInfoProfile
	switch name {
	case "iss":
		return t.Issuer != ""
	case "sub":
		return t.Subject != ""
	case "aud":
		return len(t.Audience) > 0
	case "exp":
		return t.Expiration != 0
	case "iat":
		return t.IssuedAt != 0
	case "auth_time":
		return t.AuthTime != 0
	case "nonce":
		return t.Nonce != ""
	case "acr":
		return t.AuthenticationContextClassReference != ""
	case "amr":
		return len(t.AuthenticationMethodsReferences) > 0
	case "azp":
		return t.AuthorizedParty != ""
	case "client_id":
		return t.ClientID != ""
	case "jti":
		return t.JWTID != ""
	case "nbf":
		return c.NotBefore != 0
	case "at_hash":
		if h.atHash != nil {
			return len(h.atHash) > 0
		}
		return c.AccessTokenHash != ""
	case "c_hash":
		return c.CodeHash != ""
	case "sid":
		if h.sid != nil {
			return len(h.sid) > 0
		}
		return c.SessionID != ""
	case "name":
		return p.Name != ""
	case "given_name":
		return p.GivenName != ""
	case "family_name":
		return p.FamilyName != ""
	case "middle_name":
		return p.MiddleName != ""
	case "nickname":
		return p.Nickname != ""
	case "profile":
		return p.Profile != ""
	case "picture":
		return p.Picture != ""
	case "website":
		return p.Website != ""
	case "gender":
		return p.Gender != ""
	case "birthdate":
		return p.Birthdate != ""
	case "zoneinfo":
		return p.Zoneinfo != ""
	case "updated_at":
		return p.UpdatedAt != 0
	case "preferred_username":
		return p.PreferredUsername != ""
	case "email":
		return c.Email != ""
	case "email_verified":
		return bool(c.EmailVerified)
	case "phone_number":
		return c.PhoneNumber != ""
	case "phone_number_verified":
		return bool(c.PhoneNumberVerified)
	}
	return false
}

// appendClaimValue appends v as encoding/json encodes it: strings, booleans and integers
// directly (a member's updated_at, an int64, is in every ID token with the profile scope), the
// rest through encoding/json.
func appendClaimValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		return appendJSONString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	}
	q, err := json.Marshal(v)
	return append(b, q...), err
}
