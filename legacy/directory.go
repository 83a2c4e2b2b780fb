package legacy

import (
	"context"
	"time"
)

// Authenticator verifies a login and password against the AMS. On success it returns the
// member with roles filled in. On failure it returns one of the typed errors of this package:
// ErrBadCredentials when the login is unknown or the password is wrong (indistinguishable, and
// taking the same time), a status failure (ErrDisabled, ...) only after the password verified,
// ErrUnsupportedHash, or an error wrapping ErrUnavailable.
type Authenticator interface {
	Authenticate(ctx context.Context, login, password string) (*Member, error)
}

// MemberLookup finds members without a password. Lookups return ErrNotFound for unknown
// members; the Member's Standing tells whether they may sign in. Like every method that
// returns a member, they fill Roles and Grants (the claims path reads roles from them).
type MemberLookup interface {
	MemberByLogin(ctx context.Context, login string) (*Member, error)
	MemberByKey(ctx context.Context, key string) (*Member, error)
	MemberByID(ctx context.Context, memberID string) (*Member, error)
}

// RoleLister lists the role names of a member by contact key.
type RoleLister interface {
	Roles(ctx context.Context, key string) ([]string, error)
}

// ChangeLister lists members changed after a watermark, oldest first (ties in a stable order),
// at most limit of them, each with roles filled in. Watermarks are instants (compare them in
// UTC); the returned one is the value to pass next time (the input when nothing changed).
// Members that share the last change time of a full page are all returned or all left for
// the next call, so a "later than" watermark never skips one. Changes that leave no
// timestamp in the AMS are found by the reconcile (MemberLister), not here. A changed key the
// AMS no longer knows as a sign-in capable member (a deleted contact) may be returned as a
// Member with only Key, UpdatedAt, empty Roles and Standing.Deleted set: the caller confirms it
// by key (MemberByKey answers ErrNotFound) before acting on it; a cache must not keep it.
type ChangeLister interface {
	ChangedSince(ctx context.Context, since time.Time, limit int) (members []*Member, next time.Time, err error)
}

// ClockReader is a directory that can read the AMS database's own clock (an optional
// capability, found by type assertion). The change poller bounds its watermark by it (review
// s27 R5-4): a change the AMS stamps now may commit later, so the watermark must stay behind
// the AMS's "now", whatever the bridge's clock says; and the change times it reads come from
// several clocks (iMIS: the database server's UpdatedOn, the web server's aspnet dates, the
// application's Name.LAST_UPDATED), so only the database's own clock tells it where "now" is.
type ClockReader interface {
	// DatabaseNow returns the AMS database's clock now, as an instant in the frame of
	// ChangedSince's change times (the frame a change the AMS stamps now is read back in).
	// Errors: ErrNoClock when the directory cannot read one (a wrapper over a directory without
	// a clock, a configuration without the query), or one wrapping ErrUnavailable.
	DatabaseNow(ctx context.Context) (time.Time, error)
}

// MemberLister pages over every live member of the AMS in ascending Key order, for the
// periodic reconcile: it returns at most limit members whose Key sorts after afterKey (the
// empty string starts at the beginning), each with roles filled in, exactly as MemberByKey
// would return it. A contact that was deleted in the AMS (even when its login rows remain) is
// not listed. An empty result means the listing is complete.
type MemberLister interface {
	ListMembers(ctx context.Context, afterKey string, limit int) ([]*Member, error)
}

// Pinger checks that the AMS can be reached.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Directory is the whole member directory the bridge uses. Its contract, for every
// implementation (the SQL Server directory, the demo, the cache and every test fake), is
// checked by the conformance suite in legacy/directorytest.
type Directory interface {
	Authenticator
	MemberLookup
	RoleLister
	ChangeLister
	MemberLister
	Pinger
}

// EmailFinder is a directory that can find members by e-mail address, for linking an upstream
// identity whose provider vouches for its address (an optional capability, found by type
// assertion: a directory without it never links by e-mail).
type EmailFinder interface {
	// MembersByEmail returns the members (deleted contacts excluded) whose e-mail address is
	// email, compared case-insensitively after trimming, at most limit of them (all when
	// limit <= 0), ordered by Key, each with roles filled. No match is an empty result, not
	// ErrNotFound. A blank email matches nobody.
	MembersByEmail(ctx context.Context, email string, limit int) ([]*Member, error)
}
