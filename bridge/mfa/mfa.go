package mfa

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Authentication method references (RFC 8176) the bridge records.
const (
	AMRPassword = "pwd" // the AMS password
	AMROTP      = "otp" // a TOTP code or a recovery code
	AMRHardware = "hwk" // a passkey bound to its device (not backup eligible)
	AMRSoftware = "swk" // a synced passkey (backup eligible)
	AMRMFA      = "mfa" // more than one factor
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app supports).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	// totpSkew is how many steps before and after now a code is accepted for.
	totpSkew = 1
	// RecoveryCodes is how many recovery codes an enrolment hands out.
	RecoveryCodes = 10
)

// Errors of the second-factor checks. A person is told the same for a wrong and a reused code.
var (
	ErrWrongCode = errors.New("mfa: wrong or already used code")
	// ErrNoFactor: the member has no factor of that kind.
	ErrNoFactor = errors.New("mfa: no such factor")
)

// ThrottledError: too many wrong second-factor codes for the member; retry after RetryAfter.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("mfa: too many wrong codes: retry after %s", e.RetryAfter)
}

// Policy is when a second factor is required, besides the member's opt-in and the client's own
// mfa setting (sso.ClientConfig.MFA).
type Policy struct {
	// RequiredRoles are AMS roles whose holders must use a second factor.
	RequiredRoles []string
}

// Clients finds a client by id (sso.Registry): its mfa setting is part of the policy.
type Clients interface {
	ClientConfig(ctx context.Context, id string) (*sso.ClientConfig, error)
}

// Service keeps members' second factors and checks them. Every field is required.
type Service struct {
	Store store.FactorStore
	// KEK is the key-encryption key: it seals TOTP secrets.
	KEK []byte
	// Issuer names the service in authenticator apps (the organisation's name).
	Issuer string
	Policy Policy
	// Clients are the registered clients, whichever way they were added (config file, admin
	// API, CLI, console): Needed reads their mfa setting.
	Clients Clients
	// Throttle counts wrong second-factor codes per member (and client IP).
	Throttle *throttle.Throttle
	Audit    func(ctx context.Context, e *store.AuditEvent)
	// WebAuthn is the passkey relying party (nil: passkeys off).
	WebAuthn *WebAuthn
	Now      func() time.Time
	// InvitationFirst: a first factor needs an administrator's invitation as well
	// (mfa.first_enrolment: invitation; InviteNeeded).
	InvitationFirst bool
}

// Factors are what a member has enrolled.
type Factors struct {
	TOTP bool
	// Passkeys are the member's WebAuthn credentials.
	Passkeys []*store.WebAuthnCredential
	// RecoveryLeft counts unspent recovery codes.
	RecoveryLeft int
}

// Any reports whether the member has a second factor (opted in).
func (f Factors) Any() bool { return f.TOTP || len(f.Passkeys) > 0 }

// factorsMemo keeps the factors Factors read within one request (WithFactorsMemo).
type factorsMemo struct {
	subject string
	f       Factors
	ok      bool
}

type factorsMemoKey struct{}

// WithFactorsMemo returns ctx in which Factors reads a member's factors once: a password
// sign-in asks before opening the session (AfterFirstFactor) and again when completing the
// request (NeedsStepUp), within one HTTP request.
func WithFactorsMemo(ctx context.Context) context.Context {
	if _, ok := ctx.Value(factorsMemoKey{}).(*factorsMemo); ok {
		return ctx
	}
	return context.WithValue(ctx, factorsMemoKey{}, &factorsMemo{})
}

// Factors reads the member's factors (once per subject in a context from WithFactorsMemo).
func (s *Service) Factors(ctx context.Context, subject string) (Factors, error) {
	memo, _ := ctx.Value(factorsMemoKey{}).(*factorsMemo)
	if memo != nil && memo.ok && memo.subject == subject {
		return memo.f, nil
	}
	f, err := s.readFactors(ctx, subject)
	if err == nil && memo != nil {
		memo.subject, memo.f, memo.ok = subject, f, true
	}
	return f, err
}

// SignInFactors is what a sign-in asks of every member before opening a session: the member's
// factors (as Factors reads them, and kept for the request's later Factors) and whether the
// factor-reset notice is set (as FactorResetNotice reads it, leaving it set). One read answers
// it for a member with no factor (store FactorPresence); a member with one has the factors
// read as Factors reads them.
func (s *Service) SignInFactors(ctx context.Context, subject string) (Factors, bool, error) {
	p, err := s.Store.FactorPresence(ctx, subject)
	if err != nil {
		return Factors{}, false, fmt.Errorf("read factors: %w", err)
	}
	var f Factors
	if p.TOTP || p.Passkeys {
		if f, err = s.Factors(ctx, subject); err != nil {
			return f, false, err
		}
	} else if memo, _ := ctx.Value(factorsMemoKey{}).(*factorsMemo); memo != nil {
		memo.subject, memo.f, memo.ok = subject, f, true
	}
	return f, p.ResetNotice, nil
}

func (s *Service) readFactors(ctx context.Context, subject string) (Factors, error) {
	var f Factors
	t, err := s.Store.TOTP(ctx, subject)
	switch {
	case err == nil:
		f.TOTP = t.Confirmed
	case !errors.Is(err, sso.ErrNotFound):
		return f, fmt.Errorf("read totp: %w", err)
	}
	if f.Passkeys, err = s.Store.WebAuthnCredentials(ctx, subject); err != nil {
		return f, fmt.Errorf("read passkeys: %w", err)
	}
	if f.TOTP {
		if f.RecoveryLeft, err = s.Store.RecoveryCodesLeft(ctx, subject); err != nil {
			return f, fmt.Errorf("read recovery codes: %w", err)
		}
	}
	return f, nil
}

// Why a second factor is required.
const (
	ReasonEnrolled  = "enrolled"   // the member opted in
	ReasonClient    = "client"     // the app requires it
	ReasonACR       = "acr_values" // the app asked for it (acr_values)
	ReasonRole      = "role"       // the member's role requires it
	ReasonAMS       = "ams"        // the AMS signs the member in only with a second factor
	ReasonNotNeeded = ""
)

// Required tells whether completing ar for client (either may be nil outside a sign-in) needs
// a second factor from the member m, with factors f, in a sign-in whose methods are amr, and
// why. A sign-in the AMS website's hand-off opened (HandedOff(amr)) satisfies a requirement
// whose only reason is the AMS's own (ReasonAMS): the AMS asked for its factor itself before
// it handed the member over. A requirement for any other reason (the member's own factor at
// the bridge, the app's mfa setting, acr_values, a role) still asks the bridge's factor.
func (s *Service) Required(ar *sso.AuthRequest, client *sso.ClientConfig, m *legacy.Member, f Factors, amr []string) string {
	why := s.requiredBy(ar, client, m, f)
	if why == ReasonAMS && HandedOff(amr) {
		return ReasonNotNeeded
	}
	return why
}

// requiredBy is Required's reason before the sign-in's methods are taken into account: the
// first that applies, in this order, so ReasonAMS only when no other reason does.
func (s *Service) requiredBy(ar *sso.AuthRequest, client *sso.ClientConfig, m *legacy.Member, f Factors) string {
	switch {
	case f.Any():
		return ReasonEnrolled
	case client.RequiresMFA():
		return ReasonClient
	case ar != nil && slices.Contains(ar.ACRValues, sso.ACRMFA):
		return ReasonACR
	case m != nil && slices.ContainsFunc(m.Roles, func(r string) bool { return slices.Contains(s.Policy.RequiredRoles, r) }):
		return ReasonRole
	case m != nil && m.SecondFactor:
		// The AMS asks this account for a second factor (iMIS: an authenticator enrolled
		// there); the bridge checks its password alone, so it asks for its own (review s15
		// else the account is one password away here).
		return ReasonAMS
	}
	return ReasonNotNeeded
}

// Needed reports whether a sign-in of m (subject) to clientID outside the browser with methods
// amr (the password grant's ["pwd"], the AMS token exchange's ["ams"]), which cannot ask for a
// second factor, must be refused because one is required (Required: the exchange of an AMS
// token satisfies the AMS's own requirement as the hand-off does).
func (s *Service) Needed(ctx context.Context, clientID, subject string, m *legacy.Member, amr []string) (bool, error) {
	f, err := s.Factors(ctx, subject)
	if err != nil {
		return false, err
	}
	var client *sso.ClientConfig
	if s.Clients != nil {
		if client, err = s.Clients.ClientConfig(ctx, clientID); err != nil {
			return false, fmt.Errorf("mfa policy of client %q: %w", clientID, err)
		}
	}
	return s.Required(nil, client, m, f, amr) != ReasonNotNeeded, nil
}

// PolicyRequires reports why the policy an administrator sets requires a second factor of m
// at clientID of a grant made with methods amr: the client's mfa setting (ReasonClient), one of
// m's roles (ReasonRole) or the AMS (ReasonAMS: it signs m in only with a second factor; not
// for a grant the AMS website's hand-off or token exchange made, HandedOff), or
// ReasonNotNeeded. It reads no factor: the refresh grant asks it of every family granted
// without a second factor, so that requiring one takes effect at the next refresh.
func (s *Service) PolicyRequires(ctx context.Context, clientID string, m *legacy.Member, amr []string) (string, error) {
	var client *sso.ClientConfig
	if s.Clients != nil {
		var err error
		if client, err = s.Clients.ClientConfig(ctx, clientID); err != nil {
			return ReasonNotNeeded, fmt.Errorf("mfa policy of client %q: %w", clientID, err)
		}
	}
	// Required's own reasons, without ar and factors: no list here to forget a new one in.
	return s.Required(nil, client, m, Factors{}, amr), nil
}

// AMRHandOff is the first amr value of a sign-in by the AMS website's hand-off (the iMIS SSO
// content item posting a refresh token of the member's AMS sign-in; authflow.AMRHandOff).
const AMRHandOff = "ams"

// HandedOff reports whether a sign-in's methods amr begin with the AMS website's hand-off. Only
// the first value counts: the hand-off writes it first (["ams"], then a second factor's), and
// no other first factor does (a password's is "pwd", an upstream's "fed", a passkey's hwk or
// swk), while an upstream's trusted_amr values come after "fed".
func HandedOff(amr []string) bool { return len(amr) > 0 && amr[0] == AMRHandOff }

// MayEnrolFirst reports whether m may enrol a first second factor (an authenticator app or a
// passkey, while it has none) in a sign-in whose methods are amr, as the store records them for
// the sign-in's challenge or session. A member the AMS signs in only with a second factor
// (legacy.Member.SecondFactor: iMIS MultiFactorInfo, or the site's PCI.MultiFactorAuthentication)
// enrols only after the AMS website's hand-off, where the AMS asked for its own factor: with
// the password alone, whoever holds the password would enrol an authenticator of theirs and
// pass the second factor the bridge asks of that member (review s12 W9, s15 X-6). Every other
// member enrols as before. A nil member may not (fail closed).
func MayEnrolFirst(m *legacy.Member, amr []string) bool {
	return m != nil && (!m.SecondFactor || HandedOff(amr))
}

// InviteNeeded reports whether m, with factors f, enrolling a factor in a sign-in or session
// whose methods are amr needs an administrator's invitation code (Service.InvitationFirst;
// review s12 W9): for a first factor, except after the AMS website's hand-off of a member the
// AMS asks a factor of (MayEnrolFirst's one way in for them: the AMS checked its own factor).
// A member with a factor adds more without one: the callers ask for that factor first. It is
// what the pages ask for, from factors read before the enrolment; the store decides whether
// the factor is a first when it stores it (ConfirmTOTP, FinishRegistration: ErrInviteMissing).
func (s *Service) InviteNeeded(f Factors, m *legacy.Member, amr []string) bool {
	return !f.Any() && s.firstNeedsInvite(m, amr)
}

// firstNeedsInvite reports whether a first factor enrolled by m in a sign-in or session whose
// methods are amr needs an invitation (InviteNeeded of a member with none). An enrolment
// without one for which it holds stores its factor only beside another, which the store checks
// in the transaction that stores it (store.ConfirmTOTPNotFirst, AddWebAuthnCredentialNotFirst;
// review s18 R3-4): factors read earlier may have been removed since.
func (s *Service) firstNeedsInvite(m *legacy.Member, amr []string) bool {
	return s.InvitationFirst && !(m != nil && m.SecondFactor && HandedOff(amr))
}

// HasMFA reports whether a session's methods include a second factor.
func HasMFA(amr []string) bool { return slices.Contains(amr, AMRMFA) }

// WithFactor is amr after a second factor of method: the first factor's methods, the new one
// and mfa, each once.
func WithFactor(amr []string, method string) []string {
	out := slices.Clone(amr)
	for _, m := range []string{method, AMRMFA} {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// ---- TOTP ----

// Enrolment is a pending TOTP enrolment as the member sees it.
type Enrolment struct {
	// Secret is the base32 secret, for typing into an app by hand.
	Secret string
	// QR is the otpauth:// URL as a PNG data URI (rendered here: no external service).
	QR template.URL
}

func sealName(subject string) string { return "totp:" + subject }

// ResealTOTP opens a member's sealed TOTP secret (a factor or an enrolment of subject) with
// oldKEK and seals it again with newKEK: changing keys.encryption_key (bridge.Rekey). It fails
// when oldKEK does not open it.
func ResealTOTP(oldKEK, newKEK []byte, subject string, sealed []byte) ([]byte, error) {
	return identity.ResealValue(oldKEK, newKEK, sealName(subject), sealed)
}

// openTOTP opens a sealed TOTP secret: the secret and, for an enrolment begun by BeginTOTP, the
// browser it was begun in ("" for one sealed without).
func (s *Service) openTOTP(subject string, sealed []byte) (secret []byte, browser string, err error) {
	plain, err := identity.OpenValue(s.KEK, sealName(subject), sealed)
	if err != nil {
		return nil, "", fmt.Errorf("open totp secret: %w", err)
	}
	sec, browser, _ := strings.Cut(string(plain), "\x00")
	return []byte(sec), browser, nil
}

// BeginTOTP starts (or restarts) a TOTP enrolment: a fresh secret, stored sealed and pending
// until ConfirmTOTP. account is what the app shows under the issuer (the member's login);
// browser is the browser the enrolment is begun in (its request-browser binding): the pending
// secret is shown again, and confirmed, only there, so that nobody else who reaches an
// enrolment page of the same member (with a phished password) learns the secret the member
// is about to enrol.
func (s *Service) BeginTOTP(ctx context.Context, subject, account, browser string) (*Enrolment, error) {
	if browser == "" || strings.Contains(browser, "\x00") {
		return nil, errors.New("totp enrolment: no browser binding")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: s.Issuer, AccountName: account, Period: totpPeriod,
		Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, SecretSize: 20})
	if err != nil {
		return nil, fmt.Errorf("totp secret: %w", err)
	}
	sealed, err := identity.SealValue(s.KEK, sealName(subject), []byte(key.Secret()+"\x00"+browser))
	if err != nil {
		return nil, fmt.Errorf("seal totp secret: %w", err)
	}
	if err := s.Store.PutTOTP(ctx, &store.TOTPFactor{Subject: subject, SecretSealed: sealed, CreatedAt: s.Now()}); err != nil {
		return nil, fmt.Errorf("store totp: %w", err)
	}
	return enrolment(otpauthURL(s.Issuer, account, key.Secret()), key.Secret())
}

// PendingTOTP returns the pending enrolment begun in browser again (the page reloaded), or nil
// when there is none (or it was begun in another browser).
func (s *Service) PendingTOTP(ctx context.Context, subject, account, browser string) (*Enrolment, error) {
	f, err := s.Store.TOTP(ctx, subject)
	if errors.Is(err, sso.ErrNotFound) || (err == nil && f.Confirmed) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	secret, began, err := s.openTOTP(subject, f.SecretSealed)
	if err != nil {
		return nil, err
	}
	if browser == "" || subtle.ConstantTimeCompare([]byte(began), []byte(browser)) != 1 {
		return nil, nil
	}
	return enrolment(otpauthURL(s.Issuer, account, string(secret)), string(secret))
}

// otpauthURL is the key URI authenticator apps read (Google Authenticator's Key Uri Format).
func otpauthURL(issuer, account, secret string) string {
	q := url.Values{"secret": {secret}, "issuer": {issuer}, "algorithm": {"SHA1"}, "digits": {"6"},
		"period": {strconv.Itoa(totpPeriod)}}
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + issuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}

func enrolment(uri, secret string) (*Enrolment, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, 240)
	if err != nil {
		return nil, fmt.Errorf("qr code: %w", err)
	}
	return &Enrolment{Secret: secret, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))}, nil
}

// matchStep finds the time step within ±totpSkew of now whose code is code (-1: none).
func (s *Service) matchStep(secret []byte, code string) int64 {
	code = strings.Join(strings.Fields(code), "")
	if len(code) != int(totpDigits) {
		return -1
	}
	now := s.Now()
	found := int64(-1)
	for d := -totpSkew; d <= totpSkew; d++ {
		t := now.Add(time.Duration(d*totpPeriod) * time.Second)
		want, err := totp.GenerateCodeCustom(string(secret), t, totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return -1
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = t.Unix() / totpPeriod
		}
	}
	return found
}

// ConfirmTOTP finishes the enrolment begun in browser with a first code and returns the recovery
// codes (shown once; only their hashes are kept). The secret confirmed is the one the code was
// checked against (compare-and-set), never one that another enrolment put in its place. A
// non-empty invite is the member's invitation code (InviteNeeded), used in the same
// transaction as the factor is confirmed: ErrWrongInvite, counted as a wrong code, when it is
// wrong, another member's, used or expired, and nothing is confirmed. Without one, when the
// member m (in a sign-in or session whose methods are amr) would need one for a first factor,
// the factor is confirmed only beside a passkey the member has when it is confirmed:
// ErrInviteMissing, not counted, when they have none (removed since the page read it).
func (s *Service) ConfirmTOTP(ctx context.Context, subject string, m *legacy.Member, amr []string, code, ip, browser, invite string) ([]string, error) {
	if err := s.throttle(ctx, subject, ip); err != nil {
		return nil, err
	}
	f, err := s.Store.TOTP(ctx, subject)
	if errors.Is(err, sso.ErrNotFound) || (err == nil && f.Confirmed) {
		s.release(ctx, subject, ip)
		return nil, ErrNoFactor
	}
	if err != nil {
		s.release(ctx, subject, ip)
		return nil, fmt.Errorf("read totp: %w", err)
	}
	secret, began, err := s.openTOTP(subject, f.SecretSealed)
	if err != nil {
		s.release(ctx, subject, ip)
		return nil, err
	}
	if browser == "" || subtle.ConstantTimeCompare([]byte(began), []byte(browser)) != 1 {
		s.release(ctx, subject, ip)
		return nil, ErrNoFactor // begun in another browser (or replaced by an enrolment there)
	}
	step := s.matchStep(secret, code)
	if step < 0 {
		return nil, ErrWrongCode
	}
	codes, hashes := newRecoveryCodes(subject)
	switch {
	case invite != "":
		err = s.Store.ConfirmTOTPInvited(ctx, subject, f.SecretSealed, step, hashes, inviteHash(subject, invite), s.Now())
	case s.firstNeedsInvite(m, amr):
		err = s.Store.ConfirmTOTPNotFirst(ctx, subject, f.SecretSealed, step, hashes)
	default:
		err = s.Store.ConfirmTOTP(ctx, subject, f.SecretSealed, step, hashes)
	}
	switch {
	case errors.Is(err, store.ErrNoInvite):
		return nil, s.inviteRefused(ctx, subject, ip, "totp")
	case errors.Is(err, store.ErrFirstFactor):
		s.release(ctx, subject, ip)
		return nil, s.firstFactorRefused(ctx, subject, ip, "totp")
	case errors.Is(err, sso.ErrNotFound):
		return nil, ErrNoFactor // confirmed, or replaced by another enrolment, meanwhile
	case err != nil:
		s.release(ctx, subject, ip)
		return nil, fmt.Errorf("confirm totp: %w", err)
	}
	s.succeed(ctx, subject, ip)
	s.enrolled(ctx, subject, ip, "totp", invite != "")
	return codes, nil
}

// VerifyTOTP checks a code of the member's confirmed TOTP factor; each time step is accepted
// once (a replayed code is ErrWrongCode).
func (s *Service) VerifyTOTP(ctx context.Context, subject, code, ip string) error {
	if err := s.throttle(ctx, subject, ip); err != nil {
		return err
	}
	f, err := s.Store.TOTP(ctx, subject)
	if errors.Is(err, sso.ErrNotFound) || (err == nil && !f.Confirmed) {
		s.failed(ctx, subject, ip, "totp: none")
		return ErrWrongCode
	}
	if err != nil {
		s.release(ctx, subject, ip)
		return fmt.Errorf("read totp: %w", err)
	}
	secret, _, err := s.openTOTP(subject, f.SecretSealed)
	if err != nil {
		s.release(ctx, subject, ip)
		return err
	}
	step := s.matchStep(secret, code)
	if step < 0 {
		s.failed(ctx, subject, ip, "totp: wrong code")
		return ErrWrongCode
	}
	if err := s.Store.UseTOTPStep(ctx, subject, step); err != nil {
		if errors.Is(err, sso.ErrConflict) || errors.Is(err, sso.ErrNotFound) {
			s.failed(ctx, subject, ip, "totp: code reused")
			return ErrWrongCode
		}
		s.release(ctx, subject, ip)
		return fmt.Errorf("use totp step: %w", err)
	}
	s.succeed(ctx, subject, ip)
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.used", Subject: subject, IP: ip, Detail: "totp"})
	return nil
}

// UseRecoveryCode spends one of the member's recovery codes.
func (s *Service) UseRecoveryCode(ctx context.Context, subject, code, ip string) error {
	if err := s.throttle(ctx, subject, ip); err != nil {
		return err
	}
	if err := s.Store.UseRecoveryCode(ctx, subject, recoveryHash(subject, code), s.Now()); err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			s.failed(ctx, subject, ip, "recovery code: wrong or used")
			return ErrWrongCode
		}
		s.release(ctx, subject, ip)
		return fmt.Errorf("use recovery code: %w", err)
	}
	s.succeed(ctx, subject, ip)
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.used", Subject: subject, IP: ip, Detail: "recovery code"})
	return nil
}

// RemoveTOTP removes the member's authenticator app and recovery codes.
func (s *Service) RemoveTOTP(ctx context.Context, subject, ip string) error {
	if err := s.Store.DeleteTOTP(ctx, subject); err != nil {
		return fmt.Errorf("remove totp: %w", err)
	}
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.removed", Subject: subject, IP: ip, Detail: "totp"})
	return nil
}

// enrolled audits a new factor (method: totp or passkey) and, when invited, the invitation it
// used.
func (s *Service) enrolled(ctx context.Context, subject, ip, method string, invited bool) {
	detail := method
	if invited {
		s.Audit(ctx, &store.AuditEvent{Event: "mfa.invite_used", Subject: subject, IP: ip, Detail: method})
		detail += ", with an invitation"
	}
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.enrolled", Subject: subject, IP: ip, Detail: detail})
}

// inviteRefused audits an enrolment's invitation the store refused (store.ErrNoInvite), whose
// attempt stays counted, and returns ErrWrongInvite.
func (s *Service) inviteRefused(ctx context.Context, subject, ip, method string) error {
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.invite_refused", Subject: subject, IP: ip, Detail: method + ": wrong, used or expired code"})
	return ErrWrongInvite
}

// firstFactorRefused audits a factor the store refused to store without an invitation code
// because the member had no other factor when it was to be stored (store.ErrFirstFactor: one
// removed meanwhile, or a caller that did not ask InviteNeeded), as the other refusals of an
// enrolment are (mfa.enrol_refused; nothing is counted), and returns ErrInviteMissing.
func (s *Service) firstFactorRefused(ctx context.Context, subject, ip, method string) error {
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.enrol_refused", Subject: subject, IP: ip,
		Detail: method + ": a first factor needs an invitation code, and the member had no other factor when it was stored"})
	return ErrInviteMissing
}

// ---- recovery codes ----

var recoveryAlphabet = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newRecoveryCodes makes RecoveryCodes codes of 60 random bits each ("xxxx-xxxx-xxxx") and their
// hashes.
func newRecoveryCodes(subject string) (codes, hashes []string) {
	for range RecoveryCodes {
		raw := recoveryAlphabet.EncodeToString(identity.RandomBytes(8))[:12]
		code := raw[:4] + "-" + raw[4:8] + "-" + raw[8:]
		codes = append(codes, code)
		hashes = append(hashes, recoveryHash(subject, code))
	}
	return codes, hashes
}

// recoveryHash is what the store keeps of a recovery code: SHA-256 of the member and the code
// without separators or case.
func recoveryHash(subject, code string) string {
	norm := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(code))
	sum := sha256.Sum256([]byte("ssobridge recovery code\x00" + subject + "\x00" + norm))
	return hex.EncodeToString(sum[:])
}

// ---- throttling ----

// throttleKey counts a member's wrong second-factor codes in the login throttle: its own
// login key, and an IP counter apart from the password attempts' (throttle.SecondFactorLogin).
func throttleKey(subject string) string { return throttle.SecondFactorLogin(subject) }

// throttle reserves a second-factor attempt; an error wrapping throttle.ErrUnavailable refuses
// it too (the counters cannot be reached: fail closed).
func (s *Service) throttle(ctx context.Context, subject, ip string) error {
	_, retryAfter, err := s.Throttle.Check(ctx, throttleKey(subject), ip)
	if err != nil {
		return fmt.Errorf("mfa: %w", err)
	}
	if retryAfter > 0 {
		return &ThrottledError{RetryAfter: retryAfter}
	}
	return nil
}

// succeed and release take a reservation back; one the counters could not take back stays
// counted (the safe side).
func (s *Service) succeed(ctx context.Context, subject, ip string) {
	_ = s.Throttle.Succeed(ctx, throttleKey(subject), ip)
}
func (s *Service) release(ctx context.Context, subject, ip string) {
	_ = s.Throttle.Release(ctx, throttleKey(subject), ip)
}

func (s *Service) failed(ctx context.Context, subject, ip, detail string) {
	s.Audit(ctx, &store.AuditEvent{Event: "mfa.failure", Subject: subject, IP: ip, Detail: detail})
}
