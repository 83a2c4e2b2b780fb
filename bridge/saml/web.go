package saml

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	"github.com/labstack/echo/v4"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/audit"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/bridge/web/authflow"
	"github.com/ssobridge/ssobridge/bridge/web/session"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Paths of the IdP.
const (
	PathMetadata = "/saml/metadata"
	PathSSO      = "/saml/sso"
	PathContinue = "/saml/continue"
	PathLogin    = "/saml/login"
	PathStart    = "/saml/start/" // + the SP's id: IdP-initiated sign-in
	PathSLO      = "/saml/slo"
)

// requestLifetime bounds how long a sign-in may wait for the member.
const requestLifetime = 15 * time.Minute

// maxRelayState bounds the RelayState kept for an SP (the bindings ask SPs for at most 80 bytes).
const maxRelayState = 1024

// Store is what the IdP keeps in the bridge's store.
type Store interface {
	CreateSAMLRequest(ctx context.Context, r *store.SAMLRequest) error
	SAMLRequest(ctx context.Context, id string) (*store.SAMLRequest, error)
	BindSAMLRequest(ctx context.Context, id, browser string) error
	CompleteSAMLRequest(ctx context.Context, id, browser string) error
	UseSAMLMessageID(ctx context.Context, key string, expires time.Time) error
	// CreateMFAChallenge stores a one-time record; sso.ErrConflict when its id exists (the
	// claim of a waiting sign-in by its password form: claimLogin).
	CreateMFAChallenge(ctx context.Context, c *store.MFAChallenge) error
	// MFAChallenge reads a claim, and the second-factor step it is at (claimState).
	MFAChallenge(ctx context.Context, idHash string) (*store.MFAChallenge, error)
	// TakeOverSAMLLoginClaim moves a claim whose step has not passed to a new submission's
	// step, by compare-and-set (claimLogin).
	TakeOverSAMLLoginClaim(ctx context.Context, t *store.SAMLClaimTakeOver) error
	AddSAMLParticipant(ctx context.Context, p *store.SAMLParticipant) error
	SAMLParticipants(ctx context.Context, sessionID string) ([]*store.SAMLParticipant, error)
	TakeSAMLParticipants(ctx context.Context, sessionID string) ([]*store.SAMLParticipant, error)
	// Enqueue records browser single logouts that their SP did not confirm (outbox events).
	Enqueue(ctx context.Context, events ...*store.OutboxEvent) error
}

// Flow is what the IdP uses of the OIDC sign-in flow (authflow.Handler): the same member
// session, opened and re-checked the same way.
type Flow interface {
	StartSession(c echo.Context, m *legacy.Member, amr []string) (*sso.Session, error)
	Member(ctx context.Context, sess *sso.Session) (*legacy.Member, error)
	// Expired renders the page of a sign-in that is gone, in the words of every sign-in's.
	Expired(c echo.Context) error
}

// PasswordChecker checks a typed login and password (signin.Checker).
type PasswordChecker interface {
	Check(ctx context.Context, a signin.Attempt) (*legacy.Member, error)
	Hash(login string) string
}

// ClaimsFunc is the claim policy (policy.Engine.Claims).
type ClaimsFunc func(m *legacy.Member, subject, clientID string, scopes []string, target sso.ClaimTarget, now time.Time) (map[string]any, error)

// Handler is the IdP's web part. All fields are required unless said otherwise.
type Handler struct {
	Pages    *web.Renderer
	Cookies  *session.Cookies
	Flow     Flow
	SignIn   PasswordChecker
	Store    Store
	Registry *Registry
	Keys     *KeyRing
	Claims   ClaimsFunc
	Access   access.Decider
	Audit    *audit.Log
	// Issuer is the bridge's issuer URL; the IdP's entity id is Issuer + PathMetadata.
	Issuer string
	// SessionIndex is the SessionIndex of an SSO session in assertions (its public sid).
	SessionIndex func(sessionID string) string
	// EndSession ends an SSO session and queues its OIDC back-channel logouts.
	EndSession func(context.Context, *sso.Session) error
	// SignedOut sends the browser of an ended session on to next through the signed-out page,
	// which loads the OIDC apps' front-channel logout pages (logout.Handler.SignedOutWith).
	SignedOut func(c echo.Context, sess *sso.Session, clientID, next string, frames, origins []string) error
	// Logouts sends the session's other SPs their LogoutRequests (the browser chain).
	Logouts *Logouts
	// SignOff, when set, wraps where a sign-out through the browser goes next in the AMS
	// website's sign-out and the upstream provider's (single sign-off, logout.Handler.SignOffURL;
	// sessionID "" when no session of this browser ended).
	SignOff func(ctx context.Context, sessionID, next string) string
	// LimitAnonymous rate-limits an endpoint that writes for an anonymous caller.
	LimitAnonymous func(name string, api bool, next echo.HandlerFunc) echo.HandlerFunc
	// Subjects is a member's subject by member key (identity.SubjectMapper.Subject).
	Subjects func(memberKey string) string
	// SecondFactor, when set, is the second-factor step (webmfa.Handler): a sign-in waits for
	// it before its session opens, and a session that lacks a second factor the member needs is
	// stepped up before the SP gets an assertion; both come back to PathContinue.
	SecondFactor interface {
		AfterFirstFactor(c echo.Context, f *authflow.FirstFactor) (string, error)
		NeedsStepUp(ctx context.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) (bool, error)
		// StepUpTo's requireMFA says that the app asked for a second factor (a SAML
		// RequestedAuthnContext): a member without one enrols one at the step.
		StepUpTo(c echo.Context, sess *sso.Session, next string, requireMFA bool) (string, error)
	}
	// Emails finds AMS records by e-mail address (legacy.EmailFinder; optional). With it, an
	// e-mail NameID is sent only for an address no other AMS record has: an SP that knows its
	// users by e-mail address must not be told that a member who typed someone else's address
	// into their AMS record is that person.
	Emails legacy.EmailFinder
	// WantAuthnRequestsSigned refuses unsigned AuthnRequests from every SP.
	WantAuthnRequestsSigned bool
	Logger                  *slog.Logger
	Now                     func() time.Time

	// unqualified is whether, and until when, this process looks a LogoutRequest's id up
	// under the key versions before session 22 recorded it under (unqualifiedLogoutKeys).
	unqualified unqualifiedWindow
}

// Mount adds the IdP's routes, each with its methods only (web.Methods): any other is 405 with
// an Allow header naming them. HEAD (RFC 9110 9.3.2: GET without the body) is routed where a
// GET can be answered twice for nothing: the metadata, a document. The other GETs act, so a
// HEAD, whose answer nobody reads, is refused rather than run: PathSSO and PathStart store an
// authorization request for an anonymous caller (counted against its limit), PathContinue
// and PathSLONext move a sign-in or a sign-out chain on, and PathSLO consumes the SP's
// LogoutRequest (its replay key) and signs the member out, or takes the SP's LogoutResponse
// as the chain's answer. PathSLOUntold only shows a page.
func (h *Handler) Mount(e *echo.Echo) {
	const get, head, post = http.MethodGet, http.MethodHead, http.MethodPost
	web.Methods(e, PathMetadata, h.metadata, nil, get, head)
	web.Methods(e, PathSSO, h.LimitAnonymous("saml_sso", false, h.sso), nil, get, post)
	web.Methods(e, PathContinue, h.continueRequest, nil, get)
	web.Methods(e, PathLogin, h.loginSubmit, nil, post)
	web.Methods(e, PathStart+":sp", h.LimitAnonymous("saml_start", false, h.start), nil, get)
	web.Methods(e, PathSLO, h.slo, nil, get, post)
	web.Methods(e, PathSLONext, h.chainNext, nil, get)
	web.Methods(e, PathSLOUntold, h.sloUntold, nil, get, head)
}

// EntityID is the IdP's entity id (its metadata URL).
func (h *Handler) EntityID() string { return strings.TrimSuffix(h.Issuer, "/") + PathMetadata }

// metadataMaxAge is how long the IdP metadata may be served from an HTTP cache.
const metadataMaxAge = time.Hour

// idp is the library's IdP with the key that signs now (and the other published certificates).
func (h *Handler) idp(ctx context.Context) (*crewjam.IdentityProvider, error) {
	idp, _, err := h.idpKey(ctx)
	return idp, err
}

// idpKey is idp, and the key it signs with.
func (h *Handler) idpKey(ctx context.Context) (*crewjam.IdentityProvider, *signingKey, error) {
	key, others, err := h.Keys.Signing()
	if err != nil {
		return nil, nil, err
	}
	base, err := url.Parse(strings.TrimSuffix(h.Issuer, "/"))
	if err != nil {
		return nil, nil, err
	}
	at := func(p string) url.URL { u := *base; u.Path += p; return u }
	// validUntil: as long as the key scheme lets an SP go between two reads (a successor is
	// published key_overlap before it signs), plus the hour the metadata may be served from a
	// cache (metadataMaxAge); 48 h made an SP that checks validUntil drop a downloaded copy
	// after two days (review s19 X19-8).
	valid := max(h.Keys.overlap, 48*time.Hour) + metadataMaxAge
	return &crewjam.IdentityProvider{
		Key: key.private, Signer: key.cryptoSigner(), Certificate: key.cert, ExtraCertificates: others, Logger: slogPrinter{h.Logger},
		MetadataURL: at(PathMetadata), SSOURL: at(PathSSO), LogoutURL: at(PathSLO),
		ServiceProviderProvider: libraryProvider{r: h.Registry},
		SignatureMethod:         dsig.RSASHA256SignatureMethod,
		ValidDuration:           &valid,
		NameIDFormats:           []crewjam.NameIDFormat{crewjam.PersistentNameIDFormat, crewjam.TransientNameIDFormat, crewjam.EmailAddressNameIDFormat},
		WantAuthnRequestsSigned: h.WantAuthnRequestsSigned,
		LogoutBindings:          []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding},
		SignMetadata:            true,
		RejectSHA1Signatures:    true,
		ReplayCache:             replayCache{ctx: ctx, store: h.Store},
		ResponseFormTemplate:    postFormTemplate,
		// The class asserted is chosen to meet the request (contextClass); the library checks
		// it again against the request's RequestedAuthnContext, with the same ranking.
		EnforceRequestedAuthnContext: true,
		AuthnContextClassStrengths:   classStrengths,
	}, key, nil
}

// replayCache is the library's replay cache (LogoutRequest ids) over the store.
type replayCache struct {
	ctx   context.Context
	store Store
	// logout is the SP's LogoutRequest whose Validate consumes an id (slo): the library records
	// its id alone (logoutReplayPrefix + id), so two SPs choosing the same id (SAML core 1.3.4:
	// unique per issuer, not across issuers) would collide and the second be refused as a
	// replay; the id is recorded under the SP's entity id too (consume), as the AuthnRequests'
	// ids are ("authn " + entity id + id, sso).
	logout *crewjam.IdpLogoutRequest
	// unqualified, when set and true, looks the LogoutRequest's id up under the library's own
	// key too (the key versions before session 22 recorded it under:
	// Handler.unqualifiedLogoutKeys, asked only once the request is valid), so that a
	// LogoutRequest used just before an upgrade is not accepted again after it. The look-up
	// records nothing live there (lookUp): an id another SP chose is not refused for it, as
	// it was when the key was the library's.
	unqualified func() bool
}

// logoutReplayPrefix is the prefix of the library's replay keys of LogoutRequest ids.
const logoutReplayPrefix = "LogoutRequest:"

// lookUp is the expiry that makes UseSAMLMessageID a look-up: passed already, it records nothing
// live (store.SAMLStore.UseSAMLMessageID) and is sso.ErrConflict while the key is recorded.
var lookUp = time.Unix(1, 0).UTC()

func (r replayCache) Consume(key string, expires time.Time) error {
	if id, ok := strings.CutPrefix(key, logoutReplayPrefix); ok {
		// Validate consumes the id last, once the request's issuer is the SP whose key
		// verified it (Issuer, the ServiceProviderProvider's entity id). Fail closed without it.
		if r.logout == nil || r.logout.Request.Issuer == nil || r.logout.Request.Issuer.Value == "" {
			return fmt.Errorf("saml: the LogoutRequest %q has no SP to record its id under", id)
		}
		if r.unqualified != nil && r.unqualified() {
			if err := r.use(key, lookUp); err != nil {
				return err
			}
		}
		key = logoutReplayPrefix + r.logout.Request.Issuer.Value + " " + id
	}
	return r.use(key, expires)
}

// use records key until expires: crewjam.ErrAssertionReplayed when it is recorded already.
func (r replayCache) use(key string, expires time.Time) error {
	err := r.store.UseSAMLMessageID(r.ctx, key, expires)
	if errors.Is(err, sso.ErrConflict) {
		return crewjam.ErrAssertionReplayed
	}
	return err
}

type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Warn("saml: " + fmt.Sprintf(format, v...))
}
func (p slogPrinter) Print(v ...any)   { p.log.Warn("saml: " + fmt.Sprint(v...)) }
func (p slogPrinter) Println(v ...any) { p.log.Warn("saml: " + fmt.Sprint(v...)) }
func (p slogPrinter) Fatal(v ...any)   { p.log.Error("saml: " + fmt.Sprint(v...)) }
func (p slogPrinter) Fatalf(format string, v ...any) {
	p.log.Error("saml: " + fmt.Sprintf(format, v...))
}
func (p slogPrinter) Fatalln(v ...any) { p.log.Error("saml: " + fmt.Sprint(v...)) }
func (p slogPrinter) Panic(v ...any)   { p.log.Error("saml: " + fmt.Sprint(v...)) }
func (p slogPrinter) Panicf(format string, v ...any) {
	p.log.Error("saml: " + fmt.Sprintf(format, v...))
}
func (p slogPrinter) Panicln(v ...any) { p.log.Error("saml: " + fmt.Sprint(v...)) }

// metadata serves the IdP's signed metadata: every published certificate (for signing only:
// signedMetadata), the SSO and SLO endpoints.
func (h *Handler) metadata(c echo.Context) error {
	idp, key, err := h.idpKey(c.Request().Context())
	if err != nil {
		return err
	}
	el, err := signedMetadata(idp, key.signer)
	if err != nil {
		return fmt.Errorf("saml metadata: %w", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		return fmt.Errorf("saml metadata: %w", err)
	}
	c.Response().Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(metadataMaxAge.Seconds())))
	return c.Blob(http.StatusOK, "application/samlmetadata+xml", b)
}

// unusable answers a sign-in at an SP whose stored registration does not build (Registry,
// UnusableError): an error line naming it, an audit row, and a page that says the app cannot
// be used here until an administrator registers it again. Nothing is sent to the SP.
func (h *Handler) unusable(c echo.Context, err error) error {
	ctx := c.Request().Context()
	// Every caller passes the Registry's error, an *UnusableError (errors.Is(err, ErrUnusable)).
	var u *UnusableError
	id, entityID, cause := "", "", err
	if errors.As(err, &u) {
		id, entityID, cause = u.SP.ID, u.SP.EntityID, u.SP.Err
	}
	h.Logger.ErrorContext(ctx, "saml sign-in refused: the service provider's stored registration does not build; give it its current metadata (ssobridge saml refresh), or remove it and register it again",
		"entity_id", entityID, "sp", id, "err", cause)
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "saml.request_refused", ClientID: id, IP: c.RealIP(), Detail: "service provider registration unusable"})
	return h.Pages.Error(c, http.StatusServiceUnavailable, "This app cannot be used right now",
		"This sign-in service cannot use the app's registration: its stored SAML metadata is no longer accepted.",
		"Please tell the association: an administrator needs to register the app again.")
}

func (h *Handler) badRequest(c echo.Context, reason string, err error) error {
	ctx := c.Request().Context()
	h.Logger.WarnContext(ctx, "saml request refused", "reason", reason, "err", err)
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "saml.request_refused", IP: c.RealIP(), Detail: reason})
	return h.Pages.Error(c, http.StatusBadRequest, "This sign-in request cannot be used",
		"The app that sent you here made a sign-in request we cannot accept ("+reason+").",
		"Go back to the app and try again. If it keeps happening, tell the app's support team.")
}

// sso receives an SP's AuthnRequest (HTTP-Redirect or HTTP-POST binding). The library checks
// it (issuer known, signature when signed or required, destination, issue instant, version,
// ACS URL or index matched exactly against the metadata); its id is used once per SP; then it
// waits in the store and the browser goes on with a GET (so that the SameSite=Lax session
// cookie is sent even after a cross-site POST).
func (h *Handler) sso(c echo.Context) error {
	ctx := c.Request().Context()
	idp, err := h.idp(ctx)
	if err != nil {
		return err
	}
	req, err := crewjam.NewIdpAuthnRequest(idp, c.Request())
	if err != nil {
		return h.badRequest(c, "malformed request", err)
	}
	if err := req.Validate(); err != nil {
		if errors.Is(err, ErrUnusable) {
			return h.unusable(c, err)
		}
		return h.badRequest(c, refusal(err), err)
	}
	if req.ACSEndpoint.Binding != crewjam.HTTPPostBinding {
		return h.badRequest(c, "unsupported response binding", errors.New(req.ACSEndpoint.Binding))
	}
	if len(req.RelayState) > maxRelayState {
		return h.badRequest(c, "relay state too long", nil)
	}
	sp, err := h.Registry.ByEntityID(ctx, req.ServiceProviderMetadata.EntityID)
	if errors.Is(err, ErrUnusable) {
		return h.unusable(c, err)
	} else if err != nil {
		return h.badRequest(c, "unknown service provider", err)
	}
	// Each request id once per SP, signed or not, while the request could be accepted.
	key := "authn " + sp.EntityID + " " + req.Request.ID
	if err := h.Store.UseSAMLMessageID(ctx, key, req.Request.IssueInstant.Add(crewjam.MaxIssueDelay+crewjam.MaxClockSkew)); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "saml.request_replayed", ClientID: sp.Settings.ID, IP: c.RealIP()})
			return h.Pages.Error(c, http.StatusConflict, "This sign-in link was already used",
				"The sign-in request this link carries has been used already, so it cannot be used again.",
				"Go back to the app and start signing in again.")
		}
		return err
	}
	now := h.Now()
	r := &store.SAMLRequest{ID: sso.RandomToken(), SP: sp.EntityID, RequestID: req.Request.ID, ACSURL: req.ACSEndpoint.Location,
		ACSBinding: req.ACSEndpoint.Binding, ACSIndex: req.ACSEndpoint.Index, RelayState: req.RelayState,
		ForceAuthn: req.Request.ForceAuthn != nil && *req.Request.ForceAuthn, IsPassive: req.Request.IsPassive != nil && *req.Request.IsPassive,
		CreatedAt: now, ExpiresAt: now.Add(requestLifetime)}
	r.AuthnComparison, r.AuthnClasses = requestedContext(&req.Request)
	// SAML core 3.4.1.4: a context the bridge can never meet is answered at once, without making
	// the member sign in for nothing.
	if asksDeclaration(req.RequestBuffer) {
		return h.refuseContext(c, req, sp, crewjam.StatusNoAuthnContext, "authentication context declarations cannot be met")
	}
	// SAML core 3.4.1.1: the NameID is of the format the request asks for, or the request is
	// answered at once with InvalidNameIDPolicy.
	format, err := nameIDFormat(req.Request.NameIDPolicy, sp)
	if err != nil {
		return h.refuse(c, req, sp, crewjam.StatusRequester, crewjam.StatusInvalidNameIDPolicy, "saml.invalid_name_id_policy", err.Error())
	}
	// SAML core 3.4.1, 3.4.1.4 (errata E75): a request naming a <saml:Subject> asks for an
	// assertion about that principal and no other. The waiting sign-in does not keep it, so such
	// a request is answered at once, with no assertion, rather than with one about whoever is
	// signed in in this browser.
	if req.Request.Subject != nil {
		return h.refuse(c, req, sp, crewjam.StatusResponder, crewjam.StatusRequestUnsupported, "saml.request_unsupported",
			"a requested subject (saml:Subject in the AuthnRequest) is not supported")
	}
	if format == string(crewjam.TransientNameIDFormat) {
		r.NameIDFormat = format
	}
	switch want(r, nil, h.SecondFactor != nil) {
	case contextNeverMet:
		return h.refuseContext(c, req, sp, crewjam.StatusNoAuthnContext, "the requested authentication context cannot be met")
	case contextBadCompared:
		return h.refuseContext(c, req, sp, crewjam.StatusRequestUnsupported, "unsupported RequestedAuthnContext Comparison")
	}
	if err := h.Store.CreateSAMLRequest(ctx, r); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, continueURL(r.ID))
}

// refuseContext answers an AuthnRequest whose RequestedAuthnContext cannot be met: a signed
// Response with the status Requester and second, and no assertion, to the SP's assertion
// consumer service.
func (h *Handler) refuseContext(c echo.Context, req *crewjam.IdpAuthnRequest, sp *SP, second, msg string) error {
	return h.refuse(c, req, sp, crewjam.StatusRequester, second, "saml.no_authn_context", msg)
}

// refuse answers an AuthnRequest the bridge cannot meet at once: a signed Response with the
// status top and second, and no assertion, to the SP's assertion consumer service; audited as
// event.
func (h *Handler) refuse(c echo.Context, req *crewjam.IdpAuthnRequest, sp *SP, top, second, event, msg string) error {
	ctx := c.Request().Context()
	h.Audit.Anonymous(ctx, &store.AuditEvent{Event: event, ClientID: sp.Settings.ID, IP: c.RealIP(), Detail: msg})
	if err := req.MakeErrorResponse(top, second, msg); err != nil {
		return fmt.Errorf("saml error response: %w", err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.ResponseEl)
	b, err := doc.WriteToBytes()
	if err != nil {
		return fmt.Errorf("saml error response: %w", err)
	}
	return h.post(c, req.ACSEndpoint.Location, "SAMLResponse", base64.StdEncoding.EncodeToString(b), req.RelayState)
}

// nameIDFormat is the NameID format that answers an AuthnRequest's NameIDPolicy (SAML core
// 3.4.1.1) at sp: the SP's own (persistent, or emailAddress when its name_id_format is email)
// when the policy names no format, unspecified or that one; transient (a fresh random
// identifier at each sign-in, SAML core 8.3.8) when it asks for transient. Any other format
// (another SP's, encrypted identifiers, X.509 subjects...) and identifiers in another
// namespace than the SP's own (SPNameQualifier: affiliations) are not issued: an error, to be
// answered with InvalidNameIDPolicy.
func nameIDFormat(p *crewjam.NameIDPolicy, sp *SP) (string, error) {
	own := string(crewjam.PersistentNameIDFormat)
	if sp.Settings.NameIDFormat == config.SAMLNameIDEmail {
		own = string(crewjam.EmailAddressNameIDFormat)
	}
	if p == nil {
		return own, nil
	}
	if p.SPNameQualifier != nil && *p.SPNameQualifier != "" && *p.SPNameQualifier != sp.EntityID {
		return "", errors.New("identifiers in another namespace than the service provider's own (SPNameQualifier) are not issued")
	}
	if p.Format == nil {
		return own, nil
	}
	switch f := *p.Format; f {
	case "", string(crewjam.UnspecifiedNameIDFormat), own:
		return own, nil
	case string(crewjam.TransientNameIDFormat):
		return f, nil
	default:
		return "", fmt.Errorf("the name identifier format %s is not issued to this service provider", f)
	}
}

// continueURL is where a waiting sign-in goes on (after the second-factor step).
func continueURL(id string) string { return PathContinue + "?id=" + url.QueryEscape(id) }

// spClient is an SP as the second-factor policy sees a client.
func spClient(sp *SP) *sso.ClientConfig {
	return &sso.ClientConfig{ID: sp.Settings.ID, Name: sp.Name()}
}

// refusal is a short reason for a refused request (shown and audited; no request content).
func refusal(err error) string {
	switch {
	case errors.Is(err, crewjam.ErrUnknownServiceProvider):
		return "unknown service provider"
	case errors.Is(err, crewjam.ErrInvalidSignature):
		return "signature missing or invalid"
	case errors.Is(err, crewjam.ErrDestinationMismatch):
		return "wrong destination"
	case errors.Is(err, crewjam.ErrExpired), errors.Is(err, crewjam.ErrNotYetValid):
		return "outside its validity window"
	case errors.Is(err, crewjam.ErrUnknownAssertionConsumerService):
		return "unregistered assertion consumer service"
	case errors.Is(err, crewjam.ErrMalformedMessage):
		return "malformed request"
	}
	return "invalid request"
}

// start is an IdP-initiated sign-in (the account page's link): an unsolicited response to the
// SP's default assertion consumer service.
func (h *Handler) start(c echo.Context) error {
	ctx := c.Request().Context()
	sp, err := h.Registry.ByID(ctx, c.Param("sp"))
	if err != nil {
		if errors.Is(err, ErrUnusable) {
			return h.unusable(c, err)
		}
		if errors.Is(err, sso.ErrNotFound) {
			return h.Pages.Error(c, http.StatusNotFound, "This app is not registered",
				"There is no app with this name here any more.", "Go back to your account page.")
		}
		return err
	}
	idp, err := h.idp(ctx)
	if err != nil {
		return err
	}
	req, err := idp.NewIdpInitiatedRequest(c.Request(), sp.EntityID, "")
	if err != nil {
		return fmt.Errorf("saml: idp-initiated %s: %w", sp.Settings.ID, err)
	}
	now := h.Now()
	r := &store.SAMLRequest{ID: sso.RandomToken(), SP: sp.EntityID, ACSURL: req.ACSEndpoint.Location, ACSBinding: req.ACSEndpoint.Binding,
		ACSIndex: req.ACSEndpoint.Index, CreatedAt: now, ExpiresAt: now.Add(requestLifetime)}
	if err := h.Store.CreateSAMLRequest(ctx, r); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, continueURL(r.ID))
}

// pending loads a waiting sign-in for this browser and binds it to it (the first browser to
// open it), or renders the error page and returns nil.
func (h *Handler) pending(c echo.Context, id string) (*store.SAMLRequest, *SP, error) {
	ctx := c.Request().Context()
	expired := func() error { return h.Flow.Expired(c) }
	r, err := h.Store.SAMLRequest(ctx, id)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, nil, expired()
	} else if err != nil {
		return nil, nil, err
	}
	sp, err := h.Registry.ByEntityID(ctx, r.SP)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, nil, h.Pages.Error(c, http.StatusBadRequest, "This app is not registered",
			"The app that sent you here is no longer registered with this sign-in service.", "")
	} else if errors.Is(err, ErrUnusable) {
		return nil, nil, h.unusable(c, err)
	} else if err != nil {
		return nil, nil, err
	}
	browser, err := h.Cookies.RequestBrowser(c)
	if err != nil {
		return nil, nil, fmt.Errorf("request browser: %w", err)
	}
	if !r.Done {
		err = h.Store.BindSAMLRequest(ctx, r.ID, browser)
	}
	switch {
	case r.Done || (errors.Is(err, sso.ErrConflict) && h.isDone(ctx, r.ID)):
		return nil, nil, h.used(c, sp)
	case errors.Is(err, sso.ErrConflict):
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "saml.request_elsewhere", ClientID: sp.Settings.ID, IP: c.RealIP()})
		return nil, nil, h.Pages.Error(c, http.StatusForbidden, "This sign-in was started in another browser",
			"For your safety, a sign-in can only be finished in the browser where it was first opened, and this is another browser.",
			"If you did not start it yourself, someone may have sent you this link: do not sign in through it. Otherwise start again from the app in this browser.")
	case errors.Is(err, sso.ErrNotFound):
		return nil, nil, expired()
	case err != nil:
		return nil, nil, err
	}
	r.Browser = browser
	return r, sp, nil
}

func (h *Handler) isDone(ctx context.Context, id string) bool {
	r, err := h.Store.SAMLRequest(ctx, id)
	return err == nil && r.Done
}

func (h *Handler) used(c echo.Context, sp *SP) error {
	h.Audit.Anonymous(c.Request().Context(), &store.AuditEvent{Event: "saml.request_used", ClientID: sp.Settings.ID, IP: c.RealIP()})
	return h.Pages.Error(c, http.StatusConflict, "This sign-in link was already used",
		"The sign-in this link belongs to has been finished, so it cannot be used again.",
		"Go back to the app and start signing in again.")
}

// answers reports whether sess may answer r without a new sign-in: ForceAuthn asks for one
// made after the request, and the requested authentication context must be met by the
// session as it is or once it adds a second factor. A session the AMS website's hand-off
// opened never answers ForceAuthn, whenever it was opened: it relies on the website's session
// (of unknown age; the member typed nothing here), and ForceAuthn asks the IdP to
// "authenticate the presenter directly rather than rely on a previous security context" (SAML
// core 3.4.1), as the OIDC sign-in never lets it answer prompt=login or max_age (authflow).
func (h *Handler) answers(r *store.SAMLRequest, sess *sso.Session) bool {
	if r.ForceAuthn && (sess.AuthTime.Before(r.CreatedAt) || slices.Contains(sess.AMR, authflow.AMRHandOff)) {
		return false
	}
	w := want(r, sess.AMR, h.SecondFactor != nil)
	return w == contextMet || w == contextStepUp
}

// continueRequest goes on with a waiting sign-in: through at once with a live member session
// (the OIDC apps' session), else the login page.
func (h *Handler) continueRequest(c echo.Context) error {
	r, sp, err := h.pending(c, c.QueryParam("id"))
	if r == nil {
		return err
	}
	ctx := c.Request().Context()
	sess, serr := h.Cookies.Current(c)
	if serr != nil && !errors.Is(serr, sso.ErrNotFound) {
		if r.IsPassive {
			return h.passiveFault(c, r, sp, "read the session", serr)
		}
		return serr
	}
	if sess != nil && h.answers(r, sess) {
		m, err := h.Flow.Member(ctx, sess)
		if err == nil {
			return h.finish(c, r, sp, sess, m)
		}
		if !errors.Is(err, sso.ErrAccessDenied) {
			if r.IsPassive {
				return h.passiveFault(c, r, sp, "membership system error", err)
			}
			return h.Pages.MembershipUnavailable(c, h.Logger, err)
		}
		if err := h.EndSession(ctx, sess); err != nil {
			if r.IsPassive {
				return h.passiveFault(c, r, sp, "end the refused member's session", err)
			}
			return err
		}
	}
	if r.IsPassive {
		return h.sendStatus(c, r, sp, crewjam.StatusResponder, crewjam.StatusNoPassive, "the member is not signed in")
	}
	// A form whose submission can only be refused is not offered: the sign-in was claimed by a
	// submission that goes on to a session at once, or whose second-factor step passed.
	if claimed, open, err := h.claimState(ctx, r); err != nil {
		return err
	} else if claimed && !open {
		return h.sentAlready(c, sp, "continue link")
	}
	return h.showLogin(c, r, sp, "", "", http.StatusOK)
}

// loginData is the shared login page's data (authflow's fields; the AMS hand-off and upstream
// buttons carry an OIDC request and stay off for a SAML sign-in).
type loginData struct {
	web.Page
	CSRF, RequestID, ClientName, Login, Error, AMSName, Action string
	Upstreams                                                  []web.UpstreamButton
	Passkeys                                                   bool
}

func (h *Handler) showLogin(c echo.Context, r *store.SAMLRequest, sp *SP, login, msg string, status int) error {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	return h.Pages.Render(c, status, "login", loginData{Page: h.Pages.Base("Sign in"), CSRF: csrf, RequestID: r.ID,
		ClientName: sp.Name(), Login: login, Error: msg, Action: PathLogin})
}

// loginSubmit checks the password against the AMS (the same check as the OIDC login page).
func (h *Handler) loginSubmit(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	r, sp, err := h.pending(c, c.FormValue("id"))
	if r == nil {
		return err
	}
	ctx := c.Request().Context()
	login, password, ip := c.FormValue("login"), c.FormValue("password"), c.RealIP()
	if len(login) > 256 || len(password) > 1024 {
		return h.showLogin(c, r, sp, "", signin.BadCredentials, http.StatusBadRequest)
	}
	m, err := h.SignIn.Check(ctx, signin.Attempt{Login: login, Password: password, ClientID: sp.Settings.ID, IP: ip})
	var throttled *signin.ThrottledError
	if errors.As(err, &throttled) {
		if throttled.AfterFailure {
			h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "login.throttled", Login: h.SignIn.Hash(login), ClientID: sp.Settings.ID, IP: ip, Detail: "member"})
		}
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(throttled.RetryAfter.Seconds())+1))
		return h.showLogin(c, r, sp, login, "Too many sign-in attempts. For your security, please wait a few minutes and try again.",
			http.StatusTooManyRequests)
	}
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, legacy.ErrUnavailable) {
			status = http.StatusServiceUnavailable
		} else if ctx.Err() != nil {
			return err
		}
		return h.showLogin(c, r, sp, login, signin.Message(err), status)
	}
	// The session is written (and the browser's previous one ended) by one submission of the
	// form only: the one that holds the waiting sign-in's claim (claimLogin), keyed to the
	// second-factor step it opened. Each submission opens a step of its own, and the step writes
	// the session when it passes, before the request's compare-and-set (finish): two steps
	// passed (two tabs) would write two sessions. A submission that cannot win opens none.
	if claimed, open, err := h.claimState(ctx, r); err != nil {
		return err
	} else if claimed && !open {
		return h.sentAgain(c, r, sp)
	}
	next, step := "", ""
	if h.SecondFactor != nil {
		ff := &authflow.FirstFactor{Client: spClient(sp), Member: m, AMR: []string{"pwd"}, Next: continueURL(r.ID),
			RequireMFA: needsSecondFactor(r)}
		if next, err = h.SecondFactor.AfterFirstFactor(c, ff); err != nil {
			return err // nothing claimed: the member may send the form again
		}
		if next != "" {
			// Not passed yet, and its id never left this request: it cannot pass before the
			// claim is at it, and never passes if the claim is not.
			step = ff.Step
		}
	}
	if won, err := h.claimLogin(ctx, r, m, step); err != nil {
		return err
	} else if !won {
		return h.sentAgain(c, r, sp)
	}
	if next != "" {
		// No session yet: the second-factor step opens it, then comes back here.
		h.Audit.Write(ctx, &store.AuditEvent{Event: "login.password_ok", Subject: h.Subjects(m.Key), Login: m.Login,
			ClientID: sp.Settings.ID, IP: ip, Detail: "second factor next"})
		return c.Redirect(http.StatusSeeOther, next)
	}
	sess, err := h.Flow.StartSession(c, m, []string{"pwd"})
	if err != nil {
		return err
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "login.success", Subject: sess.Subject, Login: m.Login, ClientID: sp.Settings.ID, IP: ip, Detail: "pwd"})
	return h.finish(c, r, sp, sess, m)
}

// sentAgain answers a submission of the password form that lost the claim: "already used" when
// the sign-in was answered, else "already sent" (sentAlready).
func (h *Handler) sentAgain(c echo.Context, r *store.SAMLRequest, sp *SP) error {
	if h.isDone(c.Request().Context(), r.ID) {
		return h.used(c, sp)
	}
	return h.sentAlready(c, sp, "form sent again")
}

// sentAlready is the page of a sign-in claimed by a submission that has not finished it (yet,
// or ever: its session or answer failed after the claim, its step passed and the member left):
// not "finished", which may be untrue.
func (h *Handler) sentAlready(c echo.Context, sp *SP, detail string) error {
	h.Audit.Anonymous(c.Request().Context(), &store.AuditEvent{Event: "saml.request_used", ClientID: sp.Settings.ID, IP: c.RealIP(), Detail: detail})
	return h.Pages.Error(c, http.StatusConflict, "This sign-in was already sent",
		"The sign-in form was sent more than once (a second click, or another tab); only the first counts.",
		"If the app did not sign you in, go back to the app and start signing in again.")
}

// kindLoginClaim is the kind of the one-time record by which a password sign-in claims its
// waiting SAML sign-in (claimLogin); no second-factor step or passkey ceremony accepts it.
const kindLoginClaim = store.KindSAMLLoginClaim

// claimHash is the id hash of a waiting sign-in's claim.
func claimHash(requestID string) string { return sso.HashToken(kindLoginClaim + ":" + requestID) }

// claimState reads a waiting sign-in's claim (store.KindSAMLLoginClaim): whether one exists,
// and whether a new submission of the form from this browser may take it over (open): it is at
// a second-factor step that has not passed (pending, expired or gone). A claim at no step (its
// session opened at once) or at a step that passed is final.
func (h *Handler) claimState(ctx context.Context, r *store.SAMLRequest) (claimed, open bool, err error) {
	cl, err := h.Store.MFAChallenge(ctx, claimHash(r.ID))
	if errors.Is(err, sso.ErrNotFound) {
		return false, false, nil
	} else if err != nil {
		return false, false, fmt.Errorf("saml sign-in claim: %w", err)
	}
	if len(cl.Data) == 0 || cl.Browser != r.Browser || cl.Passed {
		return true, false, nil // at no step, another browser's, or its step passed (PassMFAChallenge marks it)
	}
	st, err := h.Store.MFAChallenge(ctx, string(cl.Data))
	if errors.Is(err, sso.ErrNotFound) {
		return true, true, nil
	} else if err != nil {
		return false, false, fmt.Errorf("saml sign-in claim's step: %w", err)
	}
	return true, !st.Passed, nil
}

// claimLogin records, once per waiting sign-in (a record keyed by r, created once:
// CreateMFAChallenge fails on an existing id), that a password sign-in of m goes on to open a
// session for it, at once (step "") or through the second-factor step whose challenge's id hash
// is step; it reports false when the sign-in is claimed by another submission that it cannot
// take over. A submission from the claim's browser takes over a claim whose step has not
// passed (the step expired, its tab was closed, another account's password was typed):
// TakeOverSAMLLoginClaim moves the claim to the new step and deletes the old one, by
// compare-and-set, so that of two steps one at most ever passes. A sign-in thus writes its
// session, and ends the browser's previous one, only once it has won its request (README
// "Security properties"): the same form sent twice at once (a double-click, two tabs) leaves
// one session, and a form sent again after the step passed or the sign-in finished writes none
// and ends nothing. The request itself is still completed by finish (CompleteSAMLRequest).
func (h *Handler) claimLogin(ctx context.Context, r *store.SAMLRequest, m *legacy.Member, step string) (bool, error) {
	now := h.Now()
	expires := r.ExpiresAt
	if expires.Before(now) {
		expires = now.Add(requestLifetime)
	}
	var data []byte
	if step != "" {
		data = []byte(step)
	}
	id, sub := claimHash(r.ID), h.Subjects(m.Key)
	err := h.Store.CreateMFAChallenge(ctx, &store.MFAChallenge{IDHash: id, Kind: kindLoginClaim, Subject: sub,
		AuthRequestID: r.ID, Browser: r.Browser, AMR: []string{"pwd"}, Data: data, CreatedAt: now, ExpiresAt: expires})
	if err == nil {
		return true, nil
	} else if !errors.Is(err, sso.ErrConflict) {
		return false, fmt.Errorf("claim saml sign-in: %w", err)
	}
	cl, err := h.Store.MFAChallenge(ctx, id)
	if errors.Is(err, sso.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("claim saml sign-in: %w", err)
	}
	if len(cl.Data) == 0 || cl.Browser != r.Browser {
		return false, nil
	}
	err = h.Store.TakeOverSAMLLoginClaim(ctx, &store.SAMLClaimTakeOver{Claim: id, Browser: r.Browser, From: string(cl.Data), To: step,
		Subject: sub, At: now})
	switch {
	case err == nil:
		h.Logger.InfoContext(ctx, "saml sign-in: a new password submission took over the sign-in from its unfinished second-factor step",
			"sp", r.SP)
		return true, nil
	case errors.Is(err, sso.ErrConflict), errors.Is(err, sso.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("take over saml sign-in claim: %w", err)
}

// finish answers the sign-in for a signed-in member: the SP's access rule, then (once) the
// signed response with the signed assertion, posted to the SP's assertion consumer service.
func (h *Handler) finish(c echo.Context, r *store.SAMLRequest, sp *SP, sess *sso.Session, m *legacy.Member) error {
	ctx := c.Request().Context()
	now := h.Now()
	if d := h.Access.Decide(ctx, m, sess.Subject, sp.Settings.ID, now); !d.Allowed() {
		if d.Fault() {
			// The SP's access rule failed to evaluate (review s25 Y-10): refused, as the
			// server's fault (the operator's rule), never as the member's membership.
			h.Audit.Write(ctx, &store.AuditEvent{Event: "access.rule_error", Subject: sess.Subject, ClientID: sp.Settings.ID, IP: c.RealIP(),
				Detail: d.Err().Error()})
			if r.IsPassive {
				return h.sendStatus(c, r, sp, crewjam.StatusResponder, "", "the service provider's access rule could not be evaluated")
			}
			return h.Pages.AccessRuleFault(c, sp.Name())
		}
		h.Audit.Write(ctx, &store.AuditEvent{Event: "access.denied", Subject: sess.Subject, ClientID: sp.Settings.ID, IP: c.RealIP(), Detail: "access rule"})
		if r.IsPassive {
			return h.sendStatus(c, r, sp, crewjam.StatusResponder, crewjam.StatusRequestDenied, "the member may not use this service provider")
		}
		return h.Pages.Error(c, http.StatusForbidden, "This app is not available with your membership",
			sp.Name()+" is only open to members whose membership allows it, and yours does not at the moment.",
			"If you think this is wrong, for example because you have just renewed, please contact the association.")
	}
	w := want(r, sess.AMR, h.SecondFactor != nil)
	if w != contextMet && w != contextStepUp {
		// continueRequest and loginSubmit only come here with a session that meets the
		// requested context or can step up to it: a race (the SP's registration or the
		// session changed meanwhile) ends here.
		return h.sendStatus(c, r, sp, crewjam.StatusResponder, crewjam.StatusNoAuthnContext, "the requested authentication context cannot be met")
	}
	if h.SecondFactor != nil {
		need, err := h.SecondFactor.NeedsStepUp(ctx, &sso.AuthRequest{ClientID: sp.Settings.ID}, spClient(sp), sess, m)
		if err != nil {
			if r.IsPassive {
				return h.passiveFault(c, r, sp, "saml second factor", err)
			}
			return fmt.Errorf("saml second factor: %w", err)
		}
		if need || w == contextStepUp {
			if r.IsPassive {
				return h.sendStatus(c, r, sp, crewjam.StatusResponder, crewjam.StatusNoPassive, "a second factor is required")
			}
			// The session steps up (same session), then the sign-in comes back here.
			next, err := h.SecondFactor.StepUpTo(c, sess, continueURL(r.ID), w == contextStepUp)
			if err != nil {
				return err
			}
			return c.Redirect(http.StatusSeeOther, next)
		}
	}
	nameID, format := sess.Subject, string(crewjam.PersistentNameIDFormat)
	switch {
	case r.NameIDFormat == string(crewjam.TransientNameIDFormat):
		// Opaque and used once: the SP learns nothing that links two sign-ins.
		nameID, format = "_"+sso.RandomToken(), string(crewjam.TransientNameIDFormat)
	case sp.Settings.NameIDFormat == config.SAMLNameIDEmail:
		if m.Email == "" {
			if r.IsPassive {
				return h.sendStatus(c, r, sp, crewjam.StatusResponder, crewjam.StatusRequestDenied, "the member has no e-mail address")
			}
			return h.Pages.Error(c, http.StatusForbidden, "This app needs your e-mail address",
				sp.Name()+" identifies members by e-mail address, and the membership system has none for you.",
				"Please add an e-mail address to your member record, or contact the association.")
		}
		if own, err := h.ownsEmail(ctx, m); err != nil {
			if r.IsPassive {
				return h.passiveFault(c, r, sp, "membership system error", err)
			}
			return h.Pages.MembershipUnavailable(c, h.Logger, err)
		} else if !own {
			h.Audit.Write(ctx, &store.AuditEvent{Event: "access.denied", Subject: sess.Subject, ClientID: sp.Settings.ID, IP: c.RealIP(),
				Detail: "e-mail address shared with another AMS record"})
			if r.IsPassive {
				return h.sendStatus(c, r, sp, crewjam.StatusResponder, crewjam.StatusRequestDenied, "the member's e-mail address is not theirs alone")
			}
			return h.Pages.Error(c, http.StatusForbidden, "Your e-mail address is not yours alone",
				sp.Name()+" identifies members by e-mail address, and another record in the membership system has the same address as yours.",
				"Please contact the association so that each record has its own address.")
		}
		nameID, format = m.Email, string(crewjam.EmailAddressNameIDFormat)
	}
	scopes := sp.Settings.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	claims, err := h.Claims(m, sess.Subject, sp.Settings.ID, scopes, sso.TargetIDToken, now)
	if err != nil {
		if r.IsPassive {
			return h.passiveFault(c, r, sp, "saml claims", err)
		}
		return fmt.Errorf("saml claims: %w", err)
	}
	idp, err := h.idp(ctx)
	if err != nil {
		return err
	}
	req, err := h.authnRequest(idp, c.Request(), r, sp, now)
	if err != nil {
		return h.Pages.Error(c, http.StatusBadRequest, "This app's registration has changed",
			"The address the app asked us to answer at is no longer registered for it.", "Go back to the app and start signing in again.")
	}
	encryptedWith := ""
	if sp.Settings.EncryptAssertions {
		enc, c := assertionEncrypter(req.SPSSODescriptor) // AES-GCM unless the key encrypted to lists only CBC (encryption.go)
		idp.AssertionEncrypter, encryptedWith = enc, cipherName(c)
	}
	class, _ := contextClass(r, sess.AMR)
	index := h.SessionIndex(sess.ID)
	session := &crewjam.Session{ID: index, CreateTime: sess.AuthTime, ExpireTime: sess.ExpiresAt, Index: index,
		NameID: nameID, NameIDFormat: format, CustomAttributes: Attributes(claims, sp.Settings.AllowedRoles),
		AuthnContextClassRef: class}
	if err := (crewjam.DefaultAssertionMaker{}).MakeAssertion(req, session); err != nil {
		var se *crewjam.StatusError
		if errors.As(err, &se) {
			return h.sendStatus(c, r, sp, se.TopLevel, se.SecondLevel, se.Message)
		}
		return fmt.Errorf("saml assertion: %w", err)
	}
	// pending -> done, once, for this browser.
	if err := h.Store.CompleteSAMLRequest(ctx, r.ID, r.Browser); err != nil {
		if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
			return h.used(c, sp)
		}
		return err
	}
	form, err := req.PostBinding()
	if err != nil {
		return fmt.Errorf("saml response: %w", err)
	}
	if err := h.Store.AddSAMLParticipant(ctx, &store.SAMLParticipant{SessionID: sess.ID, SP: sp.EntityID, NameID: nameID,
		NameIDFormat: format, SessionIndex: index, CreatedAt: now, ExpiresAt: sess.ExpiresAt}); errors.Is(err, sso.ErrNotFound) {
		// The session ended since it was read (signed out in another tab): its sign-out told
		// the apps it had, and this SP is refused rather than signed into an ended session.
		return h.Pages.Error(c, http.StatusConflict, "You were signed out",
			"Your session ended while you were signing in to "+sp.Name()+".", "Go back to the app and sign in again.")
	} else if err != nil {
		return fmt.Errorf("record saml participant: %w", err)
	}
	detail := "sp-initiated"
	if r.RequestID == "" {
		detail = "idp-initiated"
	}
	if encryptedWith != "" {
		detail += "; assertion encrypted with " + encryptedWith
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "saml.response", Subject: sess.Subject, ClientID: sp.Settings.ID, IP: c.RealIP(), Detail: detail})
	return h.post(c, form.URL, "SAMLResponse", form.SAMLResponse, form.RelayState)
}

// ownsEmail reports whether m's e-mail address belongs to m alone in the AMS (no other record,
// whatever its standing, has it). Without an EmailFinder, or one that cannot look addresses
// up, it cannot tell and says yes.
func (h *Handler) ownsEmail(ctx context.Context, m *legacy.Member) (bool, error) {
	if h.Emails == nil {
		return true, nil
	}
	ms, err := h.Emails.MembersByEmail(ctx, m.Email, 2)
	if errors.Is(err, errors.ErrUnsupported) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("saml: members by e-mail: %w", err)
	}
	return len(ms) == 1 && ms[0].Key == m.Key, nil
}

// authnRequest is the library's request for a waiting sign-in, with its assertion consumer
// service found again in the SP's metadata.
func (h *Handler) authnRequest(idp *crewjam.IdentityProvider, hr *http.Request, r *store.SAMLRequest, sp *SP, now time.Time) (*crewjam.IdpAuthnRequest, error) {
	req := &crewjam.IdpAuthnRequest{IDP: idp, HTTPRequest: hr, RelayState: r.RelayState, Now: now, ServiceProviderMetadata: sp.Metadata}
	req.Request.ID = r.RequestID
	if len(r.AuthnClasses) > 0 {
		req.Request.RequestedAuthnContext = &crewjam.RequestedAuthnContext{Comparison: r.AuthnComparison, AuthnContextClassRefs: r.AuthnClasses}
	}
	for _, d := range sp.Metadata.SPSSODescriptors {
		for _, ep := range d.AssertionConsumerServices {
			if ep.Location == r.ACSURL && ep.Binding == r.ACSBinding {
				d, ep := d, ep
				req.SPSSODescriptor, req.ACSEndpoint = &d, &ep
				return req, nil
			}
		}
	}
	return nil, errors.New("saml: assertion consumer service no longer registered")
}

// passiveFault answers a passive request (IsPassive) that a fault of the IdP's side stopped (the
// AMS or the store could not answer): the IdP may not take visible control (SAML core 3.4.1),
// so instead of a page nobody sees, behind which the SP waits for an answer that never comes,
// the SP hears the status Responder (a fault of the IdP: it may ask again later) and the fault
// is logged as its page's would be.
func (h *Handler) passiveFault(c echo.Context, r *store.SAMLRequest, sp *SP, what string, err error) error {
	h.Logger.ErrorContext(c.Request().Context(), what, "err", err, "sp", sp.Settings.ID, "passive", true)
	msg := "the sign-in service cannot answer now; try again later"
	if errors.Is(err, legacy.ErrUnavailable) {
		msg = "the membership system cannot be reached; try again later"
	}
	return h.sendStatus(c, r, sp, crewjam.StatusResponder, "", msg)
}

// sendStatus answers a waiting sign-in with a SAML error status (no assertion).
func (h *Handler) sendStatus(c echo.Context, r *store.SAMLRequest, sp *SP, top, second, msg string) error {
	ctx := c.Request().Context()
	idp, err := h.idp(ctx)
	if err != nil {
		return err
	}
	req, err := h.authnRequest(idp, c.Request(), r, sp, h.Now())
	if err != nil {
		return err
	}
	// pending -> done, once, for this browser; as in finish, only a lost compare-and-set is
	// "already used" (and audited as such): a store fault is the server's, a 500.
	if err := h.Store.CompleteSAMLRequest(ctx, r.ID, r.Browser); err != nil {
		if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
			return h.used(c, sp)
		}
		return fmt.Errorf("saml status response: complete request: %w", err)
	}
	if err := req.MakeErrorResponse(top, second, msg); err != nil {
		return err
	}
	doc := etree.NewDocument()
	doc.SetRoot(req.ResponseEl)
	b, err := doc.WriteToBytes()
	if err != nil {
		return err
	}
	return h.post(c, req.ACSEndpoint.Location, "SAMLResponse", base64.StdEncoding.EncodeToString(b), r.RelayState)
}

type postData struct {
	web.Page
	URL, Field, Value, RelayState string
}

// post renders the page that posts a SAML message to the SP (static/saml.js submits it; the
// button does without scripts).
func (h *Handler) post(c echo.Context, to, field, value, relayState string) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.Pages.Render(c, http.StatusOK, "saml_post", postData{Page: h.Pages.Base("Continue"), URL: to, Field: field,
		Value: value, RelayState: relayState})
}

// Launch lists every SP's IdP-initiated sign-in link, for the account page.
func (h *Handler) Launch(ctx context.Context) []web.AppLink {
	sps, err := h.Registry.All(ctx)
	if err != nil {
		h.Logger.ErrorContext(ctx, "saml service providers", "err", err)
		return nil
	}
	out := make([]web.AppLink, 0, len(sps))
	for _, sp := range sps {
		out = append(out, web.AppLink{Name: sp.Name(), URL: PathStart + url.PathEscape(sp.Settings.ID)})
	}
	return out
}
