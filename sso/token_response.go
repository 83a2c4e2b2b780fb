package sso

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// The token endpoint's responses are built here, not by op: op's CreateIDToken puts c_hash
// (defined only for ID tokens from the authorization endpoint, OIDC Core 3.3.2.11) and a
// client_id claim (not an ID token claim: aud and azp name the client) into every ID token.
// The authorization code and refresh grants keep op's request validation (code or refresh
// token, client, PKCE, redirect URI, scopes); every grant then issues through tokenResponse,
// which signs each ID token once (token_endpoint.go runs the grants).

// tokenContext carries the issuer and the client's ID token algorithm to op's helpers and the
// storage (op.IssuerFromContext, SigningKey), as op.ContextWithIssuer and withSigningAlg over
// ctx would: one allocation instead of their two context values and two boxed strings
// (TestTokenContext).
func (p *Provider) tokenContext(ctx context.Context, cfg *ClientConfig) context.Context {
	c := new(tokenCtx)
	p.setTokenContext(c, ctx, cfg)
	return c
}

// setTokenContext makes c tokenContext(ctx, cfg) (the refresh grant's is in its refreshCall).
func (p *Provider) setTokenContext(c *tokenCtx, ctx context.Context, cfg *ClientConfig) {
	alg, ok := boxedAlgs[cfg.IDTokenSigningAlg]
	if !ok {
		alg = cfg.IDTokenSigningAlg
	}
	*c = tokenCtx{Context: ctx, issuer: p.issuerCtx, alg: alg}
}

// tokenCtx is tokenContext's context.
type tokenCtx struct {
	context.Context
	issuer context.Context // the provider's issuerCtx: it has op's issuer key and nothing else
	alg    any             // the algorithm, a string: what withSigningAlg's value would be
}

func (c *tokenCtx) Value(key any) any {
	if key == (algKey{}) {
		return c.alg
	}
	if v := c.issuer.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// boxedAlgs are the ID token algorithms as interface values made once (boxing a string that is
// not a constant allocates).
var boxedAlgs = map[string]any{"": "", "RS256": "RS256", "ES256": "ES256", "EdDSA": "EdDSA"}

// tokenBody is a token response written out (tokenResponse) in a buffer of tokenResponses'
// pool, which tokenResponses.write writes and takes back.
type tokenBody []byte

// tokenResponse creates the access token (and the rotated or new refresh token) through the
// storage, and the ID token when the grant has the openid scope (for a refresh, refreshToken is
// the presented token, unless the client's OmitIDTokenOnRefresh leaves the ID token out), and
// writes the response straight into a pooled response buffer, the ID token signed in place:
// byte for byte the JSON encoding/json's Encoder writes for the oidc.AccessTokenResponse
// (TestRefreshResponseMatchesEncoder, TestGrantResponsesMatchEncoder), without the ID token as
// a string of its own (about 1 KB with RS256), the response value and the joined scope. A
// token exchange's issuedTokenType (RFC 8693 2.2.1) is written after the scope, as the
// Encoder writes the response embedded in a struct with that field; "" leaves it out. Every
// grant issues through it.
//
// What the ID token needs that can fail to be read (its signing key, the member's claims: in
// the bridge the AMS) is read before the grant's write (prepareIDToken), so that such a failure
// leaves the code unused and the refresh token unrotated: the client's retry, which a 5xx
// invites, then works instead of being taken for a replay (review s25 X-2). Only local work
// (the access token's seal, at_hash, signing) is left after the write.
func (p *Provider) tokenResponse(ctx context.Context, req op.TokenRequest, client op.Client, refreshToken, issuedTokenType string) (*tokenBody, error) {
	var idt idTokenParts
	idReq, withID := req.(op.IDTokenRequest)
	withID = withID && slices.Contains(req.GetScopes(), oidc.ScopeOpenID) && !omitIDToken(client, refreshToken)
	if withID {
		// Every token response has an access token (createTokens), whose at_hash the ID token
		// carries.
		if err := p.prepareIDToken(ctx, &idt, idReq, client, true); err != nil {
			return nil, err
		}
	}
	accessToken, newRefresh, validity, err := p.createTokens(ctx, req, client, refreshToken)
	if err != nil {
		return nil, err
	}
	r := oidc.AccessTokenResponse{
		AccessToken:  accessToken,
		RefreshToken: newRefresh,
		TokenType:    oidc.BearerToken,
		ExpiresIn:    uint64(validity.Seconds()),
		Scope:        req.GetScopes(),
	}
	bp := p.responses.buffer()
	j := tokenJSON{b: append((*bp)[:0], '{'), first: true}
	j.head(&r)
	if withID {
		// A compact JWS is base64url and dots: a JSON string without escapes.
		j.field("id_token")
		j.b = append(j.b, '"')
		if j.b, err = p.appendIDToken(j.b, &idt, accessToken); err != nil {
			*bp = j.b
			p.responses.putBuffer(bp)
			return nil, err
		}
		j.b = append(j.b, '"')
	}
	j.tail(&r)
	j.str("issued_token_type", issuedTokenType)
	j.end()
	*bp = j.b
	return (*tokenBody)(bp), nil
}

// createTokens is op.CreateAccessToken for the provider's own storage and crypto: the access
// token (and the new or rotated refresh token when op's rule says so: needsRefreshToken) from
// the storage, its validity as op computes it, and the opaque token sealed from "<id>:<subject>"
// (tokenCrypto.sealAccess, which hands out a parked at+jwt as op's call of Encrypt does), without
// op's three tracing spans, the string op builds to seal and the id as a string of its own (its
// fields are encoded into the sealing buffer). Anything else (another crypto, a
// client wanting op's own JWT access tokens, which ours never does) goes through op.
func (p *Provider) createTokens(ctx context.Context, req op.TokenRequest, client op.Client, refreshToken string) (accessToken, newRefresh string, validity time.Duration, err error) {
	tc := p.storage.crypto
	if client.AccessTokenType() != op.AccessTokenTypeBearer || tc == nil || p.op.Crypto() != op.Crypto(tc) {
		return op.CreateAccessToken(ctx, req, client.AccessTokenType(), p.op, client, refreshToken)
	}
	var (
		id     string
		fields []byte
		exp    time.Time
		stack  [512]byte // the access token id's fields, on the stack when they fit
	)
	if needsRefreshToken(req, client) {
		id, fields, newRefresh, exp, err = p.storage.createAccessAndRefreshTokens(ctx, req, refreshToken, stack[:0])
	} else {
		id, fields, exp, err = p.storage.createAccessToken(ctx, req, stack[:0])
	}
	if err != nil {
		return "", "", 0, err
	}
	validity = exp.Add(client.ClockSkew()).Sub(time.Now().UTC())
	if accessToken, err = tc.sealAccess(id, fields, req.GetSubject()); err != nil {
		return "", "", 0, err
	}
	return accessToken, newRefresh, validity, nil
}

// needsRefreshToken is op's rule (op.createTokens) for issuing a refresh token with the access
// token, for the requests tokenResponse is given: an authorization request with offline_access
// for a code flow whose client may refresh (codeRequest), a refresh (refreshRequest), and a grant
// the provider runs itself (password, token exchange, device code: newIssuedGrant) that
// newIssuedGrant made an issuedGrantRefresh (offline_access, a client that may refresh; a token
// exchange asking for an access token alone has offline_access taken away). op's own token
// exchange and device requests (op.TokenExchangeRequest, *op.DeviceAuthorizationState), which
// op's rule also names, never reach it: the provider runs those grants itself.
func needsRefreshToken(req op.TokenRequest, client op.Client) bool {
	switch r := req.(type) {
	case op.AuthRequest:
		return slices.Contains(r.GetScopes(), oidc.ScopeOfflineAccess) && r.GetResponseType() == oidc.ResponseTypeCode &&
			op.ValidateGrantType(client, oidc.GrantTypeRefreshToken)
	case op.RefreshTokenRequest:
		return true
	}
	return false
}

// omitIDToken tells whether a refresh response (refreshToken set) leaves the ID token out.
func omitIDToken(c op.Client, refreshToken string) bool {
	cl, ok := c.(*client)
	return ok && refreshToken != "" && cl.cfg.OmitIDTokenOnRefresh
}

// idTokenParts is what an ID token of the token endpoint is built from: its claims but at_hash
// and sid, the key it is signed with, and the grant's stored session id (sid's source) when the
// member's claims were read (hasSID). prepareIDToken reads them, appendIDToken signs.
type idTokenParts struct {
	claims    oidc.IDTokenClaims
	key       op.SigningKey
	sessionID string
	hasSID    bool
}

// prepareIDToken fills t with what an ID token needs (idTokenParts) for req: the claims OIDC
// Core 2 defines, the signing key and the member's claims for the granted scopes from the
// storage (only when no access token lets the client ask userinfo, or the client asked for
// them in the ID token): every read that can fail, done before the grant's write
// (tokenResponse). withAccessToken: an access token is issued with it.
func (p *Provider) prepareIDToken(ctx context.Context, t *idTokenParts, req op.IDTokenRequest, client op.Client, withAccessToken bool) error {
	st := p.storage // op's Storage (the device flow's wraps it for its own methods only)
	skew := client.ClockSkew()
	exp := time.Now().UTC().Add(skew).Add(client.IDTokenLifetime())
	// A refresh (the hot grant: a type of this package, checked without an interface
	// assertion) has neither a nonce nor an actor.
	var (
		nonce   string
		actorOf op.TokenActorRequest
	)
	if _, refresh := req.(*refreshRequest); !refresh {
		if ar, ok := req.(op.AuthRequest); ok {
			nonce = ar.GetNonce()
		}
		actorOf, _ = req.(op.TokenActorRequest)
	}
	// The claims oidc.NewIDTokenClaims sets, without client_id (not an ID token claim). acr
	// follows from amr on every grant (code, refresh, device...): what the sign-in did.
	c := &t.claims.TokenClaims
	c.Issuer = p.cfg.Issuer
	c.Subject = req.GetSubject()
	c.Audience = oidc.AppendClientIDToAudience(req.GetClientID(), req.GetAudience())
	c.Expiration = oidc.FromTime(exp)
	c.IssuedAt = oidc.FromTime(time.Now().Add(-skew))
	c.AuthTime = oidc.FromTime(req.GetAuthTime().Add(-skew))
	c.Nonce = nonce
	c.AuthenticationContextClassReference = ACR(req.GetAMR())
	c.AuthenticationMethodsReferences = req.GetAMR()
	c.AuthorizedParty = req.GetClientID()
	if actorOf != nil {
		t.claims.Actor = actorOf.GetActor()
	}
	key, err := st.SigningKey(ctx)
	if err != nil {
		return err
	}
	t.key = key
	scopes := client.RestrictAdditionalIdTokenScopes()(req.GetScopes())
	if withAccessToken && !client.IDTokenUserinfoClaimsAssertion() {
		scopes = withoutUserinfoScopes(scopes)
	}
	if len(scopes) > 0 {
		// The storage's SetUserinfoFromScopes (op's deprecated way) does nothing.
		var info oidc.UserInfo
		sessionID, err := st.idTokenUserinfo(ctx, &info, req, scopes)
		if err != nil {
			return err
		}
		setUserInfo(&t.claims, &info)
		t.sessionID, t.hasSID = sessionID, true
	}
	return nil
}

// appendIDToken appends to dst (the token response's buffer: tokenResponse) the ID token t
// (prepareIDToken) signed (once), with at_hash for the access token issued with it (OIDC Core
// 3.1.3.6) and the grant's sid. On error dst is returned as it was.
func (p *Provider) appendIDToken(dst []byte, t *idTokenParts, accessToken string) ([]byte, error) {
	st, key := p.storage, t.key
	// at_hash and sid are written into the payload from these buffers (idHashes) rather than
	// as strings of their own in the claims.
	var (
		hashes         idHashes
		atHash, sidBuf [64]byte
		err            error
	)
	if accessToken != "" {
		if hashes.atHash, err = appendAccessTokenHash(atHash[:0], accessToken, key.SignatureAlgorithm()); err != nil {
			return dst, err
		}
	}
	if t.hasSID {
		// The registered claim wins over an extra "sid" (the member's claims), as the extra
		// one SetUserinfoFromRequest appends replaces it.
		hashes.sid = st.appendPublicSID(sidBuf[:0], t.sessionID)
	}
	claims := &t.claims
	bp := p.responses.payload()
	defer p.responses.putPayload(bp)
	payload, err := idTokenPayloadHashes((*bp)[:0], claims, hashes)
	if err != nil {
		return dst, err
	}
	*bp = payload // the signers copy the payload: the buffer is free again once they return
	if k, ok := key.(*signingKey); ok {
		cs, err := k.compact()
		if err != nil {
			return dst, err
		}
		return cs.appendSigned(dst, payload)
	}
	signer, err := op.SignerFromKey(key)
	if err != nil {
		return dst, err
	}
	tok, err := crypto.SignPayload(payload, signer)
	if err != nil {
		return dst, err
	}
	return append(dst, tok...), nil
}

// setUserInfo is oidc.IDTokenClaims.SetUserInfo for claims without extra claims of their own
// (idToken's): the extra claims are info's map itself instead of a copy of it (info is not used
// afterwards).
func setUserInfo(c *oidc.IDTokenClaims, info *oidc.UserInfo) {
	c.Subject = info.Subject
	c.UserInfoProfile = info.UserInfoProfile
	c.UserInfoEmail = info.UserInfoEmail
	c.UserInfoPhone = info.UserInfoPhone
	c.Address = info.Address
	if c.Claims == nil {
		c.Claims = info.Claims
		return
	}
	maps.Copy(c.Claims, info.Claims)
}

// appendAccessTokenHash appends the at_hash claim (OIDC Core 3.1.3.6) as oidc.ClaimHash computes
// it to dst (TestAccessTokenHashMatchesOp): for the SHA-256 algorithms written here without a
// hash state, copies or a string, else through oidc.ClaimHash.
func appendAccessTokenHash(dst []byte, accessToken string, alg jose.SignatureAlgorithm) ([]byte, error) {
	switch alg {
	case jose.RS256, jose.ES256, jose.PS256:
		var in [512]byte // access tokens fit: no copy on the heap
		sum := sha256.Sum256(append(in[:0], accessToken...))
		return base64.RawURLEncoding.AppendEncode(dst, sum[:sha256.Size/2]), nil
	}
	h, err := oidc.ClaimHash(accessToken, alg)
	return append(dst, h...), err
}

// idHashes are an ID token's at_hash and sid claims as base64url (no JSON escaping needed),
// written by idTokenPayloadHashes in place of the claims' AccessTokenHash and SessionID; nil
// leaves the claims' own.
type idHashes struct{ atHash, sid []byte }

// idTokenPayloadHashes appends to dst the JSON of an ID token's claims as
// oidc.IDTokenClaims.MarshalJSON writes it (the registered claims win over an extra claim of the
// same name), at_hash and sid from h where h has them (in place of c's), without its round trip
// of the registered claims through a generic map (the largest allocation of a refresh): the
// registered claims are encoded once and the extra claims the registered ones leave free are
// appended in name order. The registered claims the token endpoint sets are written directly
// (appendIDTokenRegisteredHashes).
func idTokenPayloadHashes(dst []byte, c *oidc.IDTokenClaims, h idHashes) ([]byte, error) {
	extra := c.Claims
	out, ok := appendIDTokenRegisteredHashes(dst, c, h)
	if !ok {
		reg := *c
		reg.Claims = nil
		if h.atHash != nil {
			reg.AccessTokenHash = string(h.atHash)
		}
		if h.sid != nil {
			reg.SessionID = string(h.sid)
		}
		q, err := json.Marshal(&reg)
		if err != nil {
			return nil, fmt.Errorf("id token claims: %w", err)
		}
		out = append(dst, q...)
	}
	if len(extra) == 0 {
		return out, nil
	}
	var taken func(string) bool
	if ok {
		taken = func(k string) bool { return registeredWrittenHashes(c, h, k) }
	} else {
		keys := topLevelKeys(out, make([][2]int, 0, 24))
		taken = func(k string) bool {
			return slices.ContainsFunc(keys, func(r [2]int) bool { return string(out[r[0]:r[1]]) == k })
		}
	}
	var stack [16]string
	names := stack[:0]
	for k := range extra {
		if !taken(k) {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return out, nil
	}
	slices.Sort(names)
	out = out[:len(out)-1] // the closing brace
	first := len(out) == 1 // "{" alone: no registered claim
	for _, k := range names {
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, k)
		out = append(out, ':')
		var err error
		if out, err = appendClaimValue(out, extra[k]); err != nil {
			return nil, fmt.Errorf("id token claim %q: %w", k, err)
		}
	}
	return append(out, '}'), nil
}

// topLevelKeys appends to keys where the member names of the JSON object obj are (as
// encoding/json writes them, so without escapes in the names this package's claims use),
// skipping nested objects and arrays; ranges, not strings, so that nothing is allocated.
func topLevelKeys(obj []byte, keys [][2]int) [][2]int {
	depth, inStr, esc, start := 0, false, false, 0
	for i := 0; i < len(obj); i++ {
		b := obj[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				inStr = false
				if depth == 1 {
					j := i + 1
					for j < len(obj) && (obj[j] == ' ' || obj[j] == '\n' || obj[j] == '\t' || obj[j] == '\r') {
						j++
					}
					if j < len(obj) && obj[j] == ':' {
						keys = append(keys, [2]int{start + 1, i})
					}
				}
			}
			continue
		}
		switch b {
		case '"':
			inStr, start = true, i
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	return keys
}

// withoutUserinfoScopes leaves out the scopes whose claims userinfo answers (OIDC Core 5.4:
// with an access token, the client asks userinfo for them).
func withoutUserinfoScopes(scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		switch s {
		case oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopeAddress, oidc.ScopePhone:
			continue
		}
		out = append(out, s)
	}
	return out
}

// writeOpError answers an error from op's validation or the storage as RFC 6749 JSON:
// invalid_client is 401 with a challenge (5.2), a server error is 500 and logged, others 400.
func (p *Provider) writeOpError(ctx context.Context, w http.ResponseWriter, err error) {
	e := oidc.DefaultToServerError(err, "could not issue tokens")
	if e.Description == "" {
		// op wraps the storage's answer in a fresh error of its own (RefreshTokenRequestByRefreshToken:
		// invalid_grant with the storage's error as parent and no description): say why with
		// the storage's description of the same error type.
		var inner *oidc.Error
		if errors.As(e.Unwrap(), &inner) && inner.ErrorType == e.ErrorType {
			e.Description = inner.Description
		}
	}
	status := http.StatusBadRequest
	switch e.ErrorType {
	case oidc.InvalidClient:
		status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="ssobridge"`)
	case oidc.ServerError:
		status = http.StatusInternalServerError
		p.log(ctx).ErrorContext(ctx, "token endpoint", "err", err)
		e.Description = "could not issue tokens"
	}
	writeOAuthError(w, status, string(e.ErrorType), e.Description)
}
