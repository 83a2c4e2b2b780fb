package sso

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Lifetimes configures how long things live.
type Lifetimes struct {
	AuthRequest   time.Duration // unfinished sign-in request (default 10 min)
	Code          time.Duration // authorization code (default 60 s)
	AccessToken   time.Duration // default 15 min
	IDToken       time.Duration // default 15 min
	RefreshToken  time.Duration // absolute family lifetime, confidential clients (default 30 days)
	RefreshPublic time.Duration // absolute family lifetime, public clients (default 24 h)
	// RefreshGrace is the opt-in window (at most 60 s) in which a rotated refresh token may be
	// presented again for the same successor; 0 (the default) is strict rotation: any reuse
	// revokes the family.
	RefreshGrace time.Duration
	ClockSkew    time.Duration // allowed skew for RPs (default 0)
}

func (l *Lifetimes) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&l.AuthRequest, 10*time.Minute)
	set(&l.Code, 60*time.Second)
	set(&l.AccessToken, 15*time.Minute)
	set(&l.IDToken, 15*time.Minute)
	set(&l.RefreshToken, 30*24*time.Hour)
	set(&l.RefreshPublic, 24*time.Hour)
	if l.RefreshGrace < 0 {
		l.RefreshGrace = 0
	}
}

// storage implements op.Storage on top of Store, KeyManager, ClientSource and Hooks.
type storage struct {
	store   Store
	keys    *KeyManager
	clients ClientSource
	hooks   Hooks
	log     *slog.Logger // where a fault hidden from the browser is told (pageFault)
	// limiter, signIn and claimWriter are hooks' ClientAuthLimiter, SignInChecker and
	// ClaimWriter, asserted once (New) instead of on every request; nil when the hooks are not
	// one.
	limiter     ClientAuthLimiter
	signIn      SignInChecker
	claimWriter ClaimWriter
	life        Lifetimes
	loginURL    func(string) string
	rotateKey   []byte // HMAC key deriving refresh-token successors
	sidKey      []byte // HMAC key deriving published sids
	// rotateMAC and sidMAC are HMAC states of rotateKey and sidKey (nil: built on first use).
	macOnce           sync.Once
	rotateMAC, sidMAC *macPool
	// supported are the scopes the provider serves (Config.SupportedScopes): an auth request
	// keeps only these and the client's own (ClientConfig.Scopes).
	supported []string
	now       func() time.Time
	issuer    string
	crypto    *tokenCrypto // parks at+jwt access tokens for op (access_token_jwt.go)
	families  *familyCache // the refresh grant's fast path (family_cache.go)
	// codes are the requests just completed with a code here (code_cache.go); nil when the
	// store is not a CodeRequestReader.
	codes *codeCache
	// deviceDone is the device flow's own redirect_uri (Issuer + DeviceConfig.DonePath): its
	// requests' codes are read by DeviceDone, never exchanged, so codes does not keep them.
	deviceDone string
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

// ---- clients ----

func (s *storage) clientConfig(ctx context.Context, id string) (*ClientConfig, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	return s.clients.ClientConfig(ctx, id)
}

func (s *storage) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	cfg, err := s.clientConfig(ctx, clientID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// A client error, not a server fault (end_session would otherwise answer 500).
			return nil, oidc.ErrInvalidRequest().WithDescription("unknown client")
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if why := cfg.Unusable(); why != "" {
		// /authorize, end_session...: refused with the reason on op's error page (the
		// redirect_uri of a client that is not served is not used).
		s.hooks.Event(ctx, "client.unusable", "", cfg.ID, "refused at a page")
		return nil, oidc.ErrInvalidRequest().WithDescription("%s", why)
	}
	return s.opClient(cfg), nil
}

func (s *storage) opClient(cfg *ClientConfig) *client {
	return s.setOpClient(new(client), cfg)
}

// setOpClient makes c the op.Client of cfg (opClient without an allocation of its own: the
// refresh grant's is in its request, refreshRequest.client) and returns it.
func (s *storage) setOpClient(c *client, cfg *ClientConfig) *client {
	*c = client{cfg: cfg, loginURL: s.loginURL, idLifetime: s.life.IDToken, skew: s.life.ClockSkew}
	return c
}

// dummySecretHash equalizes the work for unknown clients.
var dummySecretHash = "sha256:" + HashToken("no such client")

// AuthorizeClientIDSecret is op's check of credentials the provider's authenticator
// (client_auth.go) has already verified for this request; anything else is refused.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, clientID, clientSecret string) error {
	if id, ok := authenticatedClient(ctx); ok && id == clientID {
		return nil
	}
	cfg, err := s.clientConfig(ctx, clientID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			return oidc.ErrServerError().WithParent(err)
		}
		(&ClientConfig{SecretHash: dummySecretHash}).VerifySecret(clientSecret)
		return errors.New("invalid client credentials")
	}
	if !cfg.VerifySecret(clientSecret) {
		s.hooks.Event(ctx, "client.auth_failure", "", clientID, "wrong secret")
		return errors.New("invalid client credentials")
	}
	return nil
}

// ---- auth requests ----

// authRequest adapts *AuthRequest to op.AuthRequest.
type authRequest struct{ *AuthRequest }

func (a authRequest) GetID() string          { return a.ID }
func (a authRequest) GetACR() string         { return ACR(a.AMR) }
func (a authRequest) GetAMR() []string       { return a.AMR }
func (a authRequest) GetAudience() []string  { return []string{a.ClientID} }
func (a authRequest) GetAuthTime() time.Time { return a.AuthTime }
func (a authRequest) GetClientID() string    { return a.ClientID }
func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.CodeChallenge, Method: oidc.CodeChallengeMethod(a.CodeChallengeMethod)}
}
func (a authRequest) GetNonce() string                   { return a.Nonce }
func (a authRequest) GetRedirectURI() string             { return a.RedirectURI }
func (a authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.ResponseType) }
func (a authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.ResponseMode) }
func (a authRequest) GetScopes() []string                { return a.Scopes }
func (a authRequest) GetState() string                   { return a.State }
func (a authRequest) GetSubject() string                 { return a.Subject }
func (a authRequest) Done() bool                         { return a.AuthRequest.Done }
func (a authRequest) sessionID() string                  { return a.SessionID }

type sessionIDer interface{ sessionID() string }

func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, hintSubject string) (op.AuthRequest, error) {
	cfg, err := s.clientConfig(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown client")
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("only response_type=code is supported")
	}
	if !cfg.AllowsGrant(GrantAuthorizationCode) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("this client may not use the authorization code flow")
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if req.CodeChallenge != "" && !validS256Challenge(req.CodeChallenge) {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge must be the base64url (no padding) SHA-256 of the code_verifier: 43 characters")
	}
	if cfg.Public && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required for this client")
	}
	if len(req.State) > 2048 || len(req.Nonce) > 2048 || len(req.LoginHint) > 512 || len(req.ACRValues) > 8 {
		return nil, oidc.ErrInvalidRequest().WithDescription("state, nonce or login_hint too long")
	}
	scopes, err := s.requestScopes(cfg, req.Scopes)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ar := &AuthRequest{
		ID:                  TimeOrderedToken(now), // in time order: the request and its family append to their b-trees
		ClientID:            req.ClientID,
		RedirectURI:         req.RedirectURI,
		State:               req.State,
		Nonce:               req.Nonce,
		Scopes:              scopes,
		ResponseType:        string(req.ResponseType),
		ResponseMode:        string(req.ResponseMode),
		CodeChallenge:       req.CodeChallenge,
		CodeChallengeMethod: string(req.CodeChallengeMethod),
		Prompt:              req.Prompt,
		LoginHint:           req.LoginHint,
		HintSubject:         hintSubject,
		ACRValues:           req.ACRValues,
		Resources:           authorizeResources(ctx),
		CreatedAt:           now,
		ExpiresAt:           now.Add(s.life.AuthRequest),
	}
	if req.MaxAge != nil {
		d := time.Duration(*req.MaxAge) * time.Second
		ar.MaxAge = &d
	}
	for _, t := range req.UILocales {
		ar.UILocales = append(ar.UILocales, t.String())
	}
	answer := authorizeAnswerFrom(ctx)
	if answer != nil {
		ar.Browser = answer.browser // bound at creation: the caller answers (authorize_answer.go)
	}
	if err := s.store.CreateAuthRequest(ctx, ar); err != nil {
		// RFC 6749 4.1.2.1: the client learns at its redirect_uri that it may try again
		// (temporarily_unavailable), or server_error, without the store's text (pageFault).
		return nil, s.pageFault(ctx, "create auth request", ar.ID, err)
	}
	if answer != nil {
		answer.created = ar
	}
	return authRequest{ar}, nil
}

// Bounds of what an anonymous authorize request may make the store keep.
const (
	maxRequestedScopes = 100 // in the request, before dropping
	maxScopeLength     = 128
	maxKeptScopes      = 32
)

// scopeBoundsRefusal says why requested (a request's scopes as sent, before any is dropped)
// is refused: more than maxRequestedScopes, or one longer than maxScopeLength; "" when it is
// within both. /authorize applies it to the raw parameter (refuseEarly: op drops the scopes a
// client may not ask for before CreateAuthRequest sees them), the token endpoint through
// requestScopes.
func scopeBoundsRefusal(requested []string) string {
	if len(requested) > maxRequestedScopes {
		return "too many scopes"
	}
	for _, sc := range requested {
		if len(sc) > maxScopeLength {
			return "scope too long"
		}
	}
	return ""
}

// requestScopes keeps the requested scopes the client may ask for (the provider's supported
// scopes and the client's own), once each, in order; too many or too long ones are refused.
func (s *storage) requestScopes(cfg *ClientConfig, requested []string) ([]string, error) {
	if why := scopeBoundsRefusal(requested); why != "" {
		return nil, oidc.ErrInvalidScope().WithDescription("%s", why)
	}
	var kept []string
	for _, sc := range requested {
		if slices.Contains(kept, sc) || !(slices.Contains(s.supported, sc) || slices.Contains(cfg.Scopes, sc) || sc == oidc.ScopeOpenID) {
			continue
		}
		if kept == nil {
			kept = make([]string, 0, min(len(requested), maxKeptScopes+1)) // once, not at each append
		}
		kept = append(kept, sc)
	}
	if len(kept) > maxKeptScopes {
		return nil, oidc.ErrInvalidScope().WithDescription("too many scopes")
	}
	return kept, nil
}

// readAuthRequest is the context key of an auth request its caller has just read
// (WithAuthRequest).
type readAuthRequest struct{}

// WithAuthRequest returns ctx carrying ar as just read from the store by the caller (the
// authorize callback's guard): op's callback in that context takes it instead of reading the
// same row again. Its code is still attached by SaveCode's compare-and-set, which fails for a
// request that changed in between; once it has attached it, the code's first token request
// here takes ar with its code from the codeCache (SaveAuthCode) instead of reading it back.
func WithAuthRequest(ctx context.Context, ar *AuthRequest) context.Context {
	return context.WithValue(ctx, readAuthRequest{}, ar)
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	if ar, ok := ctx.Value(readAuthRequest{}).(*AuthRequest); ok && ar.ID == id {
		return authRequest{ar}, nil
	}
	ar, err := s.store.AuthRequest(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// op's callback shows it on the error page (no request, no redirect_uri).
			return nil, oidc.ErrInvalidRequest().WithDescription("this sign-in request is unknown or has expired; start again from the app")
		}
		return nil, s.pageFault(ctx, "read auth request", id, err)
	}
	return authRequest{ar}, nil
}

// codeRequest is an auth request found by its code: exchanging it consumes the code in the
// same transaction that issues the tokens.
type codeRequest struct {
	authRequest
	codeHash string
	// cached: taken from the provider's codeCache, not read from the store (codeGrant.checked).
	cached bool
	// target is its access token's audience when narrowed (tokenTarget: the request's
	// resources, or those the token request names); nil: the client's whole set.
	target []string
}

// AuthRequestByCode is op's storage interface; nothing in the bridge calls it (the token
// endpoint's code grant is codeGrant, which looks codes up through codeRequest with its client
// and verifier). For a caller it does not name, a used code is refused, revoking nothing and
// writing no event.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	return s.codeRequest(ctx, code, "", "")
}

// sessionLive reports whether session id is live (found by Session: neither ended nor expired),
// as a grant made in it asks (a code's, a device approval's).
func (s *storage) sessionLive(ctx context.Context, id string) (bool, error) {
	_, err := s.store.Session(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// codeRequest finds the request of code presented by the authenticated client callerID with
// the PKCE code_verifier verifier. A used code revokes what it issued only when its own client
// presents it again with the proof of holding it (RFC 6749 4.1.2: the client it was issued to
// may have leaked it): the verifier matching its challenge, for a code issued with one (RFC
// 7636 4.6). From any other caller, or without that proof, it is refused as an unused one
// would be, and nothing is revoked: a used code is no secret (access logs, browser history),
// and a public client authenticates by its id alone, so anyone could otherwise sign a member
// out of an app by posting its used code.
func (s *storage) codeRequest(ctx context.Context, code, callerID, verifier string) (op.AuthRequest, error) {
	if len(code) > 1024 {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid code")
	}
	h := HashToken(code)
	ar, live, liveRead, cached, err := s.findCode(ctx, code, h, true)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, oidc.ErrInvalidGrant().WithDescription("invalid or expired code")
		}
		return nil, oidc.ErrServerError().WithParent(err)
	}
	if ar.CodeConsumed {
		if callerID != ar.ClientID {
			if callerID != "" {
				s.hooks.Event(ctx, "token.code_other_client", "", callerID, "another client's used code refused; nothing revoked")
			}
			return nil, oidc.ErrInvalidGrant().WithDescription("the code was not issued to this client")
		}
		if challenge := (authRequest{ar}).GetCodeChallenge(); challenge != nil && op.AuthorizeCodeChallenge(verifier, challenge) != nil {
			s.hooks.Event(ctx, "token.code_replay_unproven", "", callerID, "used code presented without its code_verifier; nothing revoked")
			return nil, oidc.ErrInvalidGrant().WithDescription("invalid code")
		}
		// RFC 6749 4.1.2: a code used twice revokes what it issued.
		s.families.forget(ar.ID)
		if err := s.store.RevokeFamily(ctx, ar.ID); err != nil {
			return nil, oidc.ErrServerError().WithParent(err)
		}
		s.hooks.Event(ctx, "token.code_replay", ar.Subject, ar.ClientID, codeReplayDetail)
		return nil, oidc.ErrInvalidGrant().WithDescription("code already used")
	}
	if ar.SessionID != "" {
		// The session that signed in must still be live: one ended since (signed out, ended by
		// an administrator) has had its back-channel logouts already, so its code gives nothing.
		if !liveRead {
			var err error
			if live, err = s.sessionLive(ctx, ar.SessionID); err != nil {
				return nil, oidc.ErrServerError().WithParent(err)
			}
		}
		if !live {
			s.hooks.Event(ctx, "token.code_session_ended", ar.Subject, ar.ClientID, "code of an ended session refused")
			return nil, oidc.ErrInvalidGrant().WithDescription("the sign-in session of this code has ended")
		}
	}
	return &codeRequest{authRequest: authRequest{ar}, codeHash: h, cached: cached}, nil
}

// findCode reads the request of code, whose SHA-256 is h, and whether its session is live when
// liveRead. A store that is a CodeRequestReader reads it by the request id the code seals,
// and the hash it holds must be h (compared in constant time): a code that does not open, or
// opens to a request holding another code, is ErrNotFound. Other stores find it by h. With
// useCache (only for a code the exchange's compare-and-set then consumes), a request in the
// codeCache is taken instead of read: cached says so (its session is taken as live: see
// codeCache).
func (s *storage) findCode(ctx context.Context, code, h string, useCache bool) (ar *AuthRequest, live, liveRead, cached bool, err error) {
	switch r := s.store.(type) {
	case CodeRequestReader:
		id, err := s.crypto.Decrypt(code)
		if err != nil {
			return nil, false, false, false, fmt.Errorf("code: %w", ErrNotFound)
		}
		if useCache {
			if ar := s.codes.take(id, h, s.now()); ar != nil {
				// Completed with this code here and not presented since: its session was live
				// when that write committed. Whether it still is, and whether the code is still
				// unconsumed, IssueTokens' compare-and-set decides (codeCache).
				return ar, true, true, true, nil
			}
		}
		ar, live, err = r.CodeRequest(ctx, id)
		if err != nil {
			return nil, false, false, false, err
		}
		if !equalHashes(ar.CodeHash, h) {
			return nil, false, false, false, fmt.Errorf("code: %w", ErrNotFound)
		}
		return ar, live, true, false, nil
	}
	ar, err = s.store.AuthRequestByCode(ctx, h)
	return ar, false, false, false, err
}

// SaveAuthCode attaches op's callback's code to request id (SaveCode's compare-and-set: a done
// request without a code, once). When the callback's caller handed it the request it had just
// read (WithAuthRequest: the bridge's guard, for a request completed from a live session), that
// request with this code is what the write left in the store, the code's first token request
// here takes it from the codeCache instead of reading it back (keepCode), as the login form's
// code (Provider.CodeCommitted).
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	h, exp := HashToken(code), s.now().Add(s.life.Code)
	if err := s.store.SaveCode(ctx, id, h, exp); err != nil {
		if errors.Is(err, ErrNotFound) {
			return oidc.ErrInvalidRequest().WithDescription("this sign-in was already completed")
		}
		return s.pageFault(ctx, "save code", id, err)
	}
	if ar, ok := ctx.Value(readAuthRequest{}).(*AuthRequest); ok && ar.ID == id {
		s.keepCode(ar, h, exp)
	}
	return nil
}

// keepCode puts in the codeCache the completed request ar as the write that attached the code
// whose hash is h, expiring at exp, left it in the store (ar as read before that write, never
// changed after). Call it only once that write has committed. The device flow's own requests
// are not kept: no token request exchanges them (DeviceDone reads them), so no compare-and-set
// binds an entry to them.
func (s *storage) keepCode(ar *AuthRequest, h string, exp time.Time) {
	if s.codes == nil || ar == nil || !ar.Done || ar.RedirectURI == s.deviceDone {
		return
	}
	kept := *ar
	kept.CodeHash, kept.CodeExpiresAt, kept.CodeConsumed = h, exp, false
	s.codes.put(&kept)
}

// DeleteAuthRequest is called by op right after a code exchange. The exchange already consumed
// the code in its transaction and the row is purged at expiry, so there is nothing to write.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// ---- tokens ----

// refreshRequest adapts a family found by a presented refresh token to op.RefreshTokenRequest.
type refreshRequest struct {
	rt     *RefreshToken // &cached when the family cache had it
	cached RefreshToken
	gen    int64 // the presented token's generation
	token  string
	hash   string // HashToken(token)
	scopes []string
	client client // the op.Client its response is issued for (refreshGrant.exchange)
	// rotation is the rotation its tokens are issued with (CreateAccessAndRefreshTokens's
	// Issue.Rotate), and claims where its ID token's claims are written (idTokenUserinfo), in
	// the request's allocation rather than one each of their own.
	rotation Rotation
	claims   ClaimSink
	// target is its access token's audience when narrowed (tokenTarget: the family's
	// resources, or those the token request names); nil: the client's whole set.
	target []string
}

func (r *refreshRequest) GetAMR() []string { return r.rt.AMR }

// GetAudience is the ID token's audience (op.IDTokenRequest): the client, as the family's
// Audience says unless it holds the grant's resources (RefreshToken.Resources), which are the
// access tokens' (OIDC Core 2: an ID token is for the client).
func (r *refreshRequest) GetAudience() []string {
	if r.rt.Resources() == nil {
		return r.rt.Audience
	}
	return []string{r.rt.ClientID}
}

func (r *refreshRequest) GetAuthTime() time.Time      { return r.rt.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.rt.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.scopes }
func (r *refreshRequest) GetSubject() string          { return r.rt.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.scopes = s }
func (r *refreshRequest) sessionID() string           { return r.rt.SessionID }

// grantOf extracts what a token request carries.
type grantInfo struct {
	clientID string
	subject  string
	// audience is its family's Audience: the grant's resources when its request named some
	// (RefreshToken.Resources), else the client's id.
	audience []string
	// target is the access token's audience when narrowed (tokenTarget); nil: the client's
	// whole set (accessTokenAudience).
	target    []string
	scopes    []string
	sessionID string
	authTime  time.Time
	amr       []string
	familyID  string
	codeHash  string
	codeReq   string // the id of the request whose code codeHash is
	// device is the device authorization the grant redeems (the device grant): consumed in
	// the grant's write, Issue.ConsumeDevice.
	device *DeviceConsumption
}

func grantOf(req op.TokenRequest) grantInfo {
	g := grantInfo{subject: req.GetSubject(), audience: req.GetAudience(), scopes: req.GetScopes()}
	switch r := req.(type) {
	case *codeRequest:
		g.clientID, g.sessionID, g.authTime, g.amr, g.familyID, g.codeHash = r.ClientID, r.SessionID, r.AuthTime, r.AMR, r.ID, r.codeHash
		g.codeReq = r.ID
		g.target = r.target
		if len(r.Resources) > 0 {
			g.audience = r.Resources
		}
	case authRequest:
		g.clientID, g.sessionID, g.authTime, g.amr, g.familyID = r.ClientID, r.SessionID, r.AuthTime, r.AMR, r.ID
	case *refreshRequest:
		g.clientID, g.sessionID, g.authTime, g.amr, g.familyID = r.rt.ClientID, r.rt.SessionID, r.rt.AuthTime, r.rt.AMR, r.rt.FamilyID
		g.target = r.target
	case granter:
		g = r.grant()
	case interface{ GetClientID() string }:
		g.clientID = r.GetClientID()
	}
	if g.clientID == "" && len(g.audience) > 0 {
		g.clientID = g.audience[0]
	}
	return g
}

func (s *storage) accessRecord(g grantInfo, now time.Time) AccessToken {
	return AccessToken{
		ClientID: g.clientID, Subject: g.subject, Audience: g.audience,
		Scopes: g.scopes, FamilyID: g.familyID, SessionID: g.sessionID, AuthTime: g.authTime, AMR: g.amr,
		CreatedAt: now, ExpiresAt: now.Add(s.life.AccessToken),
	}
}

// newFamily is the family a grant starts: refreshHash is empty when it issues no refresh token
// (the family then lives as long as the access token).
func (s *storage) newFamily(g grantInfo, refreshHash string, now, expires time.Time) *RefreshToken {
	return &RefreshToken{
		Hash: refreshHash, FamilyID: g.familyID, ClientID: g.clientID, Subject: g.subject,
		Audience: g.audience, Scopes: g.scopes, SessionID: g.sessionID, AuthTime: g.authTime, AMR: g.amr,
		CreatedAt: now, ExpiresAt: expires,
	}
}

func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	var stack [512]byte
	id, fields, exp, err := s.createAccessToken(ctx, req, stack[:0])
	if err != nil {
		return "", time.Time{}, err
	}
	return accessID(id, fields), exp, nil
}

// accessID is the id of an access token as createAccessToken and createAccessAndRefreshTokens
// return it: id, or for an opaque token (id "") its fields encoded, which is the id op seals.
func accessID(id string, fields []byte) string {
	if id == "" {
		return b64(fields)
	}
	return id
}

// createAccessToken is CreateAccessToken with the token's id as its fields appended to dst
// (appendAccessIDFields) and id "" when the client has opaque access tokens: sealing the
// token encodes them (tokenCrypto.sealAccess), so the id is never a string of its own. A
// client with JWT access tokens gets its id, the JWT parked under it (finishAccessToken).
func (s *storage) createAccessToken(ctx context.Context, req op.TokenRequest, dst []byte) (id string, fields []byte, exp time.Time, err error) {
	g := grantOf(req)
	now := s.now()
	cfg, _ := s.clientConfig(ctx, g.clientID)
	var in Issue
	if rr, ok := req.(*refreshRequest); ok {
		// op asks for an access token only for a refresh when it issues no refresh token: the
		// family stays as it is.
		g.familyID = rr.rt.FamilyID
	} else if g.subject != "" {
		// A user's token always has a family, so that revocations reach it.
		if g.familyID == "" {
			g.familyID = RandomToken()
		}
		in.Family = s.newFamily(g, "", now, now.Add(s.life.AccessToken))
	}
	at := s.accessRecord(g, now)
	in.ConsumeCodeHash, in.ConsumeCodeRequest, in.ConsumeDevice = g.codeHash, g.codeReq, g.device
	if id, fields, err = s.finishIssue(ctx, cfg, g, &at, &in, dst); err != nil {
		return "", nil, time.Time{}, err
	}
	return id, fields, at.ExpiresAt, nil
}

// finishIssue is what createAccessToken and createAccessAndRefreshTokens end with once the
// access token at and the store's write in are made: at's audience (the grant's target when
// narrowed, else its client's whole set), its id's
// fields appended to dst, in written (nothing when it has nothing to write: an access token
// alone for a family that stays as it is, or for a client acting for itself), then the id, ""
// for an opaque token (finishAccessToken).
func (s *storage) finishIssue(ctx context.Context, cfg *ClientConfig, g grantInfo, at *AccessToken, in *Issue, dst []byte) (id string, fields []byte, err error) {
	if len(g.target) > 0 {
		at.Audience = g.target
	} else {
		at.Audience = accessTokenAudience(cfg, at.Audience)
	}
	if fields, err = appendAccessIDFields(dst, at); err != nil {
		return "", nil, oidc.ErrServerError().WithParent(err)
	}
	if in.Family != nil || in.Rotate != nil || in.ConsumeCodeHash != "" || in.ConsumeDevice != nil {
		if err := s.issue(ctx, *in, g); err != nil {
			return "", nil, err
		}
	}
	if id, err = s.finishAccessToken(ctx, cfg, at, fields); err != nil {
		return "", nil, oidc.ErrServerError().WithParent(err)
	}
	return id, fields, nil
}

func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	var stack [512]byte
	id, fields, newToken, exp, err := s.createAccessAndRefreshTokens(ctx, req, current, stack[:0])
	if err != nil {
		return "", "", time.Time{}, err
	}
	return accessID(id, fields), newToken, exp, nil
}

// createAccessAndRefreshTokens is CreateAccessAndRefreshTokens with the access token's id as
// createAccessToken returns it (its fields appended to dst, id "" for an opaque token).
func (s *storage) createAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string, dst []byte) (id string, fields []byte, newToken string, exp time.Time, err error) {
	g := grantOf(req)
	now := s.now()
	cfg, _ := s.clientConfig(ctx, g.clientID)
	at := s.accessRecord(g, now)
	var in Issue
	if rr, ok := req.(*refreshRequest); ok && current != "" {
		newToken = s.nextToken(current, rr.rt.FamilyID, rr.gen+1)
		old := rr.hash
		if current != rr.token || old == "" {
			old = HashToken(current)
		}
		rr.rotation = Rotation{FamilyID: rr.rt.FamilyID, Generation: rr.gen, OldHash: old,
			NewHash: HashToken(newToken), Now: now, Grace: s.life.RefreshGrace}
		in.Rotate = &rr.rotation
		at.Generation = rr.gen + 1
		at.Scopes = rr.scopes
		if at.ExpiresAt.After(rr.rt.ExpiresAt) {
			at.ExpiresAt = rr.rt.ExpiresAt
		}
	} else {
		if g.familyID == "" {
			g.familyID = RandomToken()
			at.FamilyID = g.familyID
		}
		life := s.life.RefreshToken
		if cfg != nil && cfg.Public {
			life = s.life.RefreshPublic
		}
		newToken = s.derivedToken(g.familyID, 0)
		in.ConsumeCodeHash, in.ConsumeCodeRequest, in.ConsumeDevice = g.codeHash, g.codeReq, g.device
		in.Family = s.newFamily(g, HashToken(newToken), now, now.Add(life))
	}
	if id, fields, err = s.finishIssue(ctx, cfg, g, &at, &in, dst); err != nil {
		return "", nil, "", time.Time{}, err
	}
	return id, fields, newToken, at.ExpiresAt, nil
}

// publicSID is the sid published for a stored session id: a keyed hash of it.
func (s *storage) publicSID(sessionID string) string {
	var buf [64]byte
	return string(s.appendPublicSID(buf[:0], sessionID))
}

// appendPublicSID appends publicSID(sessionID) to dst (nothing for "").
func (s *storage) appendPublicSID(dst []byte, sessionID string) []byte {
	if sessionID == "" {
		return dst
	}
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.AppendEncode(dst, s.macs().sidMAC.sum(sum[:0], "sid:", sessionID))
}

// macs builds the HMAC pools once.
func (s *storage) macs() *storage {
	s.macOnce.Do(func() {
		s.rotateMAC, s.sidMAC = newMACPool(s.rotateKey), newMACPool(s.sidKey)
	})
	return s
}

// PublicSID is the sid published for a stored session id under key (Config.SIDKey): a keyed
// hash of it, never the id itself ("" for "").
func PublicSID(key []byte, sessionID string) string {
	if sessionID == "" {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("sid:" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// derivedPrefix starts the secret of a token derived from its family and generation.
const derivedPrefix = "d."

// derivedToken is the refresh token of generation gen of a family started with derived tokens:
// the HMAC, under the rotation key, of the family id and the generation. Nobody without the key
// can make one; the provider makes any generation's at once, so a rotated token of the family is
// recognised however old it is (familyToken), and a concurrent retry inside the grace window
// gets the same successor. The family id is random (256 bits, or the sign-in request's time
// ordered id with 256 random bits) and never reused, so no two families share a token.
func (s *storage) derivedToken(family string, gen int64) string {
	const label = "rt-gen:"
	enc := base64.RawURLEncoding
	// One buffer (on the stack when the family id fits): the MAC's input,
	// "rt-gen:<family>.<gen>", then the token after the label.
	var stack [192]byte
	b := stack[:0]
	if n := len(label) + len(family) + 21 + len(derivedPrefix) + enc.EncodedLen(sha256.Size); n > len(stack) {
		b = make([]byte, 0, n)
	}
	b = append(b, label...)
	b = append(b, family...)
	b = append(b, '.')
	b = strconv.AppendInt(b, gen, 10)
	var sum [sha256.Size]byte
	mac := s.macs().rotateMAC.sumBytes(sum[:0], b)
	b = append(b, '.')
	b = append(b, derivedPrefix...)
	return string(enc.AppendEncode(b, mac)[len(label):])
}

// isDerived reports whether a well-formed refresh token has a derived token's shape.
func isDerived(token string) bool {
	_, rest, _ := strings.Cut(token, ".")
	_, secret, _ := strings.Cut(rest, ".")
	return strings.HasPrefix(secret, derivedPrefix)
}

// nextToken is the token of generation gen of family after current: derived for a family
// started with derived tokens, else (a chain family, started before them, or a legacy token's)
// the successor of current, so the family's older tokens stay recognisable.
func (s *storage) nextToken(current, family string, gen int64) string {
	if isDerived(current) {
		return s.derivedToken(family, gen)
	}
	return s.successor(current, family, gen)
}

// successor derives the token of generation gen of a chain family from the one before it: a
// concurrent retry inside the grace window computes the same value, and a rotated token
// presented again can be recognised as the family's own by walking the chain (familyToken).
func (s *storage) successor(current, family string, gen int64) string {
	var sum [sha256.Size]byte
	mac := s.macs().rotateMAC.sum(sum[:0], current)
	enc := base64.RawURLEncoding
	b := make([]byte, 0, len(family)+22+enc.EncodedLen(len(mac)))
	b = append(b, family...)
	b = append(b, '.')
	b = strconv.AppendInt(b, gen, 10)
	b = append(b, '.')
	return string(enc.AppendEncode(b, mac))
}

// maxReuseSteps bounds how many generations back a presented token of a chain family is
// followed to recognise it as a rotated token of its family; an older one is treated as unknown.
// Families with derived tokens need no walk.
const maxReuseSteps = 4096

// Results of familyToken.
const (
	tokenUnknown = iota // not a token of the family (or too old to tell)
	tokenCurrent        // the family's current token
	tokenRotated        // a token the family has rotated away from
)

// familyToken finds the family of a presented refresh token and tells what the token is to it;
// hash is the token's HashToken (computed once here: the rotation's compare-and-set uses it too).
//
// A token of an older generation than the family's costs one HMAC (or two and a SHA-256) when
// the family has derived tokens, whatever it claims: a derived-shaped token is compared with
// the derived token of its generation; any other is a chain token, which a family with derived
// tokens never had (its current hash is its derived token's). Only a chain family walks from
// the presented generation to its current one (maxReuseSteps at most).
//
// cached, when not nil, is where a family the cache has is copied (the refresh grant's request:
// no copy of its own on the heap); with nil the cache is not asked nor filled.
func (s *storage) familyToken(ctx context.Context, token string, cached *RefreshToken) (rt *RefreshToken, gen int64, kind int, hash string, err error) {
	if len(token) > 1024 {
		return nil, 0, tokenUnknown, "", ErrNotFound
	}
	hash = HashToken(token)
	if family, g, ok := parseRefreshToken(token); ok {
		gen = g
		if cached != nil && s.families.current(family, g, hash, s.now(), cached) {
			return cached, gen, tokenCurrent, hash, nil
		}
		rt, err = s.store.Family(ctx, family)
		if err == nil && cached != nil {
			s.families.put(rt)
		}
	} else {
		rt, err = s.store.LegacyRefreshToken(ctx, hash)
	}
	if err != nil {
		return nil, 0, tokenUnknown, hash, err
	}
	switch {
	case rt.Hash == "" || gen > rt.Generation:
		return rt, gen, tokenUnknown, hash, nil
	case rt.Revoked && gen < rt.Generation:
		// Nothing left to revoke: spare the check (it is what a replaying attacker pays for).
		return rt, gen, tokenUnknown, hash, nil
	case gen == rt.Generation:
		if hmac.Equal([]byte(hash), []byte(rt.Hash)) {
			return rt, gen, tokenCurrent, hash, nil
		}
		return rt, gen, tokenUnknown, hash, nil
	case isDerived(token):
		if hmac.Equal([]byte(token), []byte(s.derivedToken(rt.FamilyID, gen))) {
			return rt, gen, tokenRotated, hash, nil
		}
		return rt, gen, tokenUnknown, hash, nil
	case equalHashes(HashToken(s.derivedToken(rt.FamilyID, rt.Generation)), rt.Hash):
		// A chain-shaped token of a family with derived tokens: made up.
		return rt, gen, tokenUnknown, hash, nil
	case rt.Generation-gen > maxReuseSteps:
		return rt, gen, tokenUnknown, hash, nil
	}
	t := token
	for g := gen + 1; g <= rt.Generation; g++ {
		t = s.successor(t, rt.FamilyID, g)
	}
	if hmac.Equal([]byte(HashToken(t)), []byte(rt.Hash)) {
		return rt, gen, tokenRotated, hash, nil
	}
	return rt, gen, tokenUnknown, hash, nil
}

// codeReplayDetail is token.code_replay's detail, one text wherever the replay is found: the
// read of a code already consumed (codeRequest) or the grant's write refused for it (issue: a
// code taken from the codeCache and exchanged elsewhere meanwhile, or two exchanges that raced),
// so the audit says the same of the same replay on every replica (review s24 X2-4).
const codeReplayDetail = "code used twice; tokens issued from it revoked"

func (s *storage) issue(ctx context.Context, in Issue, g grantInfo) error {
	err := s.store.IssueTokens(ctx, in)
	switch {
	case err == nil:
		if r := in.Rotate; r != nil {
			s.families.rotated(r.FamilyID, r.Generation, r.NewHash, r.Now)
		}
		s.families.put(in.Family)
		return nil
	case in.Rotate != nil:
		s.families.forget(in.Rotate.FamilyID)
	}
	switch {
	case in.ConsumeDevice != nil && errors.Is(err, ErrSessionEnded):
		// The approving session ended after the device grant found it live: the store's
		// compare-and-set on the device code refused it (the grant closes it: final).
		s.hooks.Event(ctx, "device.session_ended", g.subject, g.clientID, "device approval of an ended session refused")
		return deviceSessionEnded()
	case in.ConsumeDevice != nil && errors.Is(err, ErrNotFound):
		// Consumed by a concurrent poll (or expired the moment after the poll read it).
		return deviceCodeUsed()
	case errors.Is(err, ErrCodeConsumed):
		// RFC 6749 4.1.2: a code used more than once revokes what it issued, also when the
		// exchanges raced.
		s.families.forget(g.familyID)
		if rerr := s.store.RevokeFamily(ctx, g.familyID); rerr != nil {
			return oidc.ErrServerError().WithParent(rerr)
		}
		s.hooks.Event(ctx, "token.code_replay", g.subject, g.clientID, codeReplayDetail)
		return oidc.ErrInvalidGrant().WithDescription("code already used")
	case errors.Is(err, ErrSessionEnded) && in.ConsumeCodeHash != "":
		// The session ended after codeRequest found it live: the store's compare-and-set on
		// the code refused it, so no grant outlives the sign-out's revocation.
		s.hooks.Event(ctx, "token.code_session_ended", g.subject, g.clientID, "code of an ended session refused")
		return oidc.ErrInvalidGrant().WithDescription("the sign-in session of this code has ended")
	case errors.Is(err, ErrNotFound) && in.ConsumeCodeHash != "":
		return oidc.ErrInvalidGrant().WithDescription("code expired")
	case errors.Is(err, ErrRefreshReused):
		s.hooks.Event(ctx, "token.refresh_reuse", g.subject, g.clientID, "rotated refresh token reused; family revoked")
		return oidc.ErrInvalidGrant().WithDescription("refresh token already used; the grant has been revoked")
	case errors.Is(err, ErrTokenRevoked), errors.Is(err, ErrNotFound):
		return oidc.ErrInvalidGrant().WithDescription("refresh token revoked or expired")
	}
	return oidc.ErrServerError().WithParent(fmt.Errorf("issue tokens: %w", err))
}

func (s *storage) TokenRequestByRefreshToken(ctx context.Context, token string) (op.RefreshTokenRequest, error) {
	caller, _ := authenticatedClient(ctx) // "": op's caller unknown, the token's client is compared after
	req, err := s.refreshRequestByToken(ctx, token, caller, nil)
	if err != nil {
		return nil, err
	}
	return req, nil
}

// refreshRequestByToken is TokenRequestByRefreshToken answering in req (nil: a new one), the
// refresh grant's (refreshCall) when it has one, for the authenticated client callerID ("":
// not known here; the caller compares the token's client itself).
//
// A token of another client's family is refused (invalid_grant) before anything else is done
// with it (RFC 6749 6: the AS MUST "verify that the refresh token was issued to the
// authenticated client"): the member hooks (CheckGrant, CheckSignIn) do not run for a token the
// caller does not own, and write no token.refresh_denied row under the family's client (review
// s25 X-6). One exception, decided so: a rotated token of the family presented by another
// client still revokes the family, as its reuse by its own client does (RFC 9700 4.14.2: a
// rotated token presented again is a breach, and the AS cannot tell who is the attacker). A
// refresh token only travels between its client and the token endpoint, so another client
// holding one means it left the client's keeping, whoever presents it; unlike a used code
// (codeRequest revokes only for its own client), which travels in URLs and logs. The
// token.refresh_reuse row keeps the family's client and subject, and its detail names the
// presenting client. A current token presented by another client revokes nothing.
func (s *storage) refreshRequestByToken(ctx context.Context, token, callerID string, req *refreshRequest) (*refreshRequest, error) {
	if req == nil {
		req = new(refreshRequest)
	}
	rt, gen, kind, hash, err := s.familyToken(ctx, token, &req.cached)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && kind == tokenUnknown):
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid or expired refresh token")
	case err != nil:
		return nil, oidc.ErrServerError().WithParent(err)
	case callerID != "" && rt.ClientID != callerID:
		if kind == tokenRotated && !rt.Revoked {
			s.families.forget(rt.FamilyID)
			if err := s.store.RevokeFamily(ctx, rt.FamilyID); err != nil {
				return nil, oidc.ErrServerError().WithParent(err)
			}
			s.hooks.Event(ctx, "token.refresh_reuse", rt.Subject, rt.ClientID,
				"rotated refresh token reused by another client ("+callerID+"); family revoked")
		}
		return nil, errRefreshOtherClient()
	case rt.Revoked:
		return nil, oidc.ErrInvalidGrant().WithDescription("refresh token revoked")
	case kind == tokenRotated:
		// A retry of the last rotation within the opt-in grace window gets the same successor
		// (IssueTokens finds it already there); any other rotated token is reuse.
		if gen+1 != rt.Generation || s.life.RefreshGrace <= 0 || s.now().Sub(rt.RotatedAt) > s.life.RefreshGrace {
			s.families.forget(rt.FamilyID)
			if err := s.store.RevokeFamily(ctx, rt.FamilyID); err != nil {
				return nil, oidc.ErrServerError().WithParent(err)
			}
			s.hooks.Event(ctx, "token.refresh_reuse", rt.Subject, rt.ClientID, "rotated refresh token reused; family revoked")
			return nil, oidc.ErrInvalidGrant().WithDescription("refresh token already used; the grant has been revoked")
		}
	}
	if err := s.hooks.CheckGrant(ctx, rt.Subject, rt.ClientID); err != nil {
		if errors.Is(err, ErrAccessDenied) {
			s.hooks.Event(ctx, "token.refresh_denied", rt.Subject, rt.ClientID, err.Error())
			return nil, oidc.ErrInvalidGrant().WithDescription("the member may no longer use this app")
		}
		// Not a refusal: the grant stays valid (review s25 X-1), whether the operator's access
		// rule failed (review s26 R2-4) or the AMS could not be reached.
		if errors.Is(err, ErrAccessRuleFault) {
			return nil, s.ruleFault(ctx, rt.Subject, rt.ClientID, err)
		}
		return nil, amsUnreachable(err)
	}
	if err := s.checkSignIn(ctx, rt.Subject, rt.ClientID, rt.AuthTime, rt.AMR, "token.refresh_denied"); err != nil {
		return nil, err
	}
	req.rt, req.gen, req.token, req.hash, req.scopes = rt, gen, token, hash, rt.Scopes
	return req, nil
}

// checkSignIn asks the hooks' SignInChecker (when they have one) whether the sign-in a grant
// was made from still meets the policy; a refusal is audited as event and answered
// invalid_grant with its reason, a check that could not decide 503 temporarily_unavailable
// (amsUnreachable).
func (s *storage) checkSignIn(ctx context.Context, subject, clientID string, authTime time.Time, amr []string, event string) error {
	sc := s.signIn
	if sc == nil {
		return nil
	}
	err := sc.CheckSignIn(ctx, subject, clientID, authTime, amr)
	if err == nil {
		return nil
	}
	var again *SignInAgainError
	if errors.As(err, &again) {
		s.hooks.Event(ctx, event, subject, clientID, again.Reason)
		return oidc.ErrInvalidGrant().WithDescription("%s", again.Reason)
	}
	if errors.Is(err, ErrAccessDenied) {
		s.hooks.Event(ctx, event, subject, clientID, err.Error())
		return oidc.ErrInvalidGrant().WithDescription("the member may no longer use this app")
	}
	// The check could not decide (the AMS unreachable): the grant stays valid, the client
	// tries again, as memberAllowed answers (review s25 X-1).
	return amsUnreachable(err)
}

func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	_, err := s.hooks.EndSession(ctx, &op.EndSessionRequest{UserID: userID, ClientID: clientID})
	return err
}

func (s *storage) TerminateSessionFromRequest(ctx context.Context, req *op.EndSessionRequest) (string, error) {
	return s.hooks.EndSession(ctx, req)
}

// errRevokeOtherClient refuses the revocation of a token issued to another client (RFC 7009
// 2.1). The client authenticated, so this is not invalid_client (401 with a Basic challenge:
// "client authentication failed", RFC 6749 5.2) but invalid_grant, which 5.2 defines for a
// grant "issued to another client".
func errRevokeOtherClient() *oidc.Error {
	return oidc.ErrInvalidGrant().WithDescription("the token was issued to another client")
}

// errRefreshOtherClient refuses a refresh token of another client's family (RFC 6749 6, 5.2
// invalid_grant: "issued to another client").
func errRefreshOtherClient() *oidc.Error {
	return oidc.ErrInvalidGrant().WithDescription("the refresh token was issued to another client")
}

// refreshIDPrefix marks the token ids GetRefreshTokenInfo hands back to op, which passes them
// to RevokeToken together with a user id, just like access token ids.
const refreshIDPrefix = "rt:"

func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	if rt, ok := strings.CutPrefix(tokenOrID, refreshIDPrefix); ok {
		return s.revokeRefresh(ctx, rt, clientID)
	}
	if userID != "" { // an access token id
		at, _, err := s.accessToken(ctx, tokenOrID)
		switch {
		case errors.Is(err, errTokenInactive):
			return nil // RFC 7009 2.2: invalid tokens do not cause an error
		case err != nil:
			// The store could not say: the token is not revoked, and the client must know.
			return oidc.ErrServerError().WithParent(err)
		}
		if at.ClientID != clientID {
			return errRevokeOtherClient()
		}
		if err := s.store.RevokeAccessToken(ctx, at.IDHash, at.ExpiresAt); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
		s.hooks.Event(ctx, "token.revoke", at.Subject, clientID, "access token")
		return nil
	}
	return s.revokeRefresh(ctx, tokenOrID, clientID)
}

func (s *storage) revokeRefresh(ctx context.Context, token, clientID string) *oidc.Error {
	rt, _, kind, _, err := s.familyToken(ctx, token, nil)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && kind == tokenUnknown):
		return nil // RFC 7009 2.2: invalid tokens do not cause an error
	case err != nil:
		// The store could not say: the token is not revoked, and the client must know (RFC
		// 7009 2.2.1), as for an access token.
		return oidc.ErrServerError().WithParent(err)
	}
	if rt.ClientID != clientID {
		return errRevokeOtherClient()
	}
	if rt.Revoked {
		return nil // RFC 7009 2.2: revoked already, an invalid token: nothing to do, no row
	}
	s.families.forget(rt.FamilyID)
	if err := s.store.RevokeFamily(ctx, rt.FamilyID); err != nil {
		return oidc.ErrServerError().WithParent(err)
	}
	s.hooks.Event(ctx, "token.revoke", rt.Subject, clientID, "refresh token family")
	return nil
}

func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	rt, _, kind, _, err := s.familyToken(ctx, token, nil)
	switch {
	case errors.Is(err, ErrNotFound) || (err == nil && kind == tokenUnknown):
		return "", "", op.ErrInvalidRefreshToken
	case err != nil:
		return "", "", err // op answers server_error: the token may be live
	}
	return rt.Subject, refreshIDPrefix + token, nil
}

// errTokenInactive: an access token that is expired, revoked, or of a revoked or expired family.
var errTokenInactive = errors.New("access token inactive")

// errClientGone is errTokenInactive for an access token whose client is no longer registered:
// removed, or removed and registered again (the token was issued to the registration before,
// another app: ofCurrentRegistration).
var errClientGone = fmt.Errorf("%w: its client is no longer registered", errTokenInactive)

// accessToken decodes an access token id and checks it is live: not expired, issued to its
// client's current registration (errClientGone), not revoked on its own, and its family (if
// any) live and not revoked. It returns the client's configuration too, looked up once.
func (s *storage) accessToken(ctx context.Context, id string) (*AccessToken, *ClientConfig, error) {
	at, err := decodeAccessID(id)
	if err != nil || !s.now().Before(at.ExpiresAt) {
		return nil, nil, errTokenInactive
	}
	cfg, err := s.clientConfig(ctx, at.ClientID)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil, errClientGone
	case err != nil:
		return nil, nil, err
	case !ofCurrentRegistration(cfg, id, at), cfg.Unusable() != "":
		return nil, nil, errClientGone
	}
	if at.FamilyID != "" {
		f, err := s.store.Family(ctx, at.FamilyID)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil, nil, errTokenInactive
		case err != nil:
			return nil, nil, err
		case f.Revoked || f.Subject != at.Subject || f.ClientID != at.ClientID:
			return nil, nil, errTokenInactive
		}
		at.SessionID, at.AuthTime, at.AMR = f.SessionID, f.AuthTime, f.AMR
	} else if at.Subject != "" {
		return nil, nil, errTokenInactive // a user's token always has a family
	}
	revoked, err := s.store.AccessTokenRevoked(ctx, at.IDHash)
	if err != nil {
		return nil, nil, err
	}
	if revoked {
		return nil, nil, errTokenInactive
	}
	return at, cfg, nil
}

// ---- keys ----

type algKey struct{}

// withSigningAlg tells SigningKey which algorithm the requesting client wants.
func withSigningAlg(ctx context.Context, alg string) context.Context {
	return context.WithValue(ctx, algKey{}, alg)
}

func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg, _ := ctx.Value(algKey{}).(string)
	return s.keys.SigningKey(alg)
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return s.keys.Algorithms(), nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) { return s.keys.PublicKeys(), nil }

// ---- claims ----

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	sessionID, err := s.idTokenUserinfo(ctx, ui, req, scopes)
	if err != nil {
		return err
	}
	if sessionID != "" {
		ui.AppendClaims("sid", s.publicSID(sessionID))
	}
	return nil
}

// idTokenUserinfo is SetUserinfoFromRequest without the sid claim: it returns the request's
// stored session id instead ("" without a session), whose published sid (appendPublicSID) the
// token endpoint's ID token writes as its registered "sid" claim, without a map of extra
// claims made for it alone (a refresh's ID token has no other extra claim) nor a string of
// its own.
func (s *storage) idTokenUserinfo(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) (sessionID string, _ error) {
	var sink *ClaimSink
	if rr, ok := req.(*refreshRequest); ok {
		sink = &rr.claims
	}
	if err := s.userinfoClaims(ctx, ui, sink, req.GetSubject(), req.GetClientID(), scopes, TargetIDToken); err != nil {
		return "", err
	}
	ui.Subject = req.GetSubject() // op copies the userinfo over the ID token claims
	if si, ok := req.(sessionIDer); ok {
		sessionID = si.sessionID()
	}
	return sessionID, nil
}

func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	// The token's own faults are the client's error (access_denied, which op logs at WARN like
	// its other client errors); anything else (the store failing, the claims) stays a plain
	// error, which op reports as a server_error at ERROR, and is marked for serveUserinfo
	// (markUserinfoFault), which answers it 500 or 503 rather than invalid_token.
	at, cfg, err := s.accessToken(ctx, tokenID)
	switch {
	case errors.Is(err, errClientGone):
		return oidc.ErrAccessDenied().WithParent(err).WithDescription("access token invalid: its client is no longer registered")
	case errors.Is(err, errTokenInactive):
		return oidc.ErrAccessDenied().WithParent(err).WithDescription("access token invalid")
	case err != nil:
		markUserinfoFault(ctx, err)
		return fmt.Errorf("access token invalid: %w", err)
	}
	if at.Subject != subject || at.Subject == "" {
		return oidc.ErrAccessDenied().WithDescription("access token invalid: subject mismatch")
	}
	if origin != "" && !originAllowed(cfg, origin) {
		return oidc.ErrAccessDenied().WithDescription("origin not allowed for this client")
	}
	if !slices.Contains(at.Scopes, oidc.ScopeOpenID) {
		// UserInfo is an OpenID Connect resource (OIDC Core 5.3): a token granted without
		// openid gets 403 insufficient_scope (serveUserinfo reads the fault).
		if f, ok := ctx.Value(userinfoFaultKey{}).(*userinfoFault); ok {
			f.insufficientScope = true
		}
		return oidc.ErrAccessDenied().WithDescription("the access token was not granted the openid scope")
	}
	if err := s.userinfoClaims(ctx, ui, nil, at.Subject, at.ClientID, at.Scopes, TargetUserinfo); err != nil {
		if !errors.Is(err, ErrAccessDenied) && !errors.Is(err, ErrNotFound) {
			// Not the member gone or refused (the token then answers for no one): the claims
			// could not be read, the AMS unreachable.
			markUserinfoFault(ctx, err)
		}
		return err
	}
	ui.Subject = at.Subject
	return nil
}

// userinfoClaims writes the hooks' claims of subject for clientID, scopes and target into ui:
// through their ClaimWriter when they have one (into sink, an empty ClaimSink of the caller's
// allocation; nil: one of its own), else from their Claims map (applyClaims).
func (s *storage) userinfoClaims(ctx context.Context, ui *oidc.UserInfo, sink *ClaimSink, subject, clientID string, scopes []string, target ClaimTarget) error {
	if s.claimWriter != nil {
		if sink == nil {
			sink = new(ClaimSink)
		}
		if err := s.claimWriter.WriteClaims(ctx, subject, clientID, scopes, target, sink); err != nil {
			return err
		}
		sink.ApplyTo(ui)
		return nil
	}
	claims, err := s.hooks.Claims(ctx, subject, clientID, scopes, target)
	if err != nil {
		return err
	}
	applyClaims(ui, claims)
	return nil
}

// SetIntrospectionFromToken answers RFC 7662 for tokenID. resp is filled only once everything
// the answer says has been read (op marshals resp as it stands whatever the error): a token the
// server could not check (the store failing to read its client, family or revocation, the
// member's claims failing: the AMS unreachable) is marked with introspectFailed, which opAPI
// answers 500 or 503 instead of op's body, never {"active":false} (the resource server would
// drop a live token) nor {"active":true} without the claims (review s25 Y-1). Errors left
// unmarked are the token's own: op answers them {"active":false}.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	at, _, err := s.accessToken(ctx, tokenID)
	if errors.Is(err, errClientGone) {
		return errors.New("token inactive: its client is no longer registered")
	}
	if errors.Is(err, errTokenInactive) {
		return errors.New("token inactive")
	}
	if err != nil {
		return introspectFailed(ctx, fmt.Errorf("introspection: read the token: %w", err))
	}
	owner := at.Subject
	if owner == "" {
		owner = at.ClientID // client_credentials: the client is the subject (RFC 9068 2.2)
	}
	if owner != subject {
		return errors.New("token inactive")
	}
	allowed := at.ClientID == clientID
	for _, a := range at.Audience {
		allowed = allowed || a == clientID
	}
	if !allowed {
		return errors.New("token not issued to or for the introspecting client")
	}
	var claims map[string]any
	if at.Subject != "" {
		claims, err = s.hooks.Claims(ctx, at.Subject, at.ClientID, at.Scopes, TargetAccessToken)
		switch {
		case errors.Is(err, ErrNotFound), errors.Is(err, ErrAccessDenied):
			// The member is gone or refused: the token answers for no one (userinfo's
			// invalid_token).
			return fmt.Errorf("token inactive: %w", err)
		case err != nil:
			return introspectFailed(ctx, fmt.Errorf("introspection: the member's claims: %w", err))
		}
	}
	resp.Active = true
	resp.Scope = at.Scopes
	resp.ClientID = at.ClientID
	resp.Subject = owner
	resp.Audience = at.Audience
	resp.Expiration = oidc.FromTime(at.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(at.CreatedAt)
	resp.TokenType = oidc.BearerToken
	if len(claims) > 0 {
		if resp.Claims == nil {
			resp.Claims = make(map[string]any, len(claims))
		}
		for k, v := range claims {
			resp.Claims[k] = v
		}
	}
	return nil
}

func (s *storage) GetPrivateClaimsFromScopes(ctx context.Context, subject, clientID string, scopes []string) (map[string]any, error) {
	if subject == "" || subject == clientID {
		return nil, nil
	}
	return s.hooks.Claims(ctx, subject, clientID, scopes, TargetAccessToken)
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile client authentication is not supported")
}

func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

func (s *storage) Health(ctx context.Context) error { return s.store.Ping(ctx) }

// applyClaims copies standard claims into their typed fields and the rest into Claims
// (ClaimSink's rule). claims is the hooks' answer, made for this call: it becomes ui.Claims
// itself (the typed ones and sub deleted from it) instead of a copy in a map of its own, when ui
// has no claims yet.
func applyClaims(ui *oidc.UserInfo, claims map[string]any) {
	var sink ClaimSink
	sink.Claims(claims)
	sink.ApplyTo(ui)
}

// The standard claims with a typed string field in oidc.UserInfo (ClaimSink.typed's order).
const (
	claimName = iota
	claimGivenName
	claimFamilyName
	claimPreferredUsername
	claimEmail
	claimPicture
	typedClaims

	claimSub   = -1 // the userinfo's own Subject: left out
	claimExtra = -2 // an extra claim (ui.Claims)
)

// typedClaim is where claim name goes: a typed field (claimName...), nowhere (claimSub) or the
// extra claims (claimExtra).
func typedClaim(name string) int {
	switch name {
	case "sub":
		return claimSub
	case "name":
		return claimName
	case "given_name":
		return claimGivenName
	case "family_name":
		return claimFamilyName
	case "preferred_username":
		return claimPreferredUsername
	case "email":
		return claimEmail
	case "picture":
		return claimPicture
	}
	return claimExtra
}

// typedField is ui's field of typed claim i.
func typedField(ui *oidc.UserInfo, i int) *string {
	switch i {
	case claimName:
		return &ui.Name
	case claimGivenName:
		return &ui.GivenName
	case claimFamilyName:
		return &ui.FamilyName
	case claimPreferredUsername:
		return &ui.PreferredUsername
	case claimEmail:
		return &ui.Email
	}
	return &ui.Picture
}

// emailVerified is the email_verified claim of the value v: always sent, as an extra claim (the
// typed field would drop false: omitempty), false unless v is true.
func emailVerified(v any) bool {
	b, _ := v.(bool)
	return b
}

// ClaimSink collects the claims a ClaimWriter writes, one at a time, for the provider to copy
// into its userinfo value (ApplyTo): the standard string claims into their typed fields (a
// value that is not a string leaves the field empty), sub left out, everything else an extra
// claim, email_verified always a boolean one. A claim written again replaces the earlier value,
// as a map's later entry does. The zero value is an empty sink.
type ClaimSink struct {
	typed [typedClaims]string
	set   uint8 // the typed claims written (bit i: typed[i])
	extra map[string]any
}

// String writes a claim with a string value: a typed claim without boxing it.
func (s *ClaimSink) String(name, v string) {
	if i := typedClaim(name); i != claimExtra {
		s.setTyped(i, v)
		return
	}
	s.Value(name, v)
}

// Value writes a claim with any other value.
func (s *ClaimSink) Value(name string, v any) {
	switch i := typedClaim(name); {
	case name == "email_verified":
		v = emailVerified(v)
	case i != claimExtra:
		str, _ := v.(string)
		s.setTyped(i, str)
		return
	}
	if s.extra == nil {
		s.extra = make(map[string]any, 4)
	}
	s.extra[name] = v
}

func (s *ClaimSink) setTyped(i int, v string) {
	if i >= 0 {
		s.typed[i], s.set = v, s.set|1<<i
	}
}

// Claims writes every claim of a Claims map, for a ClaimWriter whose claims came as one: the
// map itself becomes the extra claims (the typed ones and sub deleted from it) when the sink has
// none yet.
func (s *ClaimSink) Claims(claims map[string]any) {
	for k, v := range claims {
		if k == "email_verified" {
			claims[k] = emailVerified(v)
			continue
		}
		i := typedClaim(k)
		if i == claimExtra {
			continue
		}
		str, _ := v.(string)
		s.setTyped(i, str)
		delete(claims, k)
	}
	if len(claims) == 0 {
		return
	}
	if s.extra == nil {
		s.extra = claims
		return
	}
	maps.Copy(s.extra, claims)
}

// ApplyTo copies the claims written into ui: the typed ones written into their fields, the extra
// ones into ui.Claims (which becomes the sink's map when it has none).
func (s *ClaimSink) ApplyTo(ui *oidc.UserInfo) {
	for i := range typedClaims {
		if s.set&(1<<i) != 0 {
			*typedField(ui, i) = s.typed[i]
		}
	}
	if len(s.extra) == 0 {
		return
	}
	if ui.Claims == nil {
		ui.Claims = s.extra
		return
	}
	maps.Copy(ui.Claims, s.extra)
}

// pageFault is what a storage method op's browser-facing endpoints call (CreateAuthRequest,
// AuthRequestByID, SaveAuthCode) returns for a failure that is not a verdict on the request: an
// *oidc.Error with a fixed description and no parent, the cause logged here with the auth
// request's id (what names the failure, for whoever reads the log) (review s25 Y-8). op answers a
// page endpoint's storage error with AuthRequestError, which sends oidc.DefaultToServerError(err,
// err.Error()) to the app's redirect_uri (error_description: the store's text, a driver message
// or a table name, in a URL the app logs and the browser keeps) or, without a request, writes
// err.Error() (an *oidc.Error's Parent included) to the page. The store unavailable is
// temporarily_unavailable (RFC 6749 4.1.2.1: the client may try again), anything else
// server_error. An *oidc.Error the method made itself is a verdict with its own description:
// returned as it is, by the callers, not through here.
func (s *storage) pageFault(ctx context.Context, what, requestID string, err error) *oidc.Error {
	log := s.log
	if log == nil {
		log = slog.Default()
	}
	if errors.Is(err, ErrUnavailable) {
		log.WarnContext(ctx, "authorization: "+what+": the store is unavailable", "auth_request", requestID, "err", err)
		return errTemporarilyUnavailable()
	}
	log.ErrorContext(ctx, "authorization: "+what+" failed", "auth_request", requestID, "err", err)
	return oidc.ErrServerError().WithDescription("the sign-in could not be completed; try again from the app")
}

// errTemporarilyUnavailable is RFC 6749 4.1.2.1's temporarily_unavailable (op has no
// constructor for it): the authorization server cannot handle the request now (its store is
// unreachable), and the client may send it again later.
func errTemporarilyUnavailable() *oidc.Error {
	return &oidc.Error{ErrorType: "temporarily_unavailable",
		Description: "the sign-in service is temporarily unavailable; try again shortly"}
}
