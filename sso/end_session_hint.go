package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// endSessionHint reports whether raw, given as end_session's id_token_hint, is an ID token this
// provider issued and signed with a key it still publishes, and returns it verified. It parses
// raw once and verifies it once; op's verifier then takes this result (idTokenKeySet) instead
// of verifying the same token again.
//
// OIDC RP-Initiated Logout 1.0 section 2: the OP must accept only an ID token as the hint, never
// an access token. The token's kind decides, not claims an ID token happens to lack (a JWT
// access token need not carry scope):
//   - a compact JWS (nothing this provider issues is encrypted) with one signature whose
//     protected header typ is JWT or absent: ID tokens are signed with typ JWT, JWT access
//     tokens with at+jwt (RFC 9068 2.1), logout tokens with logout+jwt (Back-Channel Logout 2.4);
//   - a signature the published key its header names (kid) verifies: a hint whose key was
//     withdrawn or rotated out of JWKS names nobody;
//   - claims with what every ID token has (OIDC Core 2: sub, aud, exp, iat) and without a
//     logout token's events.
//
// The other claims (issuer, expiry) are op's to check. A hint that fails is dropped by
// servePage: the member is asked to confirm, which only its sender loses.
func (p *Provider) endSessionHint(raw string) (*verifiedHint, bool) {
	jws, ok := idTokenJWS(raw, p.keys.Algorithms())
	if !ok {
		return nil, false
	}
	sig := jws.Signatures[0]
	for _, k := range p.keys.PublicKeys() {
		if k.ID() != sig.Header.KeyID {
			continue
		}
		payload, err := jws.Verify(k.Key())
		if err != nil || !idTokenClaims(payload) {
			return nil, false
		}
		return &verifiedHint{signature: sig.Signature, payload: payload}, true
	}
	return nil, false
}

// idTokenJWS parses raw as a compact JWS with one signature whose protected header's typ is
// an ID token's (JWT, or absent). Nothing is verified.
func idTokenJWS(raw string, algs []jose.SignatureAlgorithm) (*jose.JSONWebSignature, bool) {
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 || !idTokenHeader(jws.Signatures[0]) {
		return nil, false
	}
	return jws, true
}

// idTokenHeader reports whether a signature's protected header can be an ID token's: a typ,
// when present, is a string idTokenTyp takes.
func idTokenHeader(sig jose.Signature) bool {
	typ, ok := sig.Protected.ExtraHeaders[jose.HeaderType]
	if !ok {
		return true
	}
	s, ok := typ.(string)
	return ok && idTokenTyp(s)
}

// verifiedHint is an end_session id_token_hint endSessionHint verified: its signature and its
// verified payload. servePage puts it in the request's context for idTokenKeySet.
type verifiedHint struct{ signature, payload []byte }

type verifiedHintKey struct{}

// verifiedBefore returns the payload of jws when ctx carries it as verified already (the same
// signature over the same payload): end_session's hint, which servePage verified.
func verifiedBefore(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, bool) {
	v, _ := ctx.Value(verifiedHintKey{}).(*verifiedHint)
	if v == nil || len(jws.Signatures) != 1 || !bytes.Equal(jws.Signatures[0].Signature, v.signature) ||
		!bytes.Equal(jws.UnsafePayloadWithoutVerification(), v.payload) {
		return nil, false
	}
	return v.payload, true
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
// token by its kind, as endSessionHint does, on the header and payload op itself parsed. op takes
// any JWT this provider signed as a hint, at /authorize (OIDC Core 3.1.2.1: the hint is an "ID
// Token previously issued") and at end_session; a JWT access token, a logout token or any
// other JWS the provider signs is then answered as an invalid hint (login_required at
// /authorize, via the client's redirect URI once op has checked it). end_session drops such a
// hint before op sees it (servePage), so the member is asked to confirm there, and the hint it
// keeps is verified already: its payload is taken from the context (verifiedBefore).
type idTokenKeySet struct{ oidc.KeySet }

func (k idTokenKeySet) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if payload, ok := verifiedBefore(ctx, jws); ok {
		return payload, nil
	}
	payload, err := k.KeySet.VerifySignature(ctx, jws)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 || !idTokenHeader(jws.Signatures[0]) || !idTokenClaims(payload) {
		return nil, errNotIDToken
	}
	return payload, nil
}

var errNotIDToken = errors.New("id_token_hint is not an ID token")

// idTokenHintOnly is op's option installing idTokenKeySet.
func idTokenHintOnly() op.Option {
	return op.WithIDTokenHintVerifierOpts(func(v *op.IDTokenHintVerifier) { v.KeySet = idTokenKeySet{v.KeySet} })
}
