// Package bridgetest has test helpers for the bridge: an in-memory member directory and a
// scripted browser. It is imported only by tests.
package bridgetest

import (
	"context"
	"crypto/subtle"
	"strings"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// Directory is an in-memory legacy.Directory for tests.
type Directory struct {
	mu        sync.Mutex
	members   map[string]*legacy.Member // by lower-case login
	passwords map[string]string
	// Down makes every call fail with legacy.ErrUnavailable.
	Down bool
}

// NewDirectory returns a directory with alice (active member), bob (staff) and locked.
func NewDirectory() *Directory {
	d := &Directory{members: map[string]*legacy.Member{}, passwords: map[string]string{}}
	now := time.Now()
	d.Add(&legacy.Member{Key: "11111111-1111-1111-1111-111111111111", MemberID: "1001", Login: "alice", Email: "alice@example.org",
		GivenName: "Alice", FamilyName: "Archer", FullName: "Alice Archer", MemberType: "REG", Status: "A",
		PaidThrough: now.AddDate(0, 6, 0), JoinDate: now.AddDate(-3, 0, 0), Roles: []string{"Member"},
		Standing: legacy.Standing{Approved: true}}, "alice-password")
	d.Add(&legacy.Member{Key: "22222222-2222-2222-2222-222222222222", MemberID: "1002", Login: "bob", Email: "bob@example.org",
		FullName: "Bob Staff", MemberType: "STAFF", Status: "A", Roles: []string{"SysAdmin", "Staff"},
		Standing: legacy.Standing{Approved: true}}, "bob-password")
	d.Add(&legacy.Member{Key: "33333333-3333-3333-3333-333333333333", MemberID: "1003", Login: "locked", FullName: "Locked Out",
		Standing: legacy.Standing{Approved: true, LockedOut: true}}, "locked-password")
	return d
}

// Add inserts or replaces a member with a password.
func (d *Directory) Add(m *legacy.Member, password string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.members[strings.ToLower(m.Login)] = m
	d.passwords[strings.ToLower(m.Login)] = password
}

// Update changes a member in place.
func (d *Directory) Update(login string, f func(m *legacy.Member)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := *d.members[strings.ToLower(login)]
	f(&m)
	m.UpdatedAt = time.Now()
	d.members[strings.ToLower(login)] = &m
}

func (d *Directory) Authenticate(_ context.Context, login, password string) (*legacy.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, legacy.Unavailable("authenticate", context.DeadlineExceeded)
	}
	m, ok := d.members[strings.ToLower(login)]
	want := d.passwords[strings.ToLower(login)]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(password)) != 1 {
		return nil, legacy.ErrBadCredentials
	}
	if err := m.Standing.Check(time.Now(), 0); err != nil {
		return nil, err
	}
	c := *m
	return &c, nil
}

func (d *Directory) find(f func(*legacy.Member) bool) (*legacy.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.Down {
		return nil, legacy.Unavailable("lookup", context.DeadlineExceeded)
	}
	for _, m := range d.members {
		if f(m) {
			c := *m
			return &c, nil
		}
	}
	return nil, legacy.ErrNotFound
}

func (d *Directory) MemberByLogin(_ context.Context, login string) (*legacy.Member, error) {
	return d.find(func(m *legacy.Member) bool { return strings.EqualFold(m.Login, login) })
}
func (d *Directory) MemberByKey(_ context.Context, key string) (*legacy.Member, error) {
	return d.find(func(m *legacy.Member) bool { return strings.EqualFold(m.Key, key) })
}
func (d *Directory) MemberByID(_ context.Context, id string) (*legacy.Member, error) {
	return d.find(func(m *legacy.Member) bool { return m.MemberID == id })
}
func (d *Directory) Roles(ctx context.Context, key string) ([]string, error) {
	m, err := d.MemberByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	return m.Roles, nil
}
func (d *Directory) ChangedSince(_ context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*legacy.Member
	next := since
	for _, m := range d.members {
		if m.UpdatedAt.After(since) {
			c := *m
			out = append(out, &c)
			if m.UpdatedAt.After(next) {
				next = m.UpdatedAt
			}
		}
	}
	return out, next, nil
}
func (d *Directory) Ping(context.Context) error {
	if d.Down {
		return legacy.Unavailable("ping", context.DeadlineExceeded)
	}
	return nil
}
