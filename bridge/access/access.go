package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// AnyClient as Decide's clientID decides the member's standing only.
const AnyClient = ""

// Rule names the rule behind a Decision.
type Rule int

// The rules, in the order Decide applies them.
const (
	Allow          Rule = iota // no rule refused
	Standing                   // the AMS account may not sign in
	RequireCurrent             // the client requires a current membership
	AccessRule                 // the client's access rule does not admit the member
)

func (r Rule) String() string {
	switch r {
	case Allow:
		return "allow"
	case Standing:
		return "standing"
	case RequireCurrent:
		return "require_current"
	case AccessRule:
		return "access_rule"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// Reason codes of the client rules (a Standing refusal has legacy.Reason's code: locked_out...).
const (
	ReasonOK         = "ok"
	ReasonNotCurrent = "not_current"
	ReasonAccessRule = "access_rule"
	ReasonRuleError  = "access_rule_error"
)

// Decision is Decide's answer: allow (Rule Allow, Reason "ok"), or the rule that refused.
type Decision struct {
	Rule Rule
	// Reason is a short code for logs and audit rows: legacy.Reason's for Standing
	// (locked_out, disabled...), ReasonNotCurrent, ReasonAccessRule or ReasonRuleError.
	Reason string
	// Message tells the member, in plain words, why (empty when allowed).
	Message string
	// Cause is the standing's sentinel error (legacy.ErrLockedOut...), or for a Fault a
	// *RuleFaultError (the rule and a fixed class of its error, never the evaluation error's
	// text); nil otherwise.
	Cause error
}

// Allowed reports whether the member may go on.
func (d Decision) Allowed() bool { return d.Rule == Allow }

// Fault reports whether the decision refused because a rule could not be evaluated
// (ReasonRuleError): the refusal is the server's (the operator's rule), not the member's
// standing, and is answered as a server fault: no access, but nothing the member or the app
// holds is taken as refused (a refresh token stays, the sign-in page says "not now").
func (d Decision) Fault() bool { return d.Reason == ReasonRuleError }

// ErrRuleFault is Decision.Err's error for a rule that could not be evaluated (Fault): it
// does not wrap sso.ErrAccessDenied, so a refresh or device poll answers it as a server fault
// (5xx, the grant kept) instead of invalid_grant.
var ErrRuleFault = errors.New("access: the app's access rule could not be evaluated")

// RuleFaultError is a Fault's Cause: which rule could not be evaluated and a fixed class of
// the evaluation error (FaultClass). The evaluation error itself is not kept: cel-go's runtime
// errors quote the value they failed on (`invalid RFC 3339 timestamp "<the member's AMS
// value>"`, `no such key: <key>`), and this error's text goes to audit rows, logs and the
// provisioning outbox, which carry no member data beyond the subject (review s26 R2-3).
type RuleFaultError struct {
	Rule  string // the rule's configuration name: policies[<client>].access_rule
	Class string // FaultClass of the evaluation error
}

func (e *RuleFaultError) Error() string { return e.Rule + ": " + e.Class }

// Fault classes (FaultClass): fixed words naming the kind of evaluation error.
const (
	ClassNoSuchKey      = "no such key"
	ClassNoSuchField    = "no such field or attribute"
	ClassNoOverload     = "no matching overload"
	ClassConversion     = "type conversion error"
	ClassTimestamp      = "invalid timestamp or duration"
	ClassRange          = "index out of range"
	ClassArithmetic     = "arithmetic error (overflow, division by zero or NaN)"
	ClassNotBool        = "result is not a bool"
	ClassCost           = "evaluation cost or time limit exceeded"
	ClassOtherEvalError = "evaluation error"
)

// faultClasses maps a fragment of an evaluation error's text (cel-go's runtime errors, the
// policy engine's own) to its class; the first match wins.
var faultClasses = []struct{ fragment, class string }{
	{"no such key", ClassNoSuchKey},
	{"no such field", ClassNoSuchField},
	{"no such attribute", ClassNoSuchField},
	{"undeclared reference", ClassNoSuchField},
	{"no such overload", ClassNoOverload},
	{"no matching overload", ClassNoOverload},
	{"timestamp", ClassTimestamp},
	{"duration", ClassTimestamp},
	{"type conversion", ClassConversion},
	{"out of range", ClassRange},
	{"overflow", ClassArithmetic},
	{"divide by zero", ClassArithmetic},
	{"division by zero", ClassArithmetic},
	{"modulus by zero", ClassArithmetic},
	{"nan", ClassArithmetic},
	{"is not a bool", ClassNotBool},
	{"cost limit", ClassCost},
	{"interrupted", ClassCost},
	{"cancel", ClassCost},
	{"deadline", ClassCost},
}

// FaultClass names the kind of an access rule's evaluation error with fixed words (one of the
// Class constants), never with the error's own text (which may quote member data).
func FaultClass(err error) string {
	if err == nil {
		return ClassOtherEvalError
	}
	text := strings.ToLower(err.Error())
	for _, fc := range faultClasses {
		if strings.Contains(text, fc.fragment) {
			return fc.class
		}
	}
	return ClassOtherEvalError
}

// Err is nil when allowed; for a Fault an error wrapping ErrRuleFault, sso.ErrAccessRuleFault
// and Cause (not sso.ErrAccessDenied); else an error wrapping sso.ErrAccessDenied and Cause: errors.Is finds
// both (a standing's sentinel keeps its member message and reason code).
func (d Decision) Err() error {
	var detail string
	switch {
	case d.Rule == Allow:
		return nil
	case d.Fault():
		return &faultError{cause: d.Cause}
	}
	switch d.Rule {
	case Standing:
		detail = d.Reason
	case RequireCurrent:
		detail = "the app requires a current membership"
	default:
		detail = "the app's access rule does not admit this member"
	}
	return &deniedError{msg: sso.ErrAccessDenied.Error() + ": " + detail, cause: d.Cause}
}

// faultError is Decision.Err's error for a Fault: ErrRuleFault, and sso.ErrAccessRuleFault
// so that the token endpoint answers it as the rule's fault (server_error, the grant kept).
type faultError struct{ cause error }

func (e *faultError) Error() string {
	if e.cause == nil {
		return ErrRuleFault.Error()
	}
	return ErrRuleFault.Error() + ": " + e.cause.Error()
}

func (e *faultError) Unwrap() []error {
	if e.cause == nil {
		return []error{ErrRuleFault, sso.ErrAccessRuleFault}
	}
	return []error{ErrRuleFault, sso.ErrAccessRuleFault, e.cause}
}

// deniedError is Decision.Err's error.
type deniedError struct {
	msg   string
	cause error
}

func (e *deniedError) Error() string { return e.msg }

func (e *deniedError) Unwrap() []error {
	if e.cause == nil {
		return []error{sso.ErrAccessDenied}
	}
	return []error{sso.ErrAccessDenied, e.cause}
}

// Decider decides whether member m (whose subject is subject) may use client clientID at now.
type Decider interface {
	Decide(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) Decision
}

// Rules is the policy engine's part of the decision (*policy.Engine implements it).
type Rules interface {
	// Allowed evaluates the client's access rule (true for clients without one).
	Allowed(m *legacy.Member, subject, clientID string, now time.Time) (bool, error)
	// Membership is the member's standing under the association's rule.
	Membership(m *legacy.Member, subject, clientID string, now time.Time) legacy.Membership
}

// Checker is the Decider of the bridge.
type Checker struct {
	rules          Rules
	requireCurrent map[string]bool
	log            *slog.Logger
}

// New builds the Checker. rules nil: no access rules, and the built-in membership rule with no
// grace period (legacy.Member.IsCurrent). requireCurrent lists the clients whose provisioning
// target requires a current membership. log nil: slog.Default.
func New(rules Rules, requireCurrent []string, log *slog.Logger) *Checker {
	if log == nil {
		log = slog.Default()
	}
	rc := make(map[string]bool, len(requireCurrent))
	for _, id := range requireCurrent {
		rc[id] = true
	}
	return &Checker{rules: rules, requireCurrent: rc, log: log}
}

// Decide applies the rules in order (see the package documentation); the first that refuses
// decides. m must not be nil.
func (c *Checker) Decide(ctx context.Context, m *legacy.Member, subject, clientID string, now time.Time) Decision {
	if err := m.Standing.Check(now, 0); err != nil {
		return Decision{Rule: Standing, Reason: legacy.Reason(err), Message: StandingMessage(err), Cause: err}
	}
	if clientID == AnyClient {
		return Decision{Rule: Allow, Reason: ReasonOK}
	}
	if c.requireCurrent[clientID] && !c.current(m, subject, clientID, now) {
		return Decision{Rule: RequireCurrent, Reason: ReasonNotCurrent, Message: msgNotCurrent}
	}
	if c.rules == nil {
		return Decision{Rule: Allow, Reason: ReasonOK}
	}
	ok, err := c.rules.Allowed(m, subject, clientID, now)
	if err != nil {
		// The operator's fault, logged for the operator (the rule and the class of its error;
		// the member only by subject, never the error's text, which may quote the member's
		// values): refused, as a fault (Fault), never as the member's standing.
		fault := &RuleFaultError{Rule: "policies[" + clientID + "].access_rule", Class: FaultClass(err)}
		c.log.ErrorContext(ctx, "access rule failed to evaluate; access refused as a server fault", "client", clientID,
			"rule", fault.Rule, "subject", subject, "error_class", fault.Class)
		return Decision{Rule: AccessRule, Reason: ReasonRuleError, Message: msgRuleFault, Cause: fault}
	}
	if !ok {
		return Decision{Rule: AccessRule, Reason: ReasonAccessRule, Message: msgAccessRule}
	}
	return Decision{Rule: Allow, Reason: ReasonOK}
}

func (c *Checker) current(m *legacy.Member, subject, clientID string, now time.Time) bool {
	if c.rules == nil {
		return m.IsCurrent(now)
	}
	return c.rules.Membership(m, subject, clientID, now).Current()
}

// Member-facing messages of the client rules.
const (
	msgNotCurrent = "This app is only open to members whose membership is current, and yours is not at the moment. If you have just renewed, please contact the association."
	msgAccessRule = "This app is only open to members whose membership allows it, and yours does not at the moment. If you think this is wrong, please contact the association."
	msgRuleFault  = "This app cannot be opened right now because of a fault on our side. Please try again later; if it goes on, contact the association."
)

// StandingMessage is the member-facing sentence for a standing failure (legacy.ErrDisabled,
// ...), or "" when err is none of them. Show it only once the member proved who they are (a
// verified password, a session, the AMS's hand-off): it says the account exists.
func StandingMessage(err error) string {
	switch {
	case errors.Is(err, legacy.ErrDisabled):
		return "Your account is disabled. Please contact the association to have it enabled."
	case errors.Is(err, legacy.ErrLockedOut):
		return "Your account is locked after too many failed sign-ins. Please reset your password on the association's website or contact the association."
	case errors.Is(err, legacy.ErrNotApproved):
		return "Your account has not been approved yet. Please contact the association."
	case errors.Is(err, legacy.ErrAccountExpired):
		return "Your account is not active at the moment. Please contact the association."
	case errors.Is(err, legacy.ErrPasswordExpired):
		return "Your password has expired. Please change it on the association's website, then sign in again."
	case errors.Is(err, legacy.ErrNotMember):
		return "This account is no longer active. Please contact the association."
	}
	return ""
}
