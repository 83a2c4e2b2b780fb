package sso

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// idTokenShaped reports whether raw, given as end_session's id_token_hint, can be an ID token
// this provider issued (OIDC RP-Initiated Logout 1.0 section 2: the OP must accept only an ID
// token as the hint, never an access token). It looks at the token's kind, not at claims an
// ID token happens to lack (a JWT access token need not carry scope):
//   - a compact JWS (three parts; nothing this provider issues is encrypted) whose protected
//     header typ is JWT or absent: ID tokens are signed with typ JWT, JWT access tokens with
//     at+jwt (RFC 9068 2.1), logout tokens with logout+jwt (Back-Channel Logout 2.4);
//   - claims with what every ID token has (OIDC Core 2: sub, aud, exp, iat) and without a
//     logout token's events.
//
// Nothing is verified here: servePage then drops a hint no published key verifies
// (signedByPublishedKey), and op verifies the signature of the one that passes both again,
// with its claims; a hint that does not pass is ignored, which only its sender loses.
func idTokenShaped(raw string) bool {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return false
	}
	var header struct {
		Typ *string `json:"typ"`
	}
	if !decodeSegment(parts[0], &header) {
		return false
	}
	if header.Typ != nil && !idTokenTyp(*header.Typ) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	return err == nil && idTokenClaims(b)
}

// signedByPublishedKey reports whether raw's signature verifies with the published key its
// header names (kid). Nothing else is checked: op verifies the hint again, claims included.
func (p *Provider) signedByPublishedKey(raw string) bool {
	jws, err := jose.ParseSigned(raw, p.keys.Algorithms())
	if err != nil || len(jws.Signatures) != 1 {
		return false
	}
	kid := jws.Signatures[0].Header.KeyID
	for _, k := range p.keys.PublicKeys() {
		if k.ID() == kid {
			_, err := jws.Verify(k.Key())
			return err == nil
		}
	}
	return false
}

// idTokenTyp reports whether a JOSE header typ can be an ID token's: JWT (any case, RFC 7515
// 4.1.9); an absent typ is allowed too.
func idTokenTyp(typ string) bool { return strings.EqualFold(typ, "JWT") }

// idTokenClaims reports whether a JWT payload has what every ID token has (OIDC Core 2: sub,
// aud, exp, iat) and not a logout token's events.
func idTokenClaims(payload []byte) bool {
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return false
	}
	for _, must := range []string{"sub", "aud", "exp", "iat"} {
		if _, ok := claims[must]; !ok {
			return false
		}
	}
	_, events := claims["events"]
	return !events
}

// idTokenKeySet is the key set of op's id_token_hint verifier (op.WithIDTokenHintVerifierOpts):
// it verifies the signature with the provider's keys and then refuses any JWS that is not an ID
// token by its kind, as idTokenShaped does, on the header and payload op itself parsed. op takes
// any JWT this provider signed as a hint, at /authorize (OIDC Core 3.1.2.1: the hint is an "ID
// Token previously issued") and at end_session; a JWT access token, a logout token or any
// other JWS the provider signs is then answered as an invalid hint (login_required at
// /authorize, via the client's redirect URI once op has checked it). end_session drops such a
// hint before op sees it (servePage), so the member is asked to confirm there.
type idTokenKeySet struct{ oidc.KeySet }

func (k idTokenKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	payload, err := k.KeySet.VerifySignature(ctx, jws)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errNotIDToken
	}
	if typ, ok := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; ok {
		if s, ok := typ.(string); !ok || !idTokenTyp(s) {
			return nil, errNotIDToken
		}
	}
	if !idTokenClaims(payload) {
		return nil, errNotIDToken
	}
	return payload, nil
}

var errNotIDToken = errors.New("id_token_hint is not an ID token")

// idTokenHintOnly is op's option installing idTokenKeySet.
func idTokenHintOnly() op.Option {
	return op.WithIDTokenHintVerifierOpts(func(v *op.IDTokenHintVerifier) { v.KeySet = idTokenKeySet{v.KeySet} })
}

// decodeSegment decodes one base64url segment of a compact JWS as JSON into v.
func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}
