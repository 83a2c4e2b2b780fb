package sso

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Device authorization grant (RFC 8628). op has a device flow, but it answers every storage
// error as access_denied, cannot say slow_down, does not retry a colliding user code and
// issues tokens on every poll after approval; so the provider runs both endpoints itself,
// on a DeviceStore, and issues through op's token creation. The member's part (user code
// entry, then the normal login and consent on an internal auth request that returns to
// DeviceConfig.DonePath) is the bridge's /device page, through DeviceLogin and DeviceDone.

// DeviceConfig configures the device flow.
type DeviceConfig struct {
	Lifetime time.Duration // of a device code (default 10 min)
	Interval time.Duration // minimum polling interval (default 5 s)
	UserPath string        // the verification page (default /device)
	DonePath string        // where the internal auth request returns (default /device/done)
}

func (c *DeviceConfig) defaults() {
	if c.Lifetime <= 0 {
		c.Lifetime = 10 * time.Minute
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.UserPath == "" {
		c.UserPath = "/device"
	}
	if c.DonePath == "" {
		c.DonePath = "/device/done"
	}
}

// User codes: 8 characters from 20 consonants (RFC 8628 section 6.1: no vowels, so no words;
// no digits or letters that look alike), about 34.6 bits, shown as BCDF-GHJK. Input is
// normalised by upper-casing and dropping everything but letters.
const (
	userCodeCharset = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen     = 8
)

// NormalizeUserCode returns the stored form of a typed user code, or false when it cannot be one.
func NormalizeUserCode(s string) (string, bool) {
	if len(s) > 64 {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r >= 'A' && r <= 'Z':
			if !strings.ContainsRune(userCodeCharset, r) {
				return "", false
			}
			b.WriteRune(r)
		case r == '-' || r == ' ' || r == '\t':
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

// FormatUserCode shows a normalised user code as the member types it (BCDF-GHJK).
func FormatUserCode(code string) string {
	if len(code) != userCodeLen {
		return code
	}
	return code[:4] + "-" + code[4:]
}

func newUserCode() (string, error) {
	b := make([]byte, userCodeLen)
	max := big.NewInt(int64(len(userCodeCharset)))
	for i := range b {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("user code: %w", err)
		}
		b[i] = userCodeCharset[n.Int64()]
	}
	return string(b), nil
}

// deviceStorage adds op.DeviceAuthorizationStorage to the storage when the store keeps device
// codes, so that discovery advertises the grant only then. The provider runs the endpoints
// itself; these methods serve op's handlers should they ever be reached.
type deviceStorage struct {
	*storage
	devices DeviceStore
	cfg     DeviceConfig
}

var _ op.DeviceAuthorizationStorage = (*deviceStorage)(nil)

func (d *deviceStorage) StoreDeviceAuthorization(ctx context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	code, ok := NormalizeUserCode(userCode)
	if !ok {
		return fmt.Errorf("sso: device: malformed user code")
	}
	err := d.devices.CreateDeviceAuthorization(ctx, &DeviceAuthorization{
		DeviceCodeHash: HashToken(deviceCode), UserCode: code, ClientID: clientID, Scopes: scopes,
		CreatedAt: d.now(), ExpiresAt: expires, Interval: d.cfg.Interval, State: DevicePending,
	})
	if errors.Is(err, ErrConflict) {
		return op.ErrDuplicateUserCode
	}
	return err
}

// GetDeviceAuthorizatonState refuses: op's device token handler is never mounted (the token
// endpoint is the provider's, whose device grant checks the member and today's sign-in policy
// before it consumes the code, deviceCodeGrant.exchange). Were op's handler ever reached, it would
// issue tokens without those checks: it gets an error, never an approval (review s11 RV3).
func (d *deviceStorage) GetDeviceAuthorizatonState(context.Context, string, string) (*op.DeviceAuthorizationState, error) {
	return nil, errors.New("device tokens are issued by the provider's token endpoint only")
}

// DeviceEnabled reports whether the device authorization grant is available.
func (p *Provider) DeviceEnabled() bool { return p.devices != nil }

// deviceAuthorization is the device authorization endpoint (RFC 8628 section 3.1).
func (p *Provider) deviceAuthorization(w http.ResponseWriter, r *http.Request, cfg *ClientConfig) {
	ctx := r.Context()
	if p.devices == nil {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "the device authorization grant is not enabled")
		return
	}
	if !cfg.AllowsGrant(GrantDeviceCode) {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "this client may not use the device authorization grant")
		return
	}
	scopes, err := p.grantScopes(cfg, r.PostForm.Get("scope"))
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "scope not allowed for this client")
		return
	}
	// The resources (RFC 8707 2) it names must be among the client's audiences, as at
	// /authorize (refuseEarly); the accepted ones bind the grant (deviceTarget). audience (RFC
	// 8693) is a token request's parameter: not read here, as at /authorize.
	resources, err := requestedTarget(cfg, url.Values{"resource": r.PostForm["resource"]})
	if err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_target", err.Error()) // RFC 8628 3.2
		return
	}
	dc := p.cfg.Device
	now := p.storage.now()
	deviceCode := RandomToken()
	var userCode string
	for attempt := 0; ; attempt++ {
		if userCode, err = newUserCode(); err != nil {
			break
		}
		err = p.devices.CreateDeviceAuthorization(ctx, &DeviceAuthorization{
			DeviceCodeHash: HashToken(deviceCode), UserCode: userCode, ClientID: cfg.ID, Scopes: scopes,
			CreatedAt: now, ExpiresAt: now.Add(dc.Lifetime), Interval: dc.Interval, State: DevicePending,
			Resources: resources,
		})
		if !errors.Is(err, ErrConflict) || attempt == 4 {
			break
		}
	}
	if err != nil {
		p.log(ctx).ErrorContext(ctx, "device authorization failed", "client", cfg.ID, "err", err)
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "could not start the device authorization")
		return
	}
	verify := p.cfg.Issuer + dc.UserPath
	resp := map[string]any{
		"device_code":               deviceCode,
		"user_code":                 FormatUserCode(userCode),
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?user_code=" + url.QueryEscape(FormatUserCode(userCode)),
		"expires_in":                int(dc.Lifetime / time.Second),
		"interval":                  int(dc.Interval / time.Second),
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// deviceCodeGrant is the device_code grant at the token endpoint (RFC 8628 section 3.4, 3.5),
// registered when the store is a DeviceStore.
type deviceCodeGrant struct{ p *Provider }

func (deviceCodeGrant) grantType() string { return GrantDeviceCode }
func (deviceCodeGrant) scopes() scopeRule { return scopesOwn }

func (g deviceCodeGrant) exchange(ctx context.Context, req tokenRequest) (any, error) {
	p, cfg := g.p, req.client
	code := req.form.Get("device_code")
	if code == "" || len(code) > 256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("device_code is required")
	}
	now := p.storage.now()
	// The store looks the code up for this client only: another client's device code is
	// unknown here and its poll is not recorded, so it cannot slow down, consume or otherwise
	// change the code of the client it was issued to (RFC 8628 3.5: the interval and the
	// code's state are the owner's; RFC 6749 5.2: a grant issued to another client is
	// invalid_grant).
	d, err := p.devices.PollDeviceAuthorization(ctx, HashToken(code), cfg.ID, now)
	if d != nil && (err == nil || errors.Is(err, ErrSlowDown)) && issuedBeforeRegistration(cfg, d.CreatedAt) {
		// A removed app's device authorization, polled by the app registered again under its
		// id: issued to another client.
		return nil, oidc.ErrInvalidGrant().WithDescription("unknown device_code, or issued to another client")
	}
	final := d != nil && (d.State == DeviceConsumed || d.State == DeviceDenied || !now.Before(d.ExpiresAt))
	switch {
	case errors.Is(err, ErrSlowDown) && final:
		// A redeemed or denied code is answered at once, however fast the poll (RFC 8628 3.5).
	case errors.Is(err, ErrSlowDown):
		return nil, oidc.ErrSlowDown().WithDescription("poll at most every %d seconds", int(d.Interval/time.Second))
	case errors.Is(err, ErrNotFound):
		return nil, oidc.ErrInvalidGrant().WithDescription("unknown device_code, or issued to another client")
	case err != nil:
		return nil, &GrantError{Status: http.StatusInternalServerError, Code: "server_error",
			Description: "could not read the device authorization", Err: err}
	}
	if !now.Before(d.ExpiresAt) && d.State != DeviceConsumed {
		return nil, oidc.ErrExpiredDeviceCode().WithDescription("the device_code has expired; start again")
	}
	// A token request outside the grant's resources is refused before anything else reads the
	// authorization's state, and leaves the device code as it was (RFC 8707 2.2).
	info := grantInfo{clientID: cfg.ID, subject: d.Subject, scopes: d.Scopes, amr: d.AMR, authTime: d.AuthTime, sessionID: d.SessionID}
	if err := deviceTarget(&info, d, req); err != nil {
		return nil, err
	}
	switch d.State {
	case DevicePending:
		return nil, oidc.ErrAuthorizationPending().WithDescription("the member has not finished yet")
	case DeviceDenied:
		return nil, oidc.ErrAccessDenied().WithDescription("the member denied the authorization")
	case DeviceConsumed:
		return nil, deviceCodeUsed()
	case DeviceApproved:
	default:
		return nil, &GrantError{Status: http.StatusInternalServerError, Code: "server_error",
			Description: "unknown device authorization state", Err: fmt.Errorf("device state %q", d.State)}
	}
	// A refusal is the authorization's end (RFC 8628 3.5: access_denied is final, the device
	// stops polling): the code is consumed, so a later poll is "already used", not tokens once
	// the member is allowed again, and is not checked and audited again.
	closeRefused := func() {
		if cerr := p.devices.ConsumeDeviceAuthorization(ctx, HashToken(code), cfg.ID, now); cerr != nil && !errors.Is(cerr, ErrNotFound) {
			p.log(ctx).WarnContext(ctx, "device grant: could not close a refused device authorization", "client", cfg.ID, "err", cerr)
		}
	}
	if d.SessionID != "" {
		// The sign-in session that approved the device must still be live, as a code's must
		// (codeRequest): one ended since (signed out, "sign out of all devices", ended by an
		// administrator) has had its grants revoked, so its approval gives nothing. This read
		// answers early; the write checks it again (Issue.ConsumeDevice), for an end that
		// lands while the member checks below run.
		switch live, err := p.storage.sessionLive(ctx, d.SessionID); {
		case err != nil:
			return nil, &GrantError{Status: http.StatusInternalServerError, Code: "server_error",
				Description: "could not read the approving session", Err: err}
		case !live:
			closeRefused()
			p.storage.hooks.Event(ctx, "device.session_ended", d.Subject, cfg.ID, "device approval of an ended session refused")
			return nil, deviceSessionEnded()
		}
	}
	// The member checks (issueMember's: the member, then the sign-in against today's policy)
	// run before the code is consumed: a poll they cannot answer (the AMS unreachable: 503
	// temporarily_unavailable, which invites the device to poll again) leaves the approval to
	// the next poll. The code is consumed in the grant's write (Issue.ConsumeDevice), one
	// compare-and-set with the family's insert and the approving session's check: of
	// concurrent polls one gets tokens, and a session ended meanwhile gets none (the store
	// refuses it: access_denied, closed here as the other final refusals).
	info.device = &DeviceConsumption{DeviceCodeHash: HashToken(code), ClientID: cfg.ID, Now: now}
	body, err := p.issueMember(ctx, cfg, "device", memberGrant{info: info, deniedCode: "access_denied",
		signInEvent: "device.denied"})
	if err != nil && finalRefusal(err) {
		closeRefused()
	}
	return body, err
}

// deviceCodeUsed answers a device code consumed already (a concurrent poll got its tokens).
func deviceCodeUsed() error {
	return oidc.ErrInvalidGrant().WithDescription("the device_code was already used")
}

// deviceSessionEnded answers a device approved in a sign-in session that has ended since.
func deviceSessionEnded() error {
	return oidc.ErrAccessDenied().WithDescription("the sign-in session that approved this device has ended; start again")
}

// deviceTarget sets what info's grant is for. Resources named at /device_authorization bind
// it, as /authorize's bind a code's (RFC 8707 2.2): they are its family's Audience, and the
// access token is for them, or for those of them the token request names; a request outside
// them, or a grant none of whose resources the client keeps, is invalid_target (tokenTarget).
// An authorization that named none (every one stored before they were kept) is bound by the
// token request that redeems it, as the password and token exchange grants are (targetOf):
// its refreshes then keep to what the device asked for then.
func deviceTarget(info *grantInfo, d *DeviceAuthorization, req tokenRequest) error {
	if len(d.Resources) == 0 {
		targetOf(info, req)
		return nil
	}
	target, err := tokenTarget(req.client, d.Resources, req.target)
	if err != nil {
		return err
	}
	info.audience, info.target = d.Resources, target
	return nil
}

// finalRefusal reports whether err refuses a grant for good (access_denied, invalid_grant),
// as opposed to a failure the client may retry (temporarily_unavailable, server_error).
func finalRefusal(err error) bool {
	var ge *GrantError
	if errors.As(err, &ge) {
		return ge.Status < http.StatusInternalServerError && (ge.Code == "access_denied" || ge.Code == "invalid_grant")
	}
	var oe *oidc.Error
	return errors.As(err, &oe) && (oe.ErrorType == oidc.AccessDenied || oe.ErrorType == oidc.InvalidGrant)
}

// ---- the member's part (the bridge's /device page) ----

const deviceStatePrefix = "device|"

// DeviceLogin looks up a pending device authorization by the code the member typed and
// returns it with the login URL of an internal auth request for its client and scopes, which
// comes back to DonePath once the member has signed in and consented. The login URL is empty
// when the authorization is no longer pending. ErrNotFound when unknown or expired.
func (p *Provider) DeviceLogin(ctx context.Context, typed string) (*DeviceAuthorization, string, error) {
	if p.devices == nil {
		return nil, "", ErrNotFound
	}
	code, ok := NormalizeUserCode(typed)
	if !ok {
		return nil, "", ErrNotFound
	}
	d, err := p.devices.DeviceAuthorizationByUserCode(ctx, code)
	if err != nil {
		return nil, "", fmt.Errorf("device authorization: %w", err)
	}
	if d.State != DevicePending {
		return d, "", nil
	}
	state, err := p.op.Crypto().Encrypt(deviceStatePrefix + d.UserCode + "|" + d.DeviceCodeHash)
	if err != nil {
		return nil, "", fmt.Errorf("device authorization: seal state: %w", err)
	}
	now := p.storage.now()
	ar := &AuthRequest{
		ID: RandomToken(), ClientID: d.ClientID, RedirectURI: p.cfg.Issuer + p.cfg.Device.DonePath,
		State: state, Scopes: d.Scopes, ResponseType: string(oidc.ResponseTypeCode),
		// The device's resources (RFC 8707), so that the consent page names them as /device
		// did; the device's own grant is bound to them (deviceTarget), not to this request.
		Resources: slices.Clone(d.Resources),
		CreatedAt: now, ExpiresAt: now.Add(p.storage.life.AuthRequest),
	}
	if d.ExpiresAt.Before(ar.ExpiresAt) {
		ar.ExpiresAt = d.ExpiresAt
	}
	if err := p.storage.store.CreateAuthRequest(ctx, ar); err != nil {
		return nil, "", fmt.Errorf("device authorization: create auth request: %w", err)
	}
	return d, p.cfg.LoginURL(ar.ID), nil
}

// ErrDeviceUndecided is DeviceDone's answer to an error response that is not the member's
// refusal (op's callback answering server_error when its code write failed, invalid_request
// for a second callback): nothing was decided, the device authorization is returned as it
// stands, and while it is pending the member may enter the code again.
var ErrDeviceUndecided = errors.New("sso: the device sign-in was not finished")

// DeviceDone finishes the member's part from the query DonePath received: a code means the
// member signed in and allowed the app (approved true); error=access_denied means they did not
// (the consent refused, the access rule: the authorization is denied for good). Any other
// error is a fault on the way (RFC 8628 3.5 keeps access_denied for the member's refusal), not
// theirs: it decides nothing and answers the device authorization with ErrDeviceUndecided
// (review s25 Y-3). It returns the device authorization; ErrNotFound when the query does not
// belong to a pending device authorization (replayed, expired or forged).
func (p *Provider) DeviceDone(ctx context.Context, q url.Values) (*DeviceAuthorization, bool, error) {
	if p.devices == nil {
		return nil, false, ErrNotFound
	}
	state := q.Get("state")
	if len(state) > 4096 {
		return nil, false, ErrNotFound
	}
	userCode, devHash, err := p.openDeviceState(state)
	if err != nil {
		return nil, false, err
	}
	d, err := p.devices.DeviceAuthorizationByUserCode(ctx, userCode)
	if err != nil {
		return nil, false, fmt.Errorf("device authorization: %w", err)
	}
	if d.DeviceCodeHash != devHash {
		return nil, false, ErrNotFound
	}
	now := p.storage.now()
	switch e := q.Get("error"); {
	case e == "":
	case e != string(oidc.AccessDenied):
		p.log(ctx).WarnContext(ctx, "device: the member's sign-in came back with an error; the device is left undecided",
			"client", d.ClientID, "error", safeParam(e))
		return d, false, fmt.Errorf("%w: %s", ErrDeviceUndecided, safeParam(e))
	default:
		if err := p.devices.DecideDeviceAuthorization(ctx, userCode, false, Completion{}, now); err != nil {
			return nil, false, fmt.Errorf("device authorization: deny: %w", err)
		}
		p.storage.hooks.Event(ctx, "device.denied", "", d.ClientID, safeParam(q.Get("error")))
		d.State = DeviceDenied
		return d, false, nil
	}
	code := q.Get("code")
	if code == "" || len(code) > 1024 {
		return nil, false, ErrNotFound
	}
	ar, _, _, _, err := p.storage.findCode(ctx, code, HashToken(code), false) // no cache: no compare-and-set binds it here
	if err != nil {
		return nil, false, fmt.Errorf("device authorization: code: %w", err)
	}
	if ar.CodeConsumed || !ar.Done || ar.State != state || ar.ClientID != d.ClientID || ar.RedirectURI != p.cfg.Issuer+p.cfg.Device.DonePath {
		return nil, false, ErrNotFound
	}
	c := Completion{Subject: ar.Subject, AuthTime: ar.AuthTime, AMR: ar.AMR, SessionID: ar.SessionID}
	if err := p.devices.DecideDeviceAuthorization(ctx, userCode, true, c, now); err != nil {
		return nil, false, fmt.Errorf("device authorization: approve: %w", err)
	}
	if err := p.storage.store.DeleteAuthRequest(ctx, ar.ID); err != nil {
		p.log(ctx).WarnContext(ctx, "device: delete internal auth request", "err", err)
	}
	p.storage.hooks.Event(ctx, "device.approved", ar.Subject, d.ClientID, "")
	d.State, d.Subject, d.AuthTime, d.AMR, d.SessionID = DeviceApproved, c.Subject, c.AuthTime, c.AMR, c.SessionID
	return d, true, nil
}

func (p *Provider) openDeviceState(state string) (userCode, devHash string, err error) {
	if state == "" {
		return "", "", ErrNotFound
	}
	plain, err := p.op.Crypto().Decrypt(state)
	if err != nil {
		return "", "", ErrNotFound
	}
	rest, ok := strings.CutPrefix(plain, deviceStatePrefix)
	if !ok {
		return "", "", ErrNotFound
	}
	userCode, devHash, ok = strings.Cut(rest, "|")
	if !ok {
		return "", "", ErrNotFound
	}
	return userCode, devHash, nil
}
