package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Config configures the provider.
type Config struct {
	Issuer    string
	Lifetimes Lifetimes
	Keys      KeyConfig
	// CryptoKey encrypts opaque access tokens and authorization codes (op's AES-GCM crypto).
	CryptoKey [32]byte
	// RotateKey is the HMAC key that derives refresh-token successors.
	RotateKey []byte
	// SIDKey is the HMAC key that turns a stored session id into the sid published in tokens
	// and logout messages (PublicSID). At least 32 bytes.
	SIDKey []byte
	// LoginURL maps an auth request id to the bridge's login page.
	LoginURL func(authRequestID string) string
	// DefaultLogoutRedirect is where end_session goes without a post_logout_redirect_uri.
	DefaultLogoutRedirect string
	// SupportedScopes and SupportedClaims are advertised in discovery.
	SupportedScopes []string
	SupportedClaims []string
	// ErrorPage renders a person-facing error (unknown client, bad redirect_uri) instead of
	// op's plain-text answer. Optional.
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, message string)
	// AllOrigins returns every web origin registered by any client (CORS preflight).
	AllOrigins func() []string
	// Device configures the device authorization grant, enabled when the store is also a
	// DeviceStore (grant_device.go).
	Device DeviceConfig
	// Logger receives the provider's own errors (default slog.Default()).
	Logger *slog.Logger
	// Observer is told about every token response the token endpoint sends (metrics).
	// Optional.
	Observer TokenObserver
}

// TokenObserver is told about each successful token response: its grant type (one of
// GrantTypes) and the authenticated client. It must be cheap and safe for concurrent use.
type TokenObserver interface {
	TokenIssued(ctx context.Context, grantType, clientID string)
}

// MaxRefreshGrace bounds Lifetimes.RefreshGrace.
const MaxRefreshGrace = time.Minute

// Provider is the OpenID provider: op's handlers on our storage, plus caching and hygiene.
type Provider struct {
	op      *op.Provider
	storage *storage
	keys    *KeyManager
	cfg     Config
	handler http.Handler
	// endpoints are the handlers routes gives the paths it names (Route), without its mux.
	endpoints map[string]http.Handler
	devices   DeviceStore  // nil: no device flow
	grants    []tokenGrant // the token endpoint's grants (tokenGrants)

	responses tokenResponses // the token endpoint's response writer and its buffers
	// issuerCtx is op.ContextWithIssuer(context.Background(), cfg.Issuer): tokenContext
	// answers op's issuer key from it.
	issuerCtx context.Context
	forms     formDecoder // op's form decoder, the login's requests by hand (form_decoder.go)

	docs *publicDocs // discovery and JWKS, served from memory (public_docs.go)
}

// New builds the provider. Keys must already be loaded.
func New(cfg Config, store Store, keys *KeyManager, clients ClientSource, hooks Hooks) (*Provider, error) {
	cfg.Lifetimes.defaults()
	if cfg.LoginURL == nil {
		return nil, errors.New("sso: LoginURL is required")
	}
	if cfg.Lifetimes.RefreshGrace > MaxRefreshGrace {
		return nil, fmt.Errorf("sso: the refresh reuse grace must be at most %s", MaxRefreshGrace)
	}
	if len(cfg.RotateKey) < 32 {
		return nil, errors.New("sso: RotateKey must be at least 32 bytes")
	}
	if len(cfg.SIDKey) < 32 {
		return nil, errors.New("sso: SIDKey must be at least 32 bytes")
	}
	tc, err := newTokenCrypto(cfg.CryptoKey)
	if err != nil {
		return nil, fmt.Errorf("sso: crypto: %w", err)
	}
	st := &storage{
		store: store, keys: keys, clients: clients, hooks: hooks, log: cfg.Logger, life: cfg.Lifetimes,
		loginURL: cfg.LoginURL, rotateKey: cfg.RotateKey, sidKey: cfg.SIDKey, supported: cfg.SupportedScopes, now: time.Now,
		issuer: cfg.Issuer, crypto: tc, families: newFamilyCache(familyCacheSize),
	}
	if _, ok := store.(CodeRequestReader); ok {
		st.codes = newCodeCache(codeCacheSize)
	}
	st.limiter, _ = hooks.(ClientAuthLimiter)
	st.signIn, _ = hooks.(SignInChecker)
	st.claimWriter, _ = hooks.(ClaimWriter)
	cfg.Device.defaults()
	st.deviceDone = cfg.Issuer + cfg.Device.DonePath
	opCfg := &op.Config{
		CryptoKey:                cfg.CryptoKey,
		DefaultLogoutRedirectURI: cfg.DefaultLogoutRedirect,
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		GrantTypeRefreshToken:    true,
		SupportedUILocales:       []language.Tag{language.English},
		SupportedScopes:          cfg.SupportedScopes,
		SupportedClaims:          cfg.SupportedClaims,
		// Logout tokens carry sid and sub (sso/logout_token.go); the bridge sends them.
		BackChannelLogoutSupported:        true,
		BackChannelLogoutSessionSupported: true,
	}
	// at+jwt access tokens reach op through its crypto (access_token_jwt.go).
	// Only an ID token is an id_token_hint (end_session_hint.go).
	opts := []op.Option{op.WithCORSOptions(nil), op.WithCrypto(st.crypto), idTokenHintOnly()}
	if strings.HasPrefix(cfg.Issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	var opStorage op.Storage = st
	devices, _ := store.(DeviceStore)
	if devices != nil {
		opCfg.DeviceAuthorization = op.DeviceAuthorizationConfig{
			Lifetime: cfg.Device.Lifetime, PollInterval: cfg.Device.Interval,
			UserFormPath: cfg.Device.UserPath, UserCode: op.UserCodeBase20,
		}
		opStorage = &deviceStorage{storage: st, devices: devices, cfg: cfg.Device}
	}
	o, err := op.NewProvider(opCfg, opStorage, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("sso: provider: %w", err)
	}
	// op.NewProvider builds a chi router of its endpoints (op.CreateRouter) that nothing
	// serves: the provider's endpoints are op's server behind routes (newOPServer, with its own
	// router). Let it go: about 200 objects the collector would mark at every collection for
	// the life of the process. o answers 404 if anything ever served it as a handler.
	o.Handler = http.NotFoundHandler()
	p := &Provider{op: o, storage: st, keys: keys, cfg: cfg, devices: devices, forms: newFormDecoder(),
		issuerCtx: op.ContextWithIssuer(context.Background(), cfg.Issuer)}
	p.docs = &publicDocs{p: p}
	p.grants = p.tokenGrants(hooks)
	p.handler = p.routes(newOPServer(p, o))
	return p, nil
}

// Endpoint paths (op's defaults).
const (
	PathDiscovery     = "/.well-known/openid-configuration"
	PathAuthorize     = "/authorize"
	PathAuthCallback  = "/authorize/callback"
	PathToken         = "/oauth/token"
	PathIntrospect    = "/oauth/introspect"
	PathUserinfo      = "/userinfo"
	PathRevoke        = "/revoke"
	PathEndSession    = "/end_session"
	PathKeys          = "/keys"
	PathDeviceAuthzEP = "/device_authorization"
)

// Paths lists every path the provider serves, for mounting.
func Paths() []string {
	return []string{PathDiscovery, PathAuthorize, PathAuthCallback, PathToken, PathIntrospect, PathUserinfo,
		PathRevoke, PathEndSession, PathKeys, PathDeviceAuthzEP, "/healthz", "/ready"}
}

func (p *Provider) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.handler.ServeHTTP(w, r) }

// Route is the handler ServeHTTP runs for a request to exactly path (one of Paths), on its own:
// a router that has matched the path already (the bridge mounts each of Paths on its own route)
// serves it without the provider's ServeMux matching it again (about 0.8 us of a refresh). A
// path routes does not name (health, readiness) is served by the provider as a whole.
func (p *Provider) Route(path string) http.Handler {
	if h, ok := p.endpoints[path]; ok {
		return h
	}
	return p
}

// routes is the provider's HTTP surface, one line per endpoint. Discovery and JWKS are served
// from memory (public_docs.go). o is op's server extended by opServer; it serves the authorization flow,
// end_session, userinfo, introspection and revocation behind the checks op does not make (api,
// page, userinfo), and health and readiness. The provider serves the token endpoint and device
// authorization itself. It sets p.endpoints to the handler of each path it names (Route).
func (p *Provider) routes(o http.Handler) http.Handler {
	p.endpoints = map[string]http.Handler{
		PathDiscovery:     http.HandlerFunc(p.docs.ServeDiscovery), // public_docs.go
		PathKeys:          http.HandlerFunc(p.docs.ServeJWKS),      // public_docs.go
		PathToken:         p.tokenAPI(p.serveToken),                // token_endpoint.go; CORS in serveToken, first
		PathDeviceAuthzEP: p.api(p.withCORS(p.deviceAuthorization)),
		PathIntrospect:    p.confidentialAPI(p.withCORS(p.opAPI(o))),
		PathRevoke:        p.api(p.withCORS(p.opAPI(o))),
		PathUserinfo:      p.userinfo(o),
		PathAuthorize:     p.page(o, pageAuthorize),
		PathAuthCallback:  p.page(o, pageCallback),
		PathEndSession:    p.page(o, pageEndSession),
	}
	mux := http.NewServeMux()
	for path, h := range p.endpoints {
		mux.Handle(path, h)
	}
	mux.Handle("/", o)
	return mux
}

// maxFormBytes bounds request bodies on the API endpoints.
const maxFormBytes = 64 << 10

// apiHandler is an API endpoint for an authenticated client.
type apiHandler func(w http.ResponseWriter, r *http.Request, cfg *ClientConfig)

// api checks the request shape of an API endpoint (method, content type, size, duplicated
// parameters, RFC 6749 3.1) and authenticates the client before next sees the request.
func (p *Provider) api(next apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serveAPI(w, r, next, false, opReads) })
}

// confidentialAPI is api for an endpoint public clients may not use (introspection, RFC 7662
// 2.1).
func (p *Provider) confidentialAPI(next apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serveAPI(w, r, next, true, opReads) })
}

// tokenAPI is api for the token endpoint, whose grants op does not read (the code grant
// validates with the authenticated client, codeGrant.validate): its request keeps the
// credentials as sent (authenticate has checked them).
func (p *Provider) tokenAPI(next apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serveAPI(w, r, next, false, opNever) })
}

// opReads: op reads the request after authentication (credentials in its form).
func opReads(*http.Request) bool { return true }

// opNever: op does not read the request.
func opNever(*http.Request) bool { return false }

func (p *Provider) serveAPI(w http.ResponseWriter, r *http.Request, next apiHandler, confidential bool, forOp func(*http.Request) bool) {
	if r.Method == http.MethodOptions {
		p.cors(w, r, nil)
		return
	}
	// The refusals below come before the client is known: a browser app reads them from an
	// origin registered for some client, as the preflight allows (review s21 X21-3). Once the
	// client has authenticated, its own policy decides (withCORS, serveToken).
	refusalCORS := p.refusalCORS(w, r)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use POST")
		return
	}
	ct := r.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	if !strings.EqualFold(strings.TrimSpace(ct), "application/x-www-form-urlencoded") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "Content-Type must be application/x-www-form-urlencoded")
		return
	}
	apiBody(w, r)
	if err := p.parseForm(r, ct); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed or oversized form body")
		return
	}
	for k, v := range r.PostForm {
		// resource (RFC 8707 section 2) and audience (RFC 8693 section 2.1) may be given more
		// than once: one value per target; requestedTarget reads every value.
		if len(v) > 1 && k != "resource" && k != "audience" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "parameter "+safeParam(k)+" repeated")
			return
		}
	}
	if k, repeated := caseVariant(r.PostForm); k != "" { // form_decoder.go
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", caseVariantText("parameter "+safeParam(k), repeated))
		return
	}
	// Parameters belong in the body (RFC 6749 3.2): op would also read the query, which would
	// get past the checks and routing below.
	if r.URL.RawQuery != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "send the parameters in the request body, not the URL")
		return
	}
	// Token responses must never be cached (RFC 6749 5.1); op does not say so itself.
	h := w.Header()
	h["Cache-Control"] = headerNoStore
	h["Pragma"] = headerNoCache
	// The client authenticates first, before any grant is looked at (clientauth.go).
	cfg, r, aerr := p.authenticate(r, confidential, forOp)
	if aerr != nil {
		aerr.write(w)
		return
	}
	if refusalCORS { // take back what refusalCORS added
		h.Del("Access-Control-Allow-Origin")
		if v := h["Vary"]; len(v) > 0 && v[len(v)-1] == "Origin" {
			h["Vary"] = v[:len(v)-1]
		}
	}
	next(w, r, cfg)
}

// refusalCORS lets a browser read serveAPI's refusals made before the client is known: with
// an Origin registered for some client (the preflight's rule), it sets Vary and
// Access-Control-Allow-Origin and reports true. Credentials are never allowed.
func (p *Provider) refusalCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || p.cfg.AllOrigins == nil || !slices.Contains(p.cfg.AllOrigins(), origin) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Allow-Origin", origin)
	return true
}

// withCORS applies the client's CORS policy before next.
func (p *Provider) withCORS(next apiHandler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, cfg *ClientConfig) {
		if p.cors(w, r, cfg) {
			next(w, r, cfg)
		}
	}
}

// opAPI hands an authenticated request to op (introspection, revocation), telling SigningKey
// the client's algorithm. op answers some failures in plain text and its 401 without the
// challenge RFC 6749 5.2 requires, and offers no hook for either: challengeWriter fixes both.
// An introspection the server could not decide (introspectFailed: the store or the member's
// claims failing) is no answer about the token: op's body ({"active":false}, or the
// half-filled response) is held back and the request answered 503 temporarily_unavailable
// (the store unavailable) or 500 server_error, as the token endpoint and userinfo answer a
// server fault (review s25 Y-1; RFC 7662 2.2 keeps active:false for a token that is not active).
func (p *Provider) opAPI(o http.Handler) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, cfg *ClientConfig) {
		var fault introspectFault
		ctx := context.WithValue(withSigningAlg(r.Context(), cfg.IDTokenSigningAlg), introspectFaultKey{}, &fault)
		cw := &challengeWriter{ResponseWriter: w, fault: &fault}
		o.ServeHTTP(cw, r.WithContext(ctx))
		if fault.err == nil || (cw.wrote && !cw.held) {
			cw.finish()
			if fault.err != nil { // recorded after op had answered (op checks before it writes)
				p.log(ctx).ErrorContext(ctx, "introspection: the token could not be checked after op answered",
					"client", cfg.ID, "err", fault.err)
			}
			return
		}
		w.Header().Del("Content-Type")
		if errors.Is(fault.err, ErrUnavailable) {
			p.log(ctx).WarnContext(ctx, "introspection: the token could not be checked, the store is unavailable",
				"client", cfg.ID, "err", fault.err)
			writeUnavailable(w)
			return
		}
		if errors.Is(fault.err, ErrTemporarilyUnavailable) {
			p.log(ctx).WarnContext(ctx, "introspection: the token could not be checked, the membership system is unavailable",
				"client", cfg.ID, "err", fault.err)
			amsUnreachable(fault.err).write(w)
			return
		}
		p.log(ctx).ErrorContext(ctx, "introspection: the token could not be checked",
			"client", cfg.ID, "err", fault.err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "the token could not be checked")
	}
}

// introspectFaultKey carries an *introspectFault from opAPI through op to the storage, which
// records there why it could not check a token (not that the token is inactive: that is no fault).
type introspectFaultKey struct{}

type introspectFault struct{ err error }

// introspectFailed records err for opAPI, which answers it as a server fault, and returns it.
func introspectFailed(ctx context.Context, err error) error {
	if f, ok := ctx.Value(introspectFaultKey{}).(*introspectFault); ok {
		f.err = err
	}
	return err
}

// cors applies the CORS policy for the API endpoints: an Origin is allowed only when it is
// registered for the requesting client (or, for preflights and userinfo, for some client; the
// per-client check then happens in storage). Credentials are never allowed. It returns false
// when it has answered the request itself.
func (p *Provider) cors(w http.ResponseWriter, r *http.Request, cfg *ClientConfig) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return r.Method != http.MethodOptions || writeNoContent(w)
	}
	allowed := false
	if cfg != nil {
		allowed = originAllowed(cfg, origin)
	} else if p.cfg.AllOrigins != nil {
		for _, o := range p.cfg.AllOrigins() {
			allowed = allowed || o == origin
		}
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if r.Method == http.MethodOptions {
		if allowed {
			h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	if !allowed && cfg != nil {
		writeOAuthError(w, http.StatusForbidden, "invalid_request", "origin not allowed for this client")
		return false
	}
	return true
}

func writeNoContent(w http.ResponseWriter) bool {
	w.WriteHeader(http.StatusNoContent)
	return false
}

func safeParam(k string) string {
	if len(k) > 40 {
		k = k[:40]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, k)
}

// writeUnavailable answers an API request the store could not serve (ErrUnavailable): 503
// with RFC 6749 5.2 JSON temporarily_unavailable and Retry-After. RFC 6749 defines the code for
// the authorization endpoint (4.1.2.1: "temporarily unable to handle the request"); 5.2 lists
// none for a server failure and lets a response use another status than 400 where one is
// specified: 503 with Retry-After (RFC 9110 15.6.4) tells the client, and any proxy, that the
// request was not acted on and may be repeated, so a client keeps its refresh token or code.
func writeUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", UnavailableRetryAfter)
	writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable",
		"the service is temporarily unavailable; try again shortly")
}

// UnavailableRetryAfter is the Retry-After (seconds) of an answer the store could not serve.
const UnavailableRetryAfter = "5"

// writeOAuthError writes RFC 6749 section 5.2 error JSON.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
}

// pageKind is one of op's browser-facing endpoints.
type pageKind int

const (
	pageAuthorize pageKind = iota
	pageCallback
	pageEndSession
)

// page serves one of op's browser-facing endpoints.
func (p *Provider) page(o http.Handler, kind pageKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.servePage(w, r, o, kind) })
}

// servePage runs a browser-facing endpoint and turns op's failures that never redirect
// (unknown client, unregistered redirect_uri; end_session's JSON errors) into the bridge's
// error page. op writes them itself (plain text, or JSON) and has no error renderer to
// override, in its legacy Provider or its Server API (op.WriteError), so captureWriter holds
// them back; likewise op builds every authorization response URL itself (AuthResponseURL,
// TryErrorRedirect) with no hook for RFC 9207's iss, so issWriter adds it to the Location.
func (p *Provider) servePage(w http.ResponseWriter, r *http.Request, o http.Handler, kind pageKind) {
	if !pageMethod(r.Method, kind) {
		allow := "GET, POST"
		if kind == pageEndSession {
			allow = "GET, HEAD, POST"
		}
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	if kind != pageEndSession {
		w = &issWriter{ResponseWriter: w, issuer: p.cfg.Issuer}
	}
	refuse := func(msg string) {
		if p.cfg.ErrorPage != nil {
			p.cfg.ErrorPage(w, r, http.StatusBadRequest, msg)
		} else {
			http.Error(w, msg, http.StatusBadRequest)
		}
	}
	what := "sign-in"
	if kind == pageEndSession {
		what = "sign-out"
	}
	if len(r.URL.RawQuery) > 16<<10 {
		refuse("The " + what + " request is too large.")
		return
	}
	// One value per parameter, in the query and the body together: the checks below and the
	// bridge read the first value, op's decoder the last, so a repeated parameter (twice in a
	// POST body, or in both the query and the body) would pass a check with one value and be
	// used with the other. A name in another case (caseVariant) would reach op's decoder past
	// the checks below, which read the name as the specifications spell it (a Redirect_Uri past
	// the loopback check, an ID_TOKEN_HINT past the ID-token check): refused too. A query or
	// body that does not parse is refused before them: ParseForm keeps the pairs it could read
	// in r.Form, op's decoder would use them, and the checks would not have run (fail closed).
	if err := r.ParseForm(); err != nil {
		refuse("The " + what + " request is malformed.")
		return
	}
	for k, v := range r.Form {
		// resource may be given more than once (RFC 8707 section 2); refuseEarly checks each.
		if len(v) > 1 && (kind != pageAuthorize || k != "resource") {
			refuse("The " + what + " request repeats the parameter " + safeParam(k) + ".")
			return
		}
	}
	if k, repeated := caseVariant(r.Form); k != "" {
		if repeated {
			refuse("The " + what + " request repeats the parameter " + safeParam(k) + ".")
		} else {
			refuse("The " + what + " request names the parameter " + safeParam(k) + " in another case.")
		}
		return
	}
	if kind == pageAuthorize && (!p.checkLoopbackRedirect(w, r) || !p.refuseEarly(w, r)) {
		return
	}
	if res := nonEmpty(r.Form["resource"]); kind == pageAuthorize && len(res) > 0 {
		// Accepted by refuseEarly: the request binds its grant to them (CreateAuthRequest).
		r = r.WithContext(withAuthorizeResources(r.Context(), uniqueValues(res)))
	}
	if kind == pageEndSession && r.Form != nil {
		// Only an ID token is a hint (op takes any JWT this provider signed): another token,
		// such as a JWT access token a resource server holds, names no member and no client,
		// so the member is asked to confirm. op reads the parameters from r.Form.
		// A hint whose signature no published key verifies (its key withdrawn, or rotated out
		// of JWKS since) names nobody either: op would refuse the whole request and leave the
		// member signed in; without it the member is asked to confirm, and op redirects only to
		// a post_logout_redirect_uri registered for the client_id the app sent (RP-Initiated
		// Logout 1.0 sections 2 and 3).
		// The hint kept is verified here once; op's verifier takes it from the context.
		var verified *verifiedHint
		if hint := r.Form.Get("id_token_hint"); hint != "" {
			if v, ok := p.endSessionHint(hint); ok {
				verified = v
				r = r.WithContext(context.WithValue(r.Context(), verifiedHintKey{}, v))
			} else {
				r.Form.Del("id_token_hint")
			}
		}
		if !p.checkPostLogoutLoopback(w, r, verified) {
			return
		}
	}
	// op writes to out: w, behind captureWriter when errors become pages, behind answerWriter
	// when the caller answers the requests op accepts (authorize_answer.go).
	out := w
	var cw *captureWriter
	if p.cfg.ErrorPage != nil {
		// end_session answers errors as JSON; a person sees them, so they become the page too.
		// op's server answers these errors as RFC 6749 JSON; a person sees them, so they become the page.
		cw = &captureWriter{ResponseWriter: w, all: true}
		out = cw
	}
	if a := authorizeAnswerFrom(r.Context()); a != nil && kind == pageAuthorize {
		out = &answerWriter{ResponseWriter: out, a: a}
	}
	o.ServeHTTP(out, r)
	if cw != nil && cw.captured {
		var e struct {
			Type        string `json:"error"`
			Description string `json:"error_description"`
		}
		msg := strings.TrimSpace(cw.buf.String())
		if json.Unmarshal(cw.buf.Bytes(), &e) == nil {
			msg = e.Description
		} else if typ, d, ok := opErrorDescription(msg); ok {
			e.Type, msg = typ, d
		}
		status := cw.status
		switch e.Type {
		case "server_error":
			// A fault of this server (a store fault reading the request at the callback:
			// pageFault), which op's AuthRequestError writes as 400 for any error without a
			// request: the page says 500 (RFC 9110 15.5.1 / 15.6.1, review s26 R2-2).
			status = http.StatusInternalServerError
		case "temporarily_unavailable":
			// The store unavailable: 503 with Retry-After, as writeUnavailable (15.6.4).
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", UnavailableRetryAfter)
		}
		if kind == pageEndSession {
			msg = "The app asked to sign you out with a request we cannot accept (an unknown app, or a return address it did not register)."
		}
		if msg == "" || len(msg) > 500 {
			msg = "The request could not be processed."
		}
		p.cfg.ErrorPage(w, r, status, msg)
	}
}

// opErrorDescription is the type and description of an *oidc.Error op wrote as plain text (its
// callback without a request: http.Error(w, err.Error()), "ErrorType=<type>
// Description=<text>[ Parent=...]"), for the error page; ok is false for other text. A Parent
// is never shown (review s25 Y-8).
func opErrorDescription(msg string) (typ, desc string, ok bool) {
	rest, ok := strings.CutPrefix(msg, "ErrorType=")
	if !ok {
		return "", "", false
	}
	typ, d, found := strings.Cut(rest, " Description=")
	if !found {
		typ, _, _ = strings.Cut(typ, " Parent=")
		return typ, "", true // no description: the page's default
	}
	d, _, _ = strings.Cut(d, " Parent=")
	return typ, d, true
}

// pageMethod reports whether a browser-facing endpoint of kind takes method: GET and POST, and
// at end_session HEAD (RFC 9110 9.3.2: answered as GET, net/http drops the body): its GET only
// checks the request and redirects to the sign-out page, so answering it twice changes nothing.
// The authorization endpoint refuses HEAD: each of its GETs stores an authorization request
// (and the bridge counts it against the caller's limit), which a HEAD would leave for nothing.
func pageMethod(method string, kind pageKind) bool {
	return method == http.MethodGet || method == http.MethodPost || (method == http.MethodHead && kind == pageEndSession)
}

// issWriter adds RFC 9207's iss to every authorization response op sends to a client's
// redirect_uri (a redirect carrying code or error), success and error alike.
type issWriter struct {
	http.ResponseWriter
	issuer string
}

func (i *issWriter) WriteHeader(status int) {
	if status >= 300 && status < 400 {
		if loc := i.Header().Get("Location"); loc != "" {
			i.Header().Set("Location", withIss(loc, i.issuer))
		}
	}
	i.ResponseWriter.WriteHeader(status)
}

func (i *issWriter) Write(b []byte) (int, error) { return i.ResponseWriter.Write(b) }

// withIss adds iss to an authorization response URL (one whose query, or fragment for
// response_mode=fragment, has code or error); other URLs (the login page) are returned as
// they are.
func withIss(loc, issuer string) string {
	u, err := url.Parse(loc)
	if err != nil || !u.IsAbs() {
		return loc
	}
	if q := u.Query(); q.Has("code") || q.Has("error") {
		if q.Has("iss") {
			return loc
		}
		q.Set("iss", issuer)
		u.RawQuery = q.Encode()
		return u.String()
	}
	// A response in the fragment (op answers an error in the response mode the request asked
	// for): RFC 9207 section 2 wants iss there too.
	f, err := url.ParseQuery(u.Fragment)
	if err != nil || (!f.Has("code") && !f.Has("error")) || f.Has("iss") {
		return loc
	}
	f.Set("iss", issuer)
	base, _, _ := strings.Cut(loc, "#")
	return base + "#" + f.Encode()
}

// challengeWriter adds the WWW-Authenticate challenge that RFC 6749 5.2 requires on op's 401
// invalid_client answers, and turns any error op answers in plain text into RFC 6749 JSON. With
// fault set, it holds back everything op writes once fault.err is recorded (held), for opAPI to
// answer instead.
type challengeWriter struct {
	http.ResponseWriter
	fault  *introspectFault
	held   bool // op's answer to a request the server could not decide, dropped
	wrote  bool // op's answer has started (passed through or held as plain text)
	plain  bool // holding back a plain-text error
	status int
	buf    bytes.Buffer
}

// holding reports whether op's answer is being dropped (a fault was recorded before it wrote).
func (c *challengeWriter) holding() bool {
	if !c.held && !c.wrote && c.fault != nil && c.fault.err != nil {
		c.held = true
	}
	c.wrote = true
	return c.held
}

func (c *challengeWriter) WriteHeader(status int) {
	if c.holding() {
		return
	}
	if status == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", `Basic realm="ssobridge"`)
	}
	if status >= 400 && !strings.HasPrefix(c.Header().Get("Content-Type"), "application/json") {
		c.plain, c.status = true, status
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *challengeWriter) Write(b []byte) (int, error) {
	if c.holding() {
		return len(b), nil
	}
	if c.plain {
		if c.buf.Len() < 1024 {
			c.buf.Write(b)
		}
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}

// finish writes a held-back plain-text error as JSON.
func (c *challengeWriter) finish() {
	if !c.plain {
		return
	}
	code := "invalid_request"
	switch {
	case c.status == http.StatusUnauthorized:
		code = "invalid_client"
	case c.status >= 500:
		code = "server_error"
	}
	writeOAuthError(c.ResponseWriter, c.status, code, "the request could not be processed")
}

// captureWriter holds back a plain-text error response so it can be replaced by a page.
type captureWriter struct {
	http.ResponseWriter
	status   int
	all      bool // capture every error, not only plain-text ones
	captured bool
	wrote    bool
	buf      bytes.Buffer
}

func (c *captureWriter) WriteHeader(status int) {
	if c.wrote || c.captured {
		return
	}
	if status >= 400 && (c.all || strings.HasPrefix(c.Header().Get("Content-Type"), "text/plain")) {
		c.captured, c.status = true, status
		c.Header().Del("Content-Type") // (http.Error's nosniff stays: every answer keeps it)
		return
	}
	c.wrote = true
	c.ResponseWriter.WriteHeader(status)
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if !c.wrote && !c.captured {
		c.WriteHeader(http.StatusOK)
	}
	if c.captured {
		if c.buf.Len() < 4096 {
			c.buf.Write(b)
		}
		return len(b), nil
	}
	return c.ResponseWriter.Write(b)
}

// userinfo is op's userinfo endpoint behind the CORS policy (any registered origin; storage
// checks the token's client).
func (p *Provider) userinfo(o http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.cors(w, r, nil) {
			p.serveUserinfo(w, r, o)
		}
	})
}

// userinfoFaultKey carries a *userinfoFault from serveUserinfo through op to the storage, which
// marks a token refused for its scope, or a request the server could not answer (op answers
// every storage error alike).
type userinfoFaultKey struct{}

type userinfoFault struct {
	insufficientScope bool
	// server is why the server could not answer (the store failing to read the token's
	// family, the claims' read failing: the AMS unreachable); nil: the token's own fault.
	server error
}

// markUserinfoFault records on ctx's userinfoFault (serveUserinfo's) that the request failed
// for the server's reason err.
func markUserinfoFault(ctx context.Context, err error) {
	if f, ok := ctx.Value(userinfoFaultKey{}).(*userinfoFault); ok {
		f.server = err
	}
}

// serveUserinfo answers token failures as RFC 6750 section 3 says: 401 with a
// WWW-Authenticate challenge (op answers 403 for a revoked or expired token, and neither its
// legacy Provider nor its Server API can set that header on an error), so captureWriter holds
// op's error back.
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request, o http.Handler) {
	// HEAD is GET without the body (RFC 9110 9.3.2; net/http drops it): the claims are only read.
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "use GET or POST")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	refuse := func(desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssobridge", error="invalid_request"`)
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", desc)
	}
	// A query or body that does not parse is refused: ParseForm keeps the pairs it could read,
	// op's decoder would use them (an Access_Token in the URL next to a bad escape), and the
	// checks below would not have seen them (fail closed).
	if err := r.ParseForm(); err != nil {
		refuse("the request's query or body is malformed")
		return
	}
	// A name in another case (caseVariant: an Access_Token op's decoder would read as the
	// access token) is refused, so access_token below is the only name the token has.
	if k, repeated := caseVariant(r.Form); k != "" {
		refuse(caseVariantText("parameter "+safeParam(k), repeated))
		return
	}
	// Access tokens never travel in URLs (RFC 6750 2.3, RFC 9700).
	if r.URL.Query().Has("access_token") {
		refuse("send the access token in the Authorization header")
		return
	}
	// One way, once (RFC 6750 2): the header or the form body, as the token endpoint takes one
	// client authentication method.
	if n := len(r.PostForm["access_token"]); n > 1 || (n == 1 && r.Header.Get("Authorization") != "") {
		refuse("send the access token once, in the Authorization header or the form body")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	cw := &captureWriter{ResponseWriter: w, all: true}
	fault := &userinfoFault{}
	o.ServeHTTP(cw, r.WithContext(context.WithValue(r.Context(), userinfoFaultKey{}, fault)))
	if !cw.captured {
		return
	}
	w.Header().Del("Content-Type")
	if fault.insufficientScope {
		// RFC 6750 3.1: a valid token without the scope the resource needs.
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssobridge", error="insufficient_scope", scope="openid"`)
		writeOAuthError(w, http.StatusForbidden, "insufficient_scope", "the access token was not granted the openid scope")
		return
	}
	if err := fault.server; err != nil {
		// The token may be good: a server fault is not invalid_token (RFC 6750 3.1 keeps that
		// for a token expired, revoked, malformed or invalid, which the client drops), but a
		// 5xx as the token endpoint answers it (review s25 X-9).
		if errors.Is(err, ErrUnavailable) {
			p.log(r.Context()).WarnContext(r.Context(), "userinfo: the store is unavailable", "err", err)
			writeUnavailable(w)
			return
		}
		if errors.Is(err, ErrTemporarilyUnavailable) {
			// The member's claims could not be read (the AMS unreachable): 503 with the token
			// endpoint's Retry-After, the RFC 6750 error JSON without a Bearer challenge (the
			// token is not in question).
			p.log(r.Context()).WarnContext(r.Context(), "userinfo: the membership system is unavailable", "err", err)
			amsUnreachable(err).write(w)
			return
		}
		p.log(r.Context()).ErrorContext(r.Context(), "userinfo failed", "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "could not read the user info")
		return
	}
	hasToken := r.Header.Get("Authorization") != "" || r.Form.Has("access_token")
	if !hasToken {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ssobridge"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_request", "access token missing")
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="ssobridge", error="invalid_token"`)
	writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "the access token is invalid, expired or revoked")
}

// ---- used by the bridge's pages ----

// AuthRequest returns a pending auth request for the login page.
func (p *Provider) AuthRequest(ctx context.Context, id string) (*AuthRequest, error) {
	if id == "" || len(id) > 128 {
		return nil, ErrNotFound
	}
	return p.storage.store.AuthRequest(ctx, id)
}

// Client returns a client's configuration.
func (p *Provider) Client(ctx context.Context, id string) (*ClientConfig, error) {
	return p.storage.clientConfig(ctx, id)
}

// Complete marks an auth request done and returns the URL that finishes it (op's callback,
// which issues the code and redirects to the client).
func (p *Provider) Complete(ctx context.Context, id string, c Completion) (string, error) {
	if err := p.storage.store.CompleteAuthRequest(ctx, id, c); err != nil {
		return "", fmt.Errorf("complete auth request: %w", err)
	}
	return p.CallbackURL(id), nil
}

// IssuedCode is an authorization code made for a request before it is stored: the store
// attaches Hash and ExpiresAt to the request in the same statement that completes it
// (store.SignIn), and the browser goes straight on to RedirectURL, the authorization response
// op's callback would have sent (code, state and RFC 9207's iss at the request's redirect_uri).
type IssuedCode struct {
	Hash        string
	ExpiresAt   time.Time
	RedirectURL string
}

// NewCode makes the authorization code of a request about to be completed, as op's callback
// makes it (op.BuildAuthRequestCode), and its authorization response. Nothing is stored: the
// code is worth nothing until the completion that carries its hash commits.
func (p *Provider) NewCode(ar *AuthRequest) (*IssuedCode, error) {
	code, err := op.BuildAuthRequestCode(authRequest{ar}, p.op.Crypto())
	if err != nil {
		return nil, fmt.Errorf("new code: %w", err)
	}
	u, ok := codeResponseURL(ar, code, p.cfg.Issuer)
	if !ok {
		u, err = op.AuthResponseURL(ar.RedirectURI, oidc.ResponseType(ar.ResponseType), oidc.ResponseMode(ar.ResponseMode),
			&op.CodeResponseType{Code: code, State: ar.State}, p.op.Encoder())
		if err != nil {
			return nil, fmt.Errorf("new code: %w", err)
		}
		u = withIss(u, p.cfg.Issuer)
	}
	return &IssuedCode{Hash: HashToken(code), ExpiresAt: p.storage.now().Add(p.storage.life.Code), RedirectURL: u}, nil
}

// CodeCommitted tells the provider that the completion of ar (c) with code has just committed
// (one write: the sign-in, the completion and the code's hash): the code's first token request
// here takes the request as that write left it instead of reading it back (codeCache; the
// exchange's compare-and-set still binds it to the stored row). Call it only after the write
// committed, with the request as read before it (pending, bound to c.Browser).
func (p *Provider) CodeCommitted(ar *AuthRequest, c Completion, code *IssuedCode) {
	if ar == nil || code == nil {
		return
	}
	done := *ar
	done.Done, done.Subject, done.AuthTime, done.AMR, done.SessionID, done.Browser = true, c.Subject, c.AuthTime, c.AMR, c.SessionID, c.Browser
	p.storage.keepCode(&done, code.Hash, code.ExpiresAt) // not the device flow's own requests
}

// codeResponseURL is the authorization response of a code flow answered in the query (the
// response_mode a code flow has unless it asks for another): what op.AuthResponseURL and then
// withIss make of it (the redirect_uri's own parameters, code, state unless empty, and RFC
// 9207's iss, sorted and encoded by url.Values), in one parse and one encoding instead of two
// and op's reflective encoder. false: another response type or mode, or a redirect_uri that
// does not parse; op's path answers those.
func codeResponseURL(ar *AuthRequest, code, issuer string) (string, bool) {
	switch {
	case ar.ResponseMode != "" && ar.ResponseMode != string(oidc.ResponseModeQuery):
		return "", false
	case ar.ResponseMode == "" && (ar.ResponseType == string(oidc.ResponseTypeIDToken) || ar.ResponseType == string(oidc.ResponseTypeIDTokenOnly)):
		return "", false
	}
	uri, err := url.Parse(ar.RedirectURI)
	if err != nil {
		return "", false
	}
	q := uri.Query()
	q.Add("code", code)
	if ar.State != "" {
		q.Add("state", ar.State)
	}
	if uri.IsAbs() && !q.Has("iss") {
		q.Set("iss", issuer)
	}
	uri.RawQuery = q.Encode()
	return uri.String(), true
}

// CallbackURL is op's authorize callback for an auth request (relative to the issuer).
func (p *Provider) CallbackURL(id string) string {
	return PathAuthCallback + "?id=" + id
}

// ErrorRedirect returns the client redirect carrying an OAuth error (access_denied,
// login_required, consent_required...) for a pending auth request, with its state. The
// redirect_uri was validated by op when the request was created.
func (p *Provider) ErrorRedirect(ar *AuthRequest, e *oidc.Error) (string, error) {
	e.State = ar.State
	u, err := op.AuthResponseURL(ar.RedirectURI, oidc.ResponseType(ar.ResponseType), oidc.ResponseMode(ar.ResponseMode), e, p.op.Encoder())
	if err != nil {
		return "", err
	}
	return withIss(u, p.cfg.Issuer), nil // RFC 9207
}

// VerifyIDTokenHint verifies an ID token we issued (signature, issuer; expiry is tolerated,
// as end_session allows), for the logout page.
func (p *Provider) VerifyIDTokenHint(ctx context.Context, token string) (*oidc.IDTokenClaims, error) {
	claims, err := op.VerifyIDTokenHint[*oidc.IDTokenClaims](ctx, token, p.op.IDTokenHintVerifier(ctx))
	if err != nil && !errors.Is(err, oidc.ErrExpired) {
		return nil, err
	}
	return claims, nil
}

// Crypto is op's symmetric crypto (AES-GCM) for sealing small values in URLs.
func (p *Provider) Crypto() op.Crypto { return p.op.Crypto() }

// RevokeGrants revokes a subject's tokens (for one client when clientID is not empty).
func (p *Provider) RevokeGrants(ctx context.Context, subject, clientID string) (int, error) {
	return p.storage.store.RevokeGrants(ctx, subject, clientID)
}

// PublicSID is the sid published for a stored session id (ID and access tokens, logout tokens,
// front-channel logout): a keyed hash, never the id itself.
func (p *Provider) PublicSID(sessionID string) string { return p.storage.publicSID(sessionID) }

// Keys returns the key manager.
func (p *Provider) Keys() *KeyManager { return p.keys }
