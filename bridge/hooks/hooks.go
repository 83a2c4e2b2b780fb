package hooks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Members finds a member by the AMS's member key (the directory).
type Members interface {
	MemberByKey(ctx context.Context, key string) (*legacy.Member, error)
}

// SharedMembers is an optional Members capability (legacy/cache.Directory): MemberByKey
// without a copy of the member, which is shared with other callers and must not be modified.
// The hooks only read the members they look up (Claims, WriteClaims, CheckGrant, CheckSignIn,
// and what they hand them to: the claim policy, the access decision, the second-factor policy):
// TestHooksLeaveSharedMemberAlone checks that every one leaves a shared member as it was.
type SharedMembers interface {
	SharedMemberByKey(ctx context.Context, key string) (*legacy.Member, error)
}

// Subjects maps a subject back to its member key (identity.SubjectMapper).
type Subjects interface {
	MemberKey(ctx context.Context, subject string) (string, error)
}

// ClaimPolicy computes a member's claims for a client (policy.Engine).
type ClaimPolicy interface {
	Claims(m *legacy.Member, subject, clientID string, scopes []string, target sso.ClaimTarget, now time.Time) (map[string]any, error)
}

// ClaimWriterPolicy is an optional ClaimPolicy capability (policy.Engine): Claims written into
// the provider's sink instead of a map made for them (WriteClaims).
type ClaimWriterPolicy interface {
	WriteClaims(m *legacy.Member, subject, clientID string, scopes []string, target sso.ClaimTarget, now time.Time, sink *sso.ClaimSink) error
}

// Consents reads a member's recorded consent (the store).
type Consents interface {
	Consent(ctx context.Context, subject, clientID string) (*store.Consent, error)
}

// Hooks implements sso.Hooks, sso.ConsentChecker, sso.ClientAuthLimiter,
// sso.PasswordAuthenticator, sso.ExternalExchanger and sso.ExternalExchangeAuthorizer. Every
// field is required unless its comment says otherwise.
type Hooks struct {
	Members  Members
	Subjects Subjects
	Policy   ClaimPolicy
	Access   access.Decider
	Consents Consents
	// Audit writes an audit event (audit.Log.Write).
	Audit func(ctx context.Context, e *store.AuditEvent)
	// Anonymous writes an audit event an anonymous caller caused within the address's budget
	// of anonymous writes (audit.Log.Anonymous): a failed or throttled client authentication.
	// Nil: Audit.
	Anonymous func(ctx context.Context, e *store.AuditEvent)
	// Coalesced writes an audit event anyone may cause at will about one client
	// (audit.Log.Coalesced: one row per client and address in a window, and at most the
	// anonymous-write budget per client): a refused request of a client that is not served
	// (client.unusable), which a public client's id or /authorize alone causes. Nil: Anonymous
	// (anonymousEvent lists it too).
	Coalesced func(ctx context.Context, key string, e *store.AuditEvent)
	// Repeated writes an audit event a client holding a grant may cause on every request
	// (audit.Log.Repeated: one row per key and window, every event counted in the metrics): a
	// refused refresh of a live refresh token, a grant without a browser refused for want of
	// the member's consent (repeatedEvent), keyed by the member, the client, the reason and
	// the address (throttle.AddressKey). Nil: Audit.
	Repeated func(ctx context.Context, key string, e *store.AuditEvent)
	// ClientThrottle counts failed client authentications (per client and IP, and per IP).
	ClientThrottle *throttle.Throttle
	// RequestIP is the client IP of a request that did not come through the bridge's router
	// (nil: the remote address); requests that did carry it in their context (WithProtocolRequest).
	RequestIP func(*http.Request) string
	// LogoutPage returns where end_session sends the browser (the logout page's ticket).
	LogoutPage func(req *op.EndSessionRequest) (string, error)
	// Password checks a login and password for the password grant (the sign-in flow's check).
	Password func(r *http.Request, clientID, login, password string) (subject string, amr []string, err error)
	// Exchanger redeems external tokens (the AMS hand-off's token exchange); ExchangeClients
	// are the clients that may use it (ams.exchange_clients).
	Exchanger       sso.ExternalExchanger
	ExchangeClients []string
	// SecondFactorPolicy tells why the policy requires a second factor of the member at the
	// client of a grant made with methods amr ("": it does not): the client's mfa setting, a
	// role, or the AMS's own second factor of the member (ams_second_factor), which a grant the
	// AMS hand-off made satisfies (mfa.Service.PolicyRequires). CheckSignIn refuses grants made
	// without a second factor once it does. Nil: never.
	SecondFactorPolicy func(ctx context.Context, clientID string, m *legacy.Member, amr []string) (string, error)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

var (
	_ sso.Hooks                      = (*Hooks)(nil)
	_ sso.ClaimWriter                = (*Hooks)(nil)
	_ sso.SignInChecker              = (*Hooks)(nil)
	_ sso.ConsentChecker             = (*Hooks)(nil)
	_ sso.ClientAuthLimiter          = (*Hooks)(nil)
	_ sso.PasswordAuthenticator      = (*Hooks)(nil)
	_ sso.ExternalExchanger          = (*Hooks)(nil)
	_ sso.ExternalExchangeAuthorizer = (*Hooks)(nil)
)

func (h *Hooks) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// member looks the subject's member up (once per request whose context has
// WithProtocolRequest), shared with the directory's cache when it can (SharedMembers): the
// caller only reads it.
func (h *Hooks) member(ctx context.Context, subject string) (*legacy.Member, error) {
	memo := memoFrom(ctx)
	if memo != nil {
		if m := memo.get(subject); m != nil {
			return m, nil
		}
	}
	key, err := h.Subjects.MemberKey(ctx, subject)
	if err != nil {
		return nil, err
	}
	var m *legacy.Member
	if sm, ok := h.Members.(SharedMembers); ok {
		m, err = sm.SharedMemberByKey(ctx, key)
	} else {
		m, err = h.Members.MemberByKey(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	if memo != nil {
		memo.put(subject, m)
	}
	return m, nil
}

// Claims implements sso.Hooks.
func (h *Hooks) Claims(ctx context.Context, subject, clientID string, scopes []string, target sso.ClaimTarget) (map[string]any, error) {
	logging.Annotate(ctx, clientID, subject)
	m, err := h.member(ctx, subject)
	if err != nil {
		return nil, claimsErr(err)
	}
	claims, err := h.Policy.Claims(m, subject, clientID, scopes, target, h.now())
	return claims, amsDown(err)
}

// WriteClaims implements sso.ClaimWriter: Claims written into sink, through the policy's own
// WriteClaims when it has one (no map, no string claim boxed), else from its map.
func (h *Hooks) WriteClaims(ctx context.Context, subject, clientID string, scopes []string, target sso.ClaimTarget, sink *sso.ClaimSink) error {
	logging.Annotate(ctx, clientID, subject)
	m, err := h.member(ctx, subject)
	if err != nil {
		return claimsErr(err)
	}
	if w, ok := h.Policy.(ClaimWriterPolicy); ok {
		return amsDown(w.WriteClaims(m, subject, clientID, scopes, target, h.now(), sink))
	}
	claims, err := h.Policy.Claims(m, subject, clientID, scopes, target, h.now())
	if err != nil {
		return amsDown(err)
	}
	sink.Claims(claims)
	return nil
}

// claimsErr is the claims' answer when the member could not be read: a member no longer in
// the directory is sso.ErrNotFound (userinfo answers the token as invalid), anything else stays
// the server's fault: the AMS unreachable is sso.ErrTemporarilyUnavailable too (amsDown), which
// userinfo and introspection answer 503, another fault 500.
func claimsErr(err error) error {
	if errors.Is(err, legacy.ErrNotFound) && !errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("claims: %w: %w", sso.ErrNotFound, err)
	}
	return amsDown(fmt.Errorf("claims: %w", err))
}

// amsDown marks an error of the AMS that could not answer (legacy.ErrUnavailable: unreachable,
// timed out, an answer the bridge cannot read) as sso.ErrTemporarilyUnavailable as well, which
// sso recognises (it cannot import legacy): its token, introspection and userinfo endpoints then
// answer 503 temporarily_unavailable with a Retry-After instead of 500. Other errors, and nil,
// are returned as they are; errors.Is still finds legacy.ErrUnavailable in the result.
func amsDown(err error) error {
	if err == nil || !errors.Is(err, legacy.ErrUnavailable) || errors.Is(err, sso.ErrTemporarilyUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", sso.ErrTemporarilyUnavailable, err)
}

// CheckGrant implements sso.Hooks: the member must still be in the directory and
// access.Decide must allow them at the client. An unreachable AMS is a server error (the
// grant stays valid).
//
// The member is read through the profile cache (member), as design.md's refresh path says,
// also for an app that requires a current membership (require_current) or has an access rule:
// a change the AMS records (a membership lapsed by an edit, a status changed) counts from the
// first refresh after the cache has the member again (its TTL, legacy cache_ttl, 2 minutes by
// default; or the change poll's read, which also revokes a require_current app's grants on a
// lapse); a membership that runs out by the calendar counts at once (its cached paid-through
// date is compared with now). A refresh does not read the AMS afresh: RFC 6749 6 and OIDC
// Core 12 ask for the refresh token and grant to be valid, not for the member's record to be
// read at each one; the access tokens already issued outlive cache_ttl anyway; and a read per
// refresh would put the AMS on every refresh (session 28 Q,
// TestQ28RequireCurrentRefreshAfterALapse).
func (h *Hooks) CheckGrant(ctx context.Context, subject, clientID string) error {
	logging.Annotate(ctx, clientID, subject)
	m, err := h.member(ctx, subject)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) || errors.Is(err, sso.ErrNotFound) {
			return fmt.Errorf("%w: member no longer in the directory", sso.ErrAccessDenied)
		}
		return amsDown(err)
	}
	return amsDown(h.Access.Decide(ctx, m, subject, clientID, h.now()).Err())
}

// PasswordChangeSkew is how much later than a sign-in the AMS may record a password change
// and still be taken as made before it: the AMS's clock (aspnet_Membership's
// LastPasswordChangedDate is the AMS web server's UTC time) and the bridge's may differ a
// little, and a member who changes their password and then signs in at once must not be
// refused.
const PasswordChangeSkew = time.Minute

// Why CheckSignIn asks for a new sign-in (the invalid_grant's error_description).
const (
	ReasonSecondFactor    = "a second factor is now required for this app: sign in again"
	ReasonPasswordChanged = "the member's password was changed after this sign-in: sign in again"
)

// CheckSignIn implements sso.SignInChecker, for grants made without a fresh sign-in (refresh,
// the device grant's poll):
//   - a grant made without a second factor is refused once the policy requires one of the
//     member at the client (SecondFactorPolicy: the client's mfa setting, a role, the AMS's
//     own second factor unless the grant's amr begins with the AMS hand-off's), so that
//     requiring one takes effect at the next refresh;
//   - a grant made on the AMS password (amr pwd) is refused once the AMS records a password
//     change after the sign-in (legacy.Member PasswordChangedAt, aspnet_Membership's
//     LastPasswordChangedDate, PasswordChangeSkew allowed): whoever knew the old password keeps
//     nothing. Grants made otherwise (a passkey alone, an upstream provider, the AMS hand-off)
//     did not rest on the password and are left alone; so is an unknown change date.
//
// The member is the one CheckGrant read in the same request (the member memo).
func (h *Hooks) CheckSignIn(ctx context.Context, subject, clientID string, authTime time.Time, amr []string) error {
	checkFactor := h.SecondFactorPolicy != nil && !mfa.HasMFA(amr)
	checkPassword := slices.Contains(amr, mfa.AMRPassword)
	if !checkFactor && !checkPassword {
		return nil
	}
	m, err := h.member(ctx, subject)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) || errors.Is(err, sso.ErrNotFound) {
			return fmt.Errorf("%w: member no longer in the directory", sso.ErrAccessDenied)
		}
		return amsDown(err)
	}
	if checkFactor {
		why, err := h.SecondFactorPolicy(ctx, clientID, m, amr)
		if err != nil {
			return amsDown(fmt.Errorf("second-factor policy: %w", err))
		}
		if why != "" {
			return &sso.SignInAgainError{Reason: ReasonSecondFactor}
		}
	}
	if checkPassword && PasswordChangedSince(m, authTime) {
		return &sso.SignInAgainError{Reason: ReasonPasswordChanged}
	}
	return nil
}

// PasswordSignInStale reports whether a sign-in at authTime with methods amr rested on the AMS
// password and the AMS has recorded a change of it since (PasswordChangedSince): the rule that
// ends refresh families (CheckSignIn), bridge sessions and console sessions alike.
func PasswordSignInStale(m *legacy.Member, authTime time.Time, amr []string) bool {
	return slices.Contains(amr, mfa.AMRPassword) && PasswordChangedSince(m, authTime)
}

// PasswordChangedSince reports whether the AMS recorded a change of m's password after a
// sign-in at authTime (beyond PasswordChangeSkew). An unknown change date (zero) or auth time
// is no change.
func PasswordChangedSince(m *legacy.Member, authTime time.Time) bool {
	changed := m.Standing.PasswordChangedAt
	return !changed.IsZero() && !authTime.IsZero() && changed.After(authTime.Add(PasswordChangeSkew))
}

// EndSession implements sso.Hooks. The request's hint is an ID token: the provider ignores
// any other token given as id_token_hint (a JWT access token, a logout token), by its JOSE
// typ and its claims, before op reads it.
func (h *Hooks) EndSession(_ context.Context, req *op.EndSessionRequest) (string, error) {
	return h.LogoutPage(req)
}

// Event implements sso.Hooks: an audit row with the request's client IP.
func (h *Hooks) Event(ctx context.Context, event, subject, clientID, detail string) {
	e := &store.AuditEvent{Event: event, Subject: subject, ClientID: clientID, IP: ClientIP(ctx), Detail: detail}
	if h.Repeated != nil && repeatedEvent(event) {
		// Per address too (its /64 for IPv6: throttle.AddressKey): a refusal from a second
		// address within the minute (a copied token tried elsewhere) gets its own row, while
		// one app's loop stays one row a minute (review s23 X-3). Not per refresh-token family:
		// sso does not pass it, and a row would not name it either; a member's refusal at an
		// app is the member's (access rule, second factor, password change), so a second
		// device refused in the same minute from the same address, for the same reason, would
		// write the same row again (session 24: the metrics count it).
		h.Repeated(ctx, event+"|"+subject+"|"+clientID+"|"+detail+"|"+throttle.AddressKey(e.IP), e)
		return
	}
	if h.Coalesced != nil && coalescedEvent(event) {
		h.Coalesced(ctx, event+"|"+clientID, e)
		return
	}
	if h.Anonymous != nil && anonymousEvent(event) {
		h.Anonymous(ctx, e)
		return
	}
	h.Audit(ctx, e)
}

// anonymousEvent reports whether event is written for a caller who proved nothing and may
// repeat it at will: a failed or throttled client authentication at an API endpoint, a
// used code presented again, by its client or another (or the code of an ended session), which
// for a public client takes no secret, and a client that is not served named by anyone at
// /authorize or end_session, or by its id alone at an API endpoint (client.unusable: review s21
// X21-2). As the rows of failed sign-ins, its rows count against the address's anonymous
// writes, or anyone posting junk (or one used code) to the token endpoint would append one row
// per request for as long as they liked.
func anonymousEvent(event string) bool {
	switch event {
	case "client.auth_failure", "client.throttled", "token.code_replay", "token.code_other_client", "token.code_replay_unproven", "token.code_session_ended",
		"client.unusable":
		return true
	}
	return false
}

// coalescedEvent reports whether event is about a client anyone may name at will, as often as
// they like (Coalesced): a request of a stored client that is not served, refused at /authorize
// (no authentication there) or at an API endpoint (a public client authenticates with its id).
func coalescedEvent(event string) bool { return event == "client.unusable" }

// repeatedEvent reports whether event is one a client holding a grant causes again on every
// request while the reason holds (Repeated): a refresh refused for the member (the access
// rule, a second factor now required, a password changed) leaves the refresh token live, so an
// app that retries in a loop would otherwise append a row per attempt; so does a third-party
// app that retries the password grant with a member's password while the member has not
// consented to it (token.consent_required, session 24: each attempt's login.success row stays,
// the sign-in's own), or token exchange with a fresh AMS token each time; and an access rule
// that fails to evaluate at the token endpoint (access.rule_error, session 26 R2-4: the grant
// stays, the app retries its refresh or device poll).
func repeatedEvent(event string) bool {
	return event == "token.refresh_denied" || event == "token.consent_required" || event == "access.rule_error"
}

// HasConsent implements sso.ConsentChecker: the member's recorded consent (from the consent
// page) covers every scope, as the consent page judges it for a browser sign-in; a consent given
// to an earlier registration of the client's id was given to another app and does not count.
func (h *Hooks) HasConsent(ctx context.Context, subject string, client *sso.ClientConfig, scopes []string) (bool, error) {
	given, err := h.Consents.Consent(ctx, subject, client.ID)
	if errors.Is(err, sso.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load consent: %w", err)
	}
	if client.PredatesRegistration(given.GrantedAt) {
		return false, nil
	}
	for _, sc := range scopes {
		if !slices.Contains(given.Scopes, sc) {
			return false, nil
		}
	}
	return true, nil
}

// AuthenticatePassword implements sso.PasswordAuthenticator (Password).
func (h *Hooks) AuthenticatePassword(r *http.Request, clientID, login, password string) (string, []string, error) {
	return h.Password(r, clientID, login, password)
}

// ExternalTokenTypes implements sso.ExternalExchanger: none without an Exchanger.
func (h *Hooks) ExternalTokenTypes() []string {
	if h.Exchanger == nil {
		return nil
	}
	return h.Exchanger.ExternalTokenTypes()
}

// ExchangeExternal implements sso.ExternalExchanger (Exchanger).
func (h *Hooks) ExchangeExternal(ctx context.Context, clientID, subjectToken, tokenType string) (string, []string, error) {
	if h.Exchanger == nil {
		return "", nil, sso.ErrUnsupportedTokenType
	}
	return h.Exchanger.ExchangeExternal(ctx, clientID, subjectToken, tokenType)
}

// MayExchangeExternal implements sso.ExternalExchangeAuthorizer: only the ExchangeClients
// exchange, and only the token types the Exchanger handles.
func (h *Hooks) MayExchangeExternal(clientID, tokenType string) bool {
	return slices.Contains(h.ExchangeClients, clientID) && slices.Contains(h.ExternalTokenTypes(), tokenType)
}
