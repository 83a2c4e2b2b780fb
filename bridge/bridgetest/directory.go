package bridgetest

import (
	"cmp"
	"context"
	"crypto/subtle"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// Directory is an in-memory legacy.Directory for tests. It passes the same conformance suite
// as the real directories (legacy/directorytest): every lookup returns the member's roles,
// unknown logins and wrong passwords cost the same comparison, status is checked only after
// the right password (the lockout whatever the password: legacy.Standing.BeforePassword),
// ChangedSince orders by change time then key, ListMembers pages by key.
type Directory struct {
	mu        sync.Mutex
	members   map[string]*legacy.Member // by lower-case login
	passwords map[string]string
	// Down makes every call fail with legacy.ErrUnavailable.
	Down bool
	// Comparisons counts password comparisons (the work Authenticate does).
	Comparisons atomic.Int64
	// Clock is the AMS's clock (Update's change times, DatabaseNow); time.Now if nil.
	Clock func() time.Time
}

var _ legacy.Directory = (*Directory)(nil)

// NewDirectory returns a directory with alice (active member), bob (staff) and locked.
func NewDirectory() *Directory {
	d := &Directory{members: map[string]*legacy.Member{}, passwords: map[string]string{}}
	now := time.Now()
	d.Add(&legacy.Member{Key: "11111111-1111-1111-1111-111111111111", MemberID: "1001", Login: "alice", Email: "alice@example.org",
		GivenName: "Alice", FamilyName: "Archer", FullName: "Alice Archer", MemberType: "REG", MemberRecord: true, Status: "A",
		MemberStatus: "R", PaidThrough: now.AddDate(0, 6, 0), JoinDate: now.AddDate(-3, 0, 0), Roles: []string{"Member"},
		Standing: legacy.Standing{Approved: true}}, "alice-password")
	d.Add(&legacy.Member{Key: "22222222-2222-2222-2222-222222222222", MemberID: "1002", Login: "bob", Email: "bob@example.org",
		FullName: "Bob Staff", MemberType: "STAFF", Status: "A", Roles: []string{"SysAdmin", "Staff"}, Staff: true,
		Standing: legacy.Standing{Approved: true}}, "bob-password")
	d.Add(&legacy.Member{Key: "33333333-3333-3333-3333-333333333333", MemberID: "1003", Login: "locked", FullName: "Locked Out",
		Standing: legacy.Standing{Approved: true, LockedOut: true}}, "locked-password")
	return d
}

// normalize fills Roles and Grants consistently (a member given only Roles gets grants from
// the user_roles source).
func normalize(m *legacy.Member) {
	if m.Grants == nil {
		g := make([]legacy.Grant, 0, len(m.Roles))
		for _, r := range m.Roles {
			g = append(g, legacy.Grant{Role: r, Source: legacy.RoleSourceUserRoles})
		}
		m.Grants = g
	}
	m.SetGrants(m.Grants)
}

// Add inserts or replaces a member with a password.
func (d *Directory) Add(m *legacy.Member, password string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := clone(m)
	normalize(c)
	d.members[strings.ToLower(m.Login)] = c
	d.passwords[strings.ToLower(m.Login)] = password
}

// Update changes a member in place and sets its change time to now.
func (d *Directory) Update(login string, f func(m *legacy.Member)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := clone(d.members[strings.ToLower(login)])
	rolesBefore := slices.Clone(m.Roles)
	f(m)
	if !slices.Equal(rolesBefore, m.Roles) {
		m.Grants = nil // roles set directly: grants follow them
	}
	normalize(m)
	m.UpdatedAt = d.now()
	d.members[strings.ToLower(login)] = m
}

// Touch sets a member's change time (for change-polling tests).
func (d *Directory) Touch(login string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := clone(d.members[strings.ToLower(login)])
	m.UpdatedAt = at
	d.members[strings.ToLower(login)] = m
}

// Remove deletes a member (as a deleted contact: no lookup finds it any more).
func (d *Directory) Remove(login string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.members, strings.ToLower(login))
	delete(d.passwords, strings.ToLower(login))
}

func clone(m *legacy.Member) *legacy.Member {
	c := *m
	c.Roles = slices.Clone(m.Roles)
	c.Grants = slices.Clone(m.Grants)
	c.Extra = maps.Clone(m.Extra)
	return &c
}

// dummyPassword is compared against when the login is unknown, so that an unknown login does
// the same work as a wrong password.
const dummyPassword = "\x00bridgetest-dummy-password"

func (d *Directory) Authenticate(_ context.Context, login, password string) (*legacy.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, legacy.Unavailable("authenticate", context.DeadlineExceeded)
	}
	m, ok := d.members[strings.ToLower(strings.TrimSpace(login))]
	want, known := d.passwords[strings.ToLower(strings.TrimSpace(login))]
	if !known {
		want = dummyPassword
	}
	d.Comparisons.Add(1)
	match := subtle.ConstantTimeCompare([]byte(want), []byte(password)) == 1
	if ok && known {
		if err := m.Standing.BeforePassword(); err != nil { // locked out: whatever the password
			return nil, err
		}
	}
	if !ok || !known || !match {
		return nil, legacy.ErrBadCredentials
	}
	if err := m.Standing.Check(time.Now(), 0); err != nil {
		return nil, err
	}
	return clone(m), nil
}

func (d *Directory) find(f func(*legacy.Member) bool) (*legacy.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, legacy.Unavailable("lookup", context.DeadlineExceeded)
	}
	for _, m := range d.members {
		if f(m) {
			return clone(m), nil
		}
	}
	return nil, legacy.ErrNotFound
}

func (d *Directory) MemberByLogin(_ context.Context, login string) (*legacy.Member, error) {
	login = strings.TrimSpace(login)
	return d.find(func(m *legacy.Member) bool { return strings.EqualFold(m.Login, login) })
}
func (d *Directory) MemberByKey(_ context.Context, key string) (*legacy.Member, error) {
	key = strings.Trim(strings.TrimSpace(key), "{}")
	return d.find(func(m *legacy.Member) bool { return strings.EqualFold(m.Key, key) })
}
func (d *Directory) MemberByID(_ context.Context, id string) (*legacy.Member, error) {
	id = strings.TrimSpace(id)
	return d.find(func(m *legacy.Member) bool { return m.MemberID == id })
}
func (d *Directory) Roles(ctx context.Context, key string) ([]string, error) {
	m, err := d.MemberByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return m.Roles, nil
}

// Grants returns the member's roles with their sources.
func (d *Directory) Grants(ctx context.Context, key string) ([]legacy.Grant, error) {
	m, err := d.MemberByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return m.Grants, nil
}

// ChangedSince returns the members changed after since, by change time then key, at most
// limit; members sharing the last change time of a full page are left for the next call.
func (d *Directory) ChangedSince(_ context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, since, legacy.Unavailable("changed since", context.DeadlineExceeded)
	}
	var out []*legacy.Member
	for _, m := range d.members {
		if m.UpdatedAt.After(since) {
			out = append(out, clone(m))
		}
	}
	slices.SortFunc(out, func(a, b *legacy.Member) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), strings.Compare(strings.ToUpper(a.Key), strings.ToUpper(b.Key)))
	})
	if limit > 0 && len(out) > limit {
		last := out[limit-1].UpdatedAt
		cut := limit
		if out[limit].UpdatedAt.Equal(last) {
			for cut > 0 && out[cut-1].UpdatedAt.Equal(last) {
				cut--
			}
			if cut == 0 { // the whole page shares one time: return the whole group
				cut = limit
				for cut < len(out) && out[cut].UpdatedAt.Equal(last) {
					cut++
				}
			}
		}
		out = out[:cut]
	}
	next := since
	for _, m := range out {
		if m.UpdatedAt.After(next) {
			next = m.UpdatedAt
		}
	}
	return out, next, nil
}

// ListMembers pages over the members by key (canonical upper-case text).
func (d *Directory) ListMembers(_ context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, legacy.Unavailable("list members", context.DeadlineExceeded)
	}
	after := strings.ToUpper(strings.TrimSpace(afterKey))
	var out []*legacy.Member
	for _, m := range d.members {
		if k := strings.ToUpper(m.Key); k > after && !m.Standing.Deleted {
			out = append(out, clone(m))
		}
	}
	slices.SortFunc(out, func(a, b *legacy.Member) int { return strings.Compare(strings.ToUpper(a.Key), strings.ToUpper(b.Key)) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

var _ legacy.ClockReader = (*Directory)(nil)

// DatabaseNow reads the AMS's clock (Clock), the clock Update stamps changes with.
func (d *Directory) DatabaseNow(context.Context) (time.Time, error) {
	if d.Down {
		return time.Time{}, legacy.Unavailable("clock", context.DeadlineExceeded)
	}
	return d.now(), nil
}

func (d *Directory) now() time.Time {
	if d.Clock != nil {
		return d.Clock()
	}
	return time.Now()
}

func (d *Directory) Ping(context.Context) error {
	if d.Down {
		return legacy.Unavailable("ping", context.DeadlineExceeded)
	}
	return nil
}

var _ legacy.EmailFinder = (*Directory)(nil)

// MembersByEmail finds the members with an e-mail address, case-insensitively (deleted
// contacts excluded), ordered by key.
func (d *Directory) MembersByEmail(_ context.Context, email string, limit int) ([]*legacy.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, legacy.Unavailable("members by email", context.DeadlineExceeded)
	}
	email = strings.TrimSpace(email)
	out := []*legacy.Member{}
	if email == "" {
		return out, nil
	}
	for _, m := range d.members {
		if strings.EqualFold(strings.TrimSpace(m.Email), email) && !m.Standing.Deleted {
			out = append(out, clone(m))
		}
	}
	slices.SortFunc(out, func(a, b *legacy.Member) int { return strings.Compare(strings.ToUpper(a.Key), strings.ToUpper(b.Key)) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
