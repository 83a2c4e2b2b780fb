package cache

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// fake is the directory the cache's tests wrap: members in memory, with the directory
// contract of legacy/directorytest (conformance_test.go runs it, and the cache over it, through
// the suite), and a count of the calls the cache makes. A sign-in follows the AMS's order: an
// unknown login, a locked-out or unapproved account and a wrong password each cost one password
// comparison (compares) and give one answer; the other standing failures come after the right
// password.
type fake struct {
	mu        sync.Mutex
	members   map[string]*legacy.Member // by key
	roles     map[string][]string
	passwords map[string]string // by key; a member without one has password
	password  string
	calls     map[string]int
	block     chan struct{} // when set, lookups wait on it
	// fail, when set, is every call's answer: the directory's backend is away (SetDown).
	fail     error
	compares atomic.Int64
}

// errFakeDown is why the fake's backend is away.
var errFakeDown = errors.New("fake: the backend is down")

// seeded is when the fake's members last changed, before any change a test makes.
var seeded = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)

func newFake() *fake {
	approved := legacy.Standing{Approved: true}
	return &fake{
		members: map[string]*legacy.Member{
			"K1": {Key: "K1", Login: "Alice", MemberID: "1001", FullName: "Alice A", Extra: map[string]string{"chapter": "N"},
				Standing: approved, UpdatedAt: seeded},
			"K2": {Key: "K2", Login: "zoë", MemberID: "1002", Standing: approved, UpdatedAt: seeded},
		},
		roles:     map[string][]string{"K1": {"Member"}, "K2": {}},
		passwords: map[string]string{},
		password:  "pw",
		calls:     map[string]int{},
	}
}

// add stores m (changed at seeded unless it says when) with its password and roles.
func (f *fake) add(m *legacy.Member, password string, roles ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = seeded
	}
	f.members[m.Key] = m
	f.passwords[m.Key] = password
	f.roles[m.Key] = append([]string{}, roles...)
}

func (f *fake) count(op string) {
	f.mu.Lock()
	f.calls[op]++
	f.mu.Unlock()
}

func (f *fake) n(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// down is the error every call answers while the backend is away (nil: it is not).
func (f *fake) down() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

// setDown makes the backend away (legacy.ErrUnavailable) or back.
func (f *fake) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = nil
	if down {
		f.fail = legacy.Unavailable("fake", errFakeDown)
	}
}

// touch sets the change time of the member with login.
func (f *fake) touch(login string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		if normLogin(m.Login) == normLogin(login) {
			m.UpdatedAt = at
		}
	}
}

// withRoles is a copy of m with its roles; f.mu is held.
func (f *fake) withRoles(m *legacy.Member) *legacy.Member {
	cp := *m
	cp.Extra = maps.Clone(m.Extra)
	cp.Roles = append([]string{}, f.roles[m.Key]...)
	return &cp
}

// find waits for block when it is set, as a directory that has not answered yet: until ctx
// ends (a fetch that follows one caller's cancellation fails then).
func (f *fake) find(ctx context.Context, pred func(*legacy.Member) bool) (*legacy.Member, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, legacy.Unavailable("fake", ctx.Err())
		}
	}
	if err := f.down(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.members {
		if pred(m) {
			return f.withRoles(m), nil
		}
	}
	return nil, legacy.ErrNotFound
}

func byLogin(login string) func(*legacy.Member) bool {
	nl := normLogin(login)
	return func(m *legacy.Member) bool { return normLogin(m.Login) == nl }
}

func byKey(key string) func(*legacy.Member) bool {
	k := normKey(key)
	return func(m *legacy.Member) bool { return normKey(m.Key) == k }
}

// compare is one password comparison (the unit of a sign-in's work).
func (f *fake) compare(stored, pw string) bool {
	f.compares.Add(1)
	return stored != "" && stored == pw
}

// authenticate is a sign-in in the AMS's order (legacy.Standing.BeforePassword, then the
// password, then legacy.Standing.Check).
func (f *fake) authenticate(ctx context.Context, login, pw string) (*legacy.Member, error) {
	m, err := f.find(ctx, byLogin(login))
	switch {
	case errors.Is(err, legacy.ErrNotFound):
		f.compare("", pw) // the work a known login costs
		return nil, legacy.ErrBadCredentials
	case err != nil:
		return nil, err
	}
	if err := m.Standing.BeforePassword(); err != nil {
		f.compare("", pw)
		return nil, err
	}
	f.mu.Lock()
	stored, ok := f.passwords[m.Key]
	if !ok {
		stored = f.password
	}
	f.mu.Unlock()
	if !f.compare(stored, pw) {
		return nil, legacy.ErrBadCredentials
	}
	if err := m.Standing.Check(time.Now(), 0); err != nil {
		return nil, err
	}
	return m, nil
}

func (f *fake) Authenticate(ctx context.Context, login, pw string) (*legacy.Member, error) {
	f.count("auth")
	return f.authenticate(ctx, login, pw)
}

func (f *fake) AuthenticateWithoutRoles(ctx context.Context, login, pw string) (*legacy.Member, error) {
	f.count("auth-noroles")
	m, err := f.authenticate(ctx, login, pw)
	if err != nil {
		return nil, err
	}
	m.Roles = nil
	return m, nil
}

func (f *fake) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	f.count("login")
	return f.find(ctx, byLogin(login))
}

func (f *fake) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	f.count("key")
	return f.find(ctx, byKey(key))
}

func (f *fake) MemberByID(ctx context.Context, id string) (*legacy.Member, error) {
	f.count("id")
	return f.find(ctx, func(m *legacy.Member) bool { return m.MemberID == id })
}

func (f *fake) Roles(ctx context.Context, key string) ([]string, error) {
	f.count("roles")
	if err := f.down(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.roles[normKeyOf(f.members, key)]...), nil
}

// normKeyOf is the stored spelling of key ("" when no member has it).
func normKeyOf(members map[string]*legacy.Member, key string) string {
	for k := range members {
		if normKey(k) == normKey(key) {
			return k
		}
	}
	return ""
}

// ChangedSince lists the members changed after since, oldest first (then by key), at most
// limit, without splitting a group that shares a change time: the page's trailing group is
// left for the next call, unless the whole page is one group, which is returned whole.
func (f *fake) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	f.count("changes")
	if err := f.down(); err != nil {
		return nil, since, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var changed []*legacy.Member
	for _, m := range f.members {
		if m.UpdatedAt.After(since) {
			changed = append(changed, f.withRoles(m))
		}
	}
	slices.SortFunc(changed, func(a, b *legacy.Member) int {
		return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(normKey(a.Key), normKey(b.Key)))
	})
	if len(changed) > limit {
		last := changed[limit-1].UpdatedAt
		end := limit
		if changed[limit].UpdatedAt.Equal(last) {
			for end > 0 && changed[end-1].UpdatedAt.Equal(last) {
				end--
			}
			if end == 0 { // the whole page is one group: all of it
				for end = limit; end < len(changed) && changed[end].UpdatedAt.Equal(last); end++ {
				}
			}
		}
		changed = changed[:end]
	}
	next := since
	for _, m := range changed {
		if m.UpdatedAt.After(next) {
			next = m.UpdatedAt
		}
	}
	return changed, next, nil
}

// ListMembers lists the members that are not deleted, by key, after the key after.
func (f *fake) ListMembers(ctx context.Context, after string, limit int) ([]*legacy.Member, error) {
	f.count("list")
	if err := f.down(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := []*legacy.Member{}
	for _, k := range slices.SortedFunc(maps.Keys(f.members), func(a, b string) int { return cmp.Compare(normKey(a), normKey(b)) }) {
		m := f.members[k]
		if normKey(k) > normKey(after) && !m.Standing.Deleted && len(out) < limit {
			out = append(out, f.withRoles(m))
		}
	}
	return out, nil
}

func (f *fake) Ping(ctx context.Context) error {
	f.count("ping")
	return f.down()
}

// plain is the fake without the RolelessAuthenticator method: the method below, of another
// signature, shadows the promoted one.
type plain struct{ *fake }

func (p plain) AuthenticateWithoutRoles() {}
