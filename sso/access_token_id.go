package sso

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Access token ids are self-describing: nothing is stored per access token. The id op seals
// into the opaque token ("<id>:<subject>", AES-GCM under the provider's crypto key) or signs as
// the jti of a JWT access token is the base64url of its fields separated by unit separators:
//
//	"a2" nonce family generation client subject audience scopes created expires
//
// (audience and scopes space-separated, created in Unix microseconds, expires in Unix seconds).
// Ids of version "a1" (before session 12) have created in seconds; they are still read. Only an
// id that came out of the provider's crypto or a verified JWT is ever decoded, so its fields are
// the provider's own. The token is then checked against its family and its client's
// registration (accessToken in storage.go).

const (
	accessIDVersion   = "a2"
	accessIDVersionV1 = "a1" // created in seconds
	accessIDSep       = "\x1f"
	accessIDFields    = 10
)

var errAccessID = errors.New("sso: invalid access token id")

// appendAccessIDFields appends to dst the fields of at's id before their base64url encoding
// (the id is b64 of them: accessID), a fresh nonce among them: the opaque access token's sealing encodes them
// straight into its buffer (aeadCrypto.sealID) instead of through the id as a string.
func appendAccessIDFields(dst []byte, at *AccessToken) ([]byte, error) {
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return dst, err
	}
	for _, f := range [...]string{at.FamilyID, at.ClientID, at.Subject} {
		if strings.Contains(f, accessIDSep) {
			return dst, errAccessID
		}
	}
	for _, l := range [...][]string{at.Audience, at.Scopes} {
		for _, v := range l {
			if v == "" || strings.Contains(v, " ") || strings.Contains(v, accessIDSep) {
				return dst, errAccessID
			}
		}
	}
	b := append(dst, accessIDVersion...)
	b = append(b, accessIDSep...)
	b = base64.RawURLEncoding.AppendEncode(b, nonce[:])
	b = append(b, accessIDSep...)
	b = append(b, at.FamilyID...)
	b = append(b, accessIDSep...)
	b = strconv.AppendInt(b, at.Generation, 10)
	b = append(b, accessIDSep...)
	b = append(b, at.ClientID...)
	b = append(b, accessIDSep...)
	b = append(b, at.Subject...)
	for _, l := range [...][]string{at.Audience, at.Scopes} { // space-separated, as strings.Join
		b = append(b, accessIDSep...)
		for i, v := range l {
			if i > 0 {
				b = append(b, ' ')
			}
			b = append(b, v...)
		}
	}
	b = append(b, accessIDSep...)
	b = strconv.AppendInt(b, at.CreatedAt.UnixMicro(), 10)
	b = append(b, accessIDSep...)
	b = strconv.AppendInt(b, at.ExpiresAt.Unix(), 10)
	return b, nil
}

// decodeAccessID returns what an access token id says (ErrNotFound-free: the caller checks
// expiry and the family).
func decodeAccessID(id string) (*AccessToken, error) {
	if len(id) > 8<<10 {
		return nil, errAccessID
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(id)
	if err != nil {
		return nil, errAccessID
	}
	f := strings.Split(string(raw), accessIDSep)
	if len(f) != accessIDFields || (f[0] != accessIDVersion && f[0] != accessIDVersionV1) {
		return nil, errAccessID
	}
	gen, err1 := strconv.ParseInt(f[3], 10, 64)
	created, err2 := strconv.ParseInt(f[8], 10, 64)
	expires, err3 := strconv.ParseInt(f[9], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || gen < 0 || badList(f[6]) || badList(f[7]) {
		return nil, errAccessID
	}
	return &AccessToken{
		IDHash: HashToken(id), FamilyID: f[2], Generation: gen, ClientID: f[4], Subject: f[5],
		Audience: splitList(f[6]), Scopes: splitList(f[7]),
		CreatedAt: createdTime(f[0], created), ExpiresAt: time.Unix(expires, 0).UTC(),
	}, nil
}

func createdTime(version string, v int64) time.Time {
	if version == accessIDVersionV1 {
		return time.Unix(v, 0).UTC()
	}
	return time.UnixMicro(v).UTC()
}

// ofCurrentRegistration reports whether at was issued to cfg, its client's current
// registration: a dynamic client removed and registered again under the same id is another
// app, and the tokens issued to the one before (client_credentials tokens have no family for
// the removal to revoke) must not work for the new one. The rule: a token created before the
// client's RegisteredAt is refused. Static clients (no RegisteredAt) pass; accessToken answers
// a client not found. Version "a1" ids carry whole seconds, so they are compared with
// the registration's second (the first second of a registration still accepts an a1 token of
// the one before: they live minutes, and only until the upgrade's first access-token
// lifetime has passed). Replicas' clocks must agree: a token issued by a replica whose clock
// is behind the one that registered the client is refused for as long as the difference.
func ofCurrentRegistration(cfg *ClientConfig, id string, at *AccessToken) bool {
	created := at.CreatedAt.Add(time.Microsecond - 1) // the token's time is truncated to µs
	if strings.HasPrefix(id, accessIDV1Prefix) {
		created = at.CreatedAt.Add(time.Second - 1)
	}
	return !cfg.PredatesRegistration(created)
}

// accessIDV1Prefix is how an id of version "a1" begins: the base64url of "a1" and the separator.
var accessIDV1Prefix = b64([]byte(accessIDVersionV1 + accessIDSep))

// badList: a list with an empty entry, which appendAccessIDFields never writes.
func badList(s string) bool {
	return s != "" && (strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") || strings.Contains(s, "  "))
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, " ")
}

// Refresh tokens name their family and generation: "<family>.<generation>.<secret>". The token
// of each generation is derived from the family id and the generation under the rotation key:
// its secret is "d." and the base64url HMAC of them (derivedToken in storage.go), so a rotated
// token of any age is recognised as the family's own (reuse) with one HMAC, without storing any
// but the current token's hash. Families started before that have a random generation-0 secret
// and derive each generation's token from the one before it (successor in storage.go, "chain"
// families): they keep rotating that way until they end, and recognising one of their rotated
// tokens walks the chain up to the current one. Tokens issued before families were stored have
// no dots (LegacyRefreshToken finds their family, at generation 0).

// parseRefreshToken splits a refresh token; ok is false for a legacy token.
func parseRefreshToken(token string) (family string, gen int64, ok bool) {
	family, rest, found := strings.Cut(token, ".")
	if !found {
		return "", 0, false
	}
	g, secret, found := strings.Cut(rest, ".")
	if !found || family == "" || secret == "" {
		return "", 0, false
	}
	n, err := strconv.ParseInt(g, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != g {
		return "", 0, false
	}
	return family, n, true
}
