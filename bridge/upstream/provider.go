package upstream

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// Failures of an upstream sign-in, for the pages that explain them (errors.Is).
var (
	// ErrUnavailable: the provider could not be reached or answered nonsense (discovery, the
	// token endpoint).
	ErrUnavailable = errors.New("upstream: the provider cannot be reached")
	// ErrWrongIssuer: the discovery document, the iss response parameter or the ID token names
	// another issuer than the configured one (a mix-up or a misconfiguration).
	ErrWrongIssuer = errors.New("upstream: the response comes from another issuer than the configured one")
	// ErrInvalid: the code exchange or the ID token failed validation (signature, audience,
	// expiry, nonce).
	ErrInvalid = errors.New("upstream: the provider's answer failed validation")
	// ErrNotFresh: the app asked for a fresh or recent sign-in (prompt=login, max_age) and
	// the provider's ID token does not show one (auth_time too old, or none).
	ErrNotFresh = errors.New("upstream: the provider did not sign the member in as recently as the app asked")
)

// Identity is who the upstream says signed in.
type Identity struct {
	Issuer        string
	Subject       string
	Email         string
	EmailVerified bool
	// SID is the upstream session id (sid claim; "" when none).
	SID string
	// AMR are the upstream's authentication methods (amr claim).
	AMR []string
	// AuthTime is when the upstream authenticated the member (auth_time claim; zero when none).
	AuthTime time.Time
}

// Provider is one configured upstream OpenID provider, discovered on first use (a provider
// that is down at start-up does not stop the bridge; its button fails with a clear page until
// it is back).
type Provider struct {
	cfg ProviderConfig
	// amsEmailVerified: Options.AMSEmailVerified.
	amsEmailVerified bool
	// redirectURL is the bridge's callback for this provider, registered at the provider.
	redirectURL string
	client      *http.Client
	now         func() time.Time
	log         *slog.Logger

	// disc is the provider's discovery once fetched (nil: not yet), and fetching the one fetch
	// under way, shared by every caller that needs it meanwhile (discover).
	disc     atomic.Pointer[discovered]
	fetching singleflight.Group
}

type discovered struct {
	op         *oidc.Provider
	verifier   *oidc.IDTokenVerifier
	oauth      oauth2.Config
	issParam   bool   // authorization_response_iss_parameter_supported (RFC 9207)
	issuer     string // the discovery document's issuer ({tenantid} for a multi-tenant Entra)
	endSession string
}

// Options are what providers are built with.
type Options struct {
	// CallbackURL returns the bridge's callback URL for a provider name.
	CallbackURL func(name string) string
	// HTTPClient reaches the providers (nil: a client with a 10s timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
	// AMSEmailVerified is the configuration's email_verified (policy.Config): the operator's
	// statement that the AMS verifies e-mail addresses. link_by_email links nothing without it
	// (LinksByEmail), whatever reached New: start-up refuses the pair (config.checkUpstream), and
	// this is the same rule where the link is made.
	AMSEmailVerified bool
}

// Providers are the configured providers, in the config's order.
type Providers struct {
	list   []*Provider
	byName map[string]*Provider
}

// New builds the providers of cfgs (validated by Validate). Nothing is fetched yet.
func New(cfgs []ProviderConfig, o Options) *Providers {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	ps := &Providers{byName: map[string]*Provider{}}
	for _, c := range cfgs {
		c = c.Resolved()
		p := &Provider{cfg: c, amsEmailVerified: o.AMSEmailVerified, redirectURL: o.CallbackURL(c.Name), client: o.HTTPClient, now: o.Now, log: o.Logger}
		ps.list = append(ps.list, p)
		ps.byName[c.Name] = p
	}
	return ps
}

// List returns the providers in the config's order.
func (ps *Providers) List() []*Provider {
	if ps == nil {
		return nil
	}
	return ps.list
}

// Get returns the provider named name.
func (ps *Providers) Get(name string) (*Provider, bool) {
	if ps == nil {
		return nil, false
	}
	p, ok := ps.byName[name]
	return p, ok
}

// Name is the provider's configured name; DisplayName its button text.
func (p *Provider) Name() string        { return p.cfg.Name }
func (p *Provider) DisplayName() string { return p.cfg.DisplayName }

// LinksByEmail reports whether the unlinked identity id may be linked by its e-mail address
// (to the one active AMS member with it: the caller looks): only when the provider is
// configured so (link_by_email), the AMS's addresses are verified (Options.AMSEmailVerified),
// and the provider sent an address with email_verified true (OIDC Core 5.1: "True if the
// End-User's e-mail address has been verified"; false, absent or anything else is not a
// verification). Otherwise the member proves their AMS password once.
func (p *Provider) LinksByEmail(id *Identity) bool {
	return p.cfg.LinkByEmail && p.amsEmailVerified && id != nil && id.Email != "" && id.EmailVerified
}

// multiTenant reports whether the provider is a multi-tenant Entra endpoint, whose issuer
// depends on the token's tenant.
func (p *Provider) multiTenant() bool {
	return p.cfg.Preset == PresetEntra && multiTenant(p.cfg.Tenant)
}

// discover returns the provider's discovery, fetched once (a failure is fetched again at the
// next use). One fetch runs at a time (singleflight), and every caller that needs it
// meanwhile waits for that one under its own context: with a provider that hangs (down at
// start-up, or when the bridge restarts during its outage) each member's click or callback
// waits at most as long as its own request may, instead of queueing behind the fetches of
// everyone before it (review s11 Z8; k members waited k times the client's 10 s timeout).
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	if d := p.disc.Load(); d != nil {
		return d, nil
	}
	// DoChan runs the fetch in a goroutine of its own, which outlives the request that started
	// it (others wait for it): its own bound ends it, whatever the HTTP client's timeout.
	call := p.fetching.DoChan("", func() (any, error) {
		if d := p.disc.Load(); d != nil {
			return d, nil // kept by the fetch that ended between Load and DoChan
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryTimeout)
		defer cancel()
		d, err := p.fetch(fctx)
		if err != nil {
			return nil, err
		}
		p.disc.Store(d) // before DoChan forgets this call: a caller after it finds d
		return d, nil
	})
	select {
	case r := <-call:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*discovered), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, p.cfg.Issuer, ctx.Err())
	}
}

// discoveryTimeout bounds one shared fetch of a provider's discovery document: no request's
// context ends it, so a provider that never answers (and an HTTP client given without a
// timeout) must not hold it, and every sign-in waiting for it, for ever.
const discoveryTimeout = 10 * time.Second

// fetch reads the discovery document and builds what the provider's sign-ins use from it.
func (p *Provider) fetch(ctx context.Context) (*discovered, error) {
	cctx := oidc.ClientContext(ctx, p.client)
	if p.multiTenant() {
		// The multi-tenant documents name the issuer with {tenantid}; each token's issuer is
		// checked against its own tid (checkIssuer).
		cctx = oidc.InsecureIssuerURLContext(cctx, fmt.Sprintf(entraIssuerTemplate, entraTenantIDToken))
	}
	op, err := oidc.NewProvider(cctx, p.cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, fmt.Errorf("%w: discovery of %s names issuer %q", ErrWrongIssuer, p.cfg.Issuer, mismatch.Discovered)
		}
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, p.cfg.Issuer, err)
	}
	var meta struct {
		Issuer     string `json:"issuer"`
		IssParam   bool   `json:"authorization_response_iss_parameter_supported"`
		EndSession string `json:"end_session_endpoint"`
	}
	if err := op.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrUnavailable, p.cfg.Issuer, err)
	}
	if p.multiTenant() && meta.Issuer != fmt.Sprintf(entraIssuerTemplate, entraTenantIDToken) {
		return nil, fmt.Errorf("%w: discovery of %s names issuer %q", ErrWrongIssuer, p.cfg.Issuer, meta.Issuer)
	}
	keyCtx := oidc.ClientContext(context.Background(), p.client) // the key set outlives this request
	d := &discovered{
		op: op,
		verifier: op.VerifierContext(keyCtx, &oidc.Config{ClientID: p.cfg.ClientID, Now: p.now,
			SkipIssuerCheck: p.multiTenant()}),
		oauth: oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: op.Endpoint(),
			RedirectURL: p.redirectURL, Scopes: p.cfg.Scopes},
		issParam: meta.IssParam, issuer: meta.Issuer, endSession: meta.EndSession,
	}
	return d, nil
}

// Secrets derived from a state: the nonce and the PKCE verifier are HMACs of the state under
// the installation's key, so nothing stored could be used to forge a callback.
func derive(key []byte, purpose, state string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("upstream:" + purpose + ":" + state))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Nonce and Verifier derive the nonce and PKCE code verifier of a state.
func Nonce(key []byte, state string) string    { return derive(key, "nonce", state) }
func Verifier(key []byte, state string) string { return derive(key, "pkce", state) }

// Reauth is what the app's sign-in request asks of the member's authentication (OpenID
// Connect Core 3.1.2.1): prompt=login (Login) and max_age (MaxAge, nil when none). AuthURL
// forwards both to the provider; the bridge checks the auth_time of the provider's ID token
// against them when it comes back (Fresh).
type Reauth struct {
	Login  bool
	MaxAge *time.Duration
}

// Asked says whether the request asks for a fresh or recent authentication at all.
func (r Reauth) Asked() bool { return r.Login || r.MaxAge != nil }

// reauthSkew is how far the provider's clock may run behind the bridge's when auth_time is
// compared with the moment the bridge sent the browser there.
const reauthSkew = time.Minute

// Fresh checks that the provider authenticated the member as r asks: with prompt=login (or
// max_age=0) after the browser was sent there (started, less reauthSkew), with max_age within
// that many seconds of now (plus reauthSkew). authTime is the ID token's auth_time (zero when
// the provider sent none: refused whenever r asks anything, as the provider's answer cannot
// show that it honoured the request).
func (r Reauth) Fresh(authTime, started, now time.Time) error {
	if !r.Asked() {
		return nil
	}
	if authTime.IsZero() {
		return fmt.Errorf("%w: the ID token has no auth_time", ErrNotFresh)
	}
	earliest := time.Time{}
	if r.MaxAge != nil {
		earliest = now.Add(-*r.MaxAge - reauthSkew)
	}
	if r.Login || (r.MaxAge != nil && *r.MaxAge == 0) {
		if s := started.Add(-reauthSkew); s.After(earliest) {
			earliest = s
		}
	}
	if authTime.Before(earliest) {
		return fmt.Errorf("%w: auth_time %s is before %s", ErrNotFresh, authTime.UTC().Format(time.RFC3339), earliest.UTC().Format(time.RFC3339))
	}
	return nil
}

// UnknownAuthAge is how long before its sign-in a session opened through a provider that sent
// no auth_time counts as authenticated (SessionAuthTime): longer than the longest
// mfa.step_up_max_age (24 hours), so that no freshness check counts it as recent.
const UnknownAuthAge = 24*time.Hour + reauthSkew

// SessionAuthTime is the auth time of a session opened by an upstream sign-in (OIDC Core 2,
// auth_time: when the member authenticated): the provider's auth_time when it is before the
// browser was sent there (started, less reauthSkew), i.e. the provider answered from its own
// earlier session, and now when the member authenticated during this sign-in (an auth_time
// after started is now but for the provider's clock and its whole seconds, or one in the
// future).
//
// A provider that sent no auth_time may have answered from a session of any age without asking
// the member anything (a silent sign-in): the session's auth time is then UnknownAuthAge before
// now, never recent (fail closed; review s21 X3): a provider trusted for mfa does not make its
// silent sign-in a fresh step-up, which changing the member's factors asks for (bridge/web/mfa),
// nor answer an app's max_age (Reauth.Fresh refuses it for the same reason).
func SessionAuthTime(authTime, started, now time.Time) time.Time {
	if authTime.IsZero() {
		return now.Add(-UnknownAuthAge)
	}
	if !authTime.Before(started.Add(-reauthSkew)) || authTime.After(now) {
		return now
	}
	return authTime
}

// AuthURL is where the browser goes to sign in at the provider, with state, nonce, the PKCE
// S256 challenge of the verifier, and prompt=login and max_age when the app's request has them.
func (p *Provider) AuthURL(ctx context.Context, state, nonce, verifier string, re Reauth) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if re.Login {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	// The sign-in request reads prompt=login as max_age=0 too; one of the two is enough.
	if re.MaxAge != nil && !(re.Login && *re.MaxAge == 0) {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(int64(*re.MaxAge/time.Second), 10)))
	}
	return d.oauth.AuthCodeURL(state, opts...), nil
}

// Callback is the provider's authorization response, as the browser brought it.
type Callback struct {
	Code string
	// Iss is the iss parameter (RFC 9207); IssPresent tells an absent one from an empty one.
	Iss        string
	IssPresent bool
}

// Exchange checks the authorization response's issuer (RFC 9207), redeems the code with the
// PKCE verifier and validates the ID token (signature, issuer, audience, azp, expiry, nonce).
func (p *Provider) Exchange(ctx context.Context, cb Callback, nonce, verifier string) (*Identity, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	// RFC 9207 2.4: a provider that advertises the parameter must send it; whenever it is
	// present it must be the provider's issuer.
	if d.issParam && !cb.IssPresent {
		return nil, fmt.Errorf("%w: the authorization response has no iss parameter", ErrWrongIssuer)
	}
	if cb.IssPresent && !p.issuerMatches(d, cb.Iss, "") {
		return nil, fmt.Errorf("%w: the authorization response's iss is %q", ErrWrongIssuer, cb.Iss)
	}
	if cb.Code == "" {
		return nil, fmt.Errorf("%w: no code in the authorization response", ErrInvalid)
	}
	tok, err := d.oauth.Exchange(oidc.ClientContext(ctx, p.client), cb.Code, oauth2.VerifierOption(verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode < 500 {
			return nil, fmt.Errorf("%w: token endpoint: %s", ErrInvalid, re.ErrorCode)
		}
		return nil, fmt.Errorf("%w: token endpoint: %v", ErrUnavailable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the token response has no ID token", ErrInvalid)
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "issued by a different provider") {
			return nil, fmt.Errorf("%w: %v", ErrWrongIssuer, err)
		}
		return nil, fmt.Errorf("%w: ID token: %v", ErrInvalid, err)
	}
	var c struct {
		Email         string   `json:"email"`
		EmailVerified any      `json:"email_verified"`
		SID           string   `json:"sid"`
		AMR           []string `json:"amr"`
		AuthTime      *float64 `json:"auth_time"`
		AZP           string   `json:"azp"`
		TID           string   `json:"tid"`
	}
	if err := idt.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: ID token claims: %v", ErrInvalid, err)
	}
	if !p.issuerMatches(d, idt.Issuer, c.TID) {
		return nil, fmt.Errorf("%w: the ID token's issuer is %q", ErrWrongIssuer, idt.Issuer)
	}
	// OIDC Core 3.1.3.7: several audiences need an azp, and an azp must be this client.
	if (len(idt.Audience) > 1 && c.AZP == "") || (c.AZP != "" && c.AZP != p.cfg.ClientID) {
		return nil, fmt.Errorf("%w: the ID token's authorized party is %q", ErrInvalid, c.AZP)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, fmt.Errorf("%w: the ID token's nonce is not this sign-in's", ErrInvalid)
	}
	if idt.Subject == "" {
		return nil, fmt.Errorf("%w: the ID token has no subject", ErrInvalid)
	}
	var authTime time.Time
	if c.AuthTime != nil && *c.AuthTime > 0 {
		authTime = time.Unix(int64(*c.AuthTime), 0)
	}
	return &Identity{Issuer: p.canonicalIssuer(idt.Issuer), Subject: idt.Subject, Email: c.Email, EmailVerified: truthy(c.EmailVerified),
		SID: c.SID, AMR: c.AMR, AuthTime: authTime}, nil
}

// truthy reads email_verified, which some providers send as the string "true".
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

// googleIssuerNoScheme is the other spelling of Google's issuer that its ID tokens may carry
// ("accounts.google.com or https://accounts.google.com", Google's OpenID Connect docs).
const googleIssuerNoScheme = "accounts.google.com"

// canonicalIssuer is the one spelling of an issuer of this provider that links, upstream
// sessions and replay guards are keyed by: Google's scheme-less spelling becomes
// GoogleIssuer, so that one Google account is one identity whichever spelling a token has.
func (p *Provider) canonicalIssuer(iss string) string {
	if p.cfg.Issuer == GoogleIssuer && iss == googleIssuerNoScheme {
		return GoogleIssuer
	}
	return iss
}

// IssuerSpellings are the spellings under which an identity of this provider with the
// (canonical) issuer iss may have been recorded: iss itself, and for Google also the
// scheme-less spelling that links made before the issuer was canonicalised carry.
func (p *Provider) IssuerSpellings(iss string) []string {
	if p.cfg.Issuer == GoogleIssuer && iss == GoogleIssuer {
		return []string{GoogleIssuer, googleIssuerNoScheme}
	}
	return []string{iss}
}

// issuerMatches checks an issuer named by the provider's answers against the configured one:
// for a multi-tenant Entra endpoint, the template with the token's own tenant id (tid; when
// empty, the tenant id the issuer names, which must be a GUID), within AllowedTenants.
func (p *Provider) issuerMatches(d *discovered, iss, tid string) bool {
	if !p.multiTenant() {
		return iss == p.cfg.Issuer || (p.cfg.Issuer == GoogleIssuer && iss == googleIssuerNoScheme)
	}
	prefix, suffix, _ := strings.Cut(d.issuer, entraTenantIDToken)
	if !strings.HasPrefix(iss, prefix) || !strings.HasSuffix(iss, suffix) || len(iss) <= len(prefix)+len(suffix) {
		return false
	}
	named := iss[len(prefix) : len(iss)-len(suffix)]
	if tid != "" && named != tid {
		return false
	}
	if !isGUID(named) {
		return false
	}
	return len(p.cfg.AllowedTenants) == 0 || slices.ContainsFunc(p.cfg.AllowedTenants, func(t string) bool {
		return strings.EqualFold(t, named)
	})
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
				return false
			}
		}
	}
	return true
}

// AMR is the bridge session's amr after a sign-in with this identity: "fed", then the
// upstream's amr values that the provider's trusted_amr lists, in the config's order.
func (p *Provider) AMR(upstream []string) []string {
	out := []string{"fed"}
	for _, v := range p.cfg.TrustedAMR {
		if slices.Contains(upstream, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// IsIssuer reports whether iss is an issuer of this provider (for a multi-tenant Entra
// endpoint, of any allowed tenant).
func (p *Provider) IsIssuer(ctx context.Context, iss string) bool {
	if !p.multiTenant() {
		return p.canonicalIssuer(iss) == p.cfg.Issuer
	}
	d, err := p.discover(ctx)
	return err == nil && p.issuerMatches(d, iss, "")
}

// SessionLookup finds the upstream sign-in behind a bridge session (store.UpstreamStore).
type SessionLookup interface {
	UpstreamSession(ctx context.Context, sessionID string) (*store.UpstreamSession, error)
}

// SignOff is the RP-initiated logout URL at the provider that signed the bridge session in,
// returning to returnURL with state, when that provider is set to end its sessions
// (end_session) and has an end_session_endpoint; ok is false otherwise.
func (ps *Providers) SignOff(st SessionLookup) func(ctx context.Context, sessionID, returnURL, state string) (string, bool) {
	return func(ctx context.Context, sessionID, returnURL, state string) (string, bool) {
		us, err := st.UpstreamSession(ctx, sessionID)
		if err != nil {
			return "", false
		}
		for _, p := range ps.List() {
			if p.cfg.EndSession && p.IsIssuer(ctx, us.Issuer) {
				return p.EndSessionURL(ctx, returnURL, state)
			}
		}
		return "", false
	}
}

// EndSessionURL is the provider's RP-initiated logout URL that returns to postLogout, when the
// provider is configured to end its session and has an end_session_endpoint.
func (p *Provider) EndSessionURL(ctx context.Context, postLogout, state string) (string, bool) {
	if !p.cfg.EndSession {
		return "", false
	}
	d, err := p.discover(ctx)
	if err != nil || d.endSession == "" {
		return "", false
	}
	u, err := url.Parse(d.endSession)
	if err != nil {
		return "", false
	}
	q := u.Query()
	q.Set("client_id", p.cfg.ClientID)
	if postLogout != "" {
		q.Set("post_logout_redirect_uri", postLogout)
		if state != "" {
			q.Set("state", state)
		}
	}
	u.RawQuery = q.Encode()
	return u.String(), true
}

// LogoutToken is a validated upstream back-channel logout token.
type LogoutToken struct {
	Issuer, Subject, SID, JTI string
	// Expiry is the token's exp: until then (plus the verifier's clock leeway) it would be
	// accepted again, so its jti must be remembered at least that long.
	Expiry time.Time
}

const backchannelEvent = "http://schemas.openid.net/event/backchannel-logout"

// VerifyLogoutToken validates a back-channel logout token as OpenID Connect Back-Channel Logout
// 1.0 section 2.6 says: signature, issuer, audience, iat and exp as for an ID token; sub or sid
// present; the back-channel logout event present with an object value; no nonce; a jti (for the
// caller's replay check).
func (p *Provider) VerifyLogoutToken(ctx context.Context, raw string) (*LogoutToken, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	t, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("%w: logout token: %v", ErrInvalid, err)
	}
	var c struct {
		SID    string                     `json:"sid"`
		JTI    string                     `json:"jti"`
		TID    string                     `json:"tid"`
		Events map[string]json.RawMessage `json:"events"`
		Nonce  *json.RawMessage           `json:"nonce"`
		IAT    *json.Number               `json:"iat"`
	}
	if err := t.Claims(&c); err != nil {
		return nil, fmt.Errorf("%w: logout token claims: %v", ErrInvalid, err)
	}
	if !p.issuerMatches(d, t.Issuer, c.TID) {
		return nil, fmt.Errorf("%w: the logout token's issuer is %q", ErrWrongIssuer, t.Issuer)
	}
	switch {
	case t.Subject == "" && c.SID == "":
		return nil, fmt.Errorf("%w: logout token has neither sub nor sid", ErrInvalid)
	case c.Nonce != nil:
		return nil, fmt.Errorf("%w: logout token has a nonce (it is an ID token)", ErrInvalid)
	case c.JTI == "":
		return nil, fmt.Errorf("%w: logout token has no jti", ErrInvalid)
	case c.IAT == nil:
		return nil, fmt.Errorf("%w: logout token has no iat", ErrInvalid)
	}
	ev, ok := c.Events[backchannelEvent]
	if !ok || len(ev) == 0 || ev[0] != '{' {
		return nil, fmt.Errorf("%w: logout token has no back-channel logout event", ErrInvalid)
	}
	return &LogoutToken{Issuer: p.canonicalIssuer(t.Issuer), Subject: t.Subject, SID: c.SID, JTI: c.JTI, Expiry: t.Expiry}, nil
}
