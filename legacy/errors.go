package legacy

import (
	"errors"
	"fmt"
)

// Sign-in failures. Directories return these (possibly wrapped); callers test with errors.Is.
// The login page shows ErrBadCredentials' message for every failure whose password was not
// verified, so that it never reveals whether a login exists.
var (
	ErrBadCredentials  = errors.New("legacy: unknown login or wrong password")
	ErrDisabled        = errors.New("legacy: account is disabled")
	ErrLockedOut       = errors.New("legacy: account is locked out")
	ErrNotApproved     = errors.New("legacy: account is not approved")
	ErrAccountExpired  = errors.New("legacy: account is not in its effective period")
	ErrPasswordExpired = errors.New("legacy: password has expired")
	ErrNotMember       = errors.New("legacy: contact is no longer a member (deleted)")
	// ErrUnsupportedHash means the stored password uses a format we cannot verify
	// (ASP.NET format 2, or unknown): we fail closed.
	ErrUnsupportedHash = errors.New("legacy: password format cannot be verified")
	// ErrNotFound is returned by lookups for an unknown login, key or member id.
	ErrNotFound = errors.New("legacy: member not found")
	// ErrUnavailable wraps every infrastructure failure: the AMS could not be asked.
	ErrUnavailable = errors.New("legacy: membership system unavailable")
	// ErrContract is wrapped, inside ErrUnavailable, when an answer breaks the directory's
	// contract (a required column missing or of the wrong kind, two rows for one key or
	// member id). It is not the AMS away: retrying the same member gets the same answer, so a
	// walk over members (shadow reconcile) counts that member as failed and goes on, where it
	// waits for an outage to end.
	ErrContract = errors.New("legacy: directory answer breaks the column contract")
	// ErrLocked is wrapped, inside ErrUnavailable, when a read gave up waiting for locks the
	// AMS holds on the rows it reads (SQL Server error 1222 after SET LOCK_TIMEOUT: an AMS
	// transaction is saving that member). The AMS answers: a walk over members (shadow poll,
	// reconcile) treats it as that member's read left unconfirmed, retried later, not as the
	// AMS away for everyone (review s27 R5-1).
	ErrLocked = errors.New("legacy: the rows read are locked by an AMS transaction")
	// ErrNoClock is a ClockReader's answer when it has no clock to read (a wrapper over a
	// directory without one, a configuration without the query): the caller does without.
	ErrNoClock = errors.New("legacy: the directory cannot read the AMS's clock")
)

// Unavailable wraps cause so that errors.Is(err, ErrUnavailable) holds and the cause is kept
// for the log.
func Unavailable(op string, cause error) error {
	return &unavailableError{op: op, cause: cause}
}

type unavailableError struct {
	op    string
	cause error
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%s: %s: %v", ErrUnavailable.Error(), e.op, e.cause)
}

func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }
func (e *unavailableError) Unwrap() error        { return e.cause }

// Reason returns a short, stable, machine-readable name for a sign-in failure, for the audit
// log and metrics ("bad_credentials", "disabled", ...). Unknown errors give "error".
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	if err == nil {
		return "ok"
	}
	return "error"
}

var reasons = []struct {
	err  error
	name string
}{
	{ErrBadCredentials, "bad_credentials"},
	{ErrDisabled, "disabled"},
	{ErrLockedOut, "locked_out"},
	{ErrNotApproved, "not_approved"},
	{ErrAccountExpired, "account_expired"},
	{ErrPasswordExpired, "password_expired"},
	{ErrNotMember, "not_member"},
	{ErrUnsupportedHash, "unsupported_hash"},
	{ErrNotFound, "not_found"},
	{ErrUnavailable, "ams_unavailable"},
}
