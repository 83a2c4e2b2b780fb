package cache

import (
	"context"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// Fake is the cache tests' fake directory, for the conformance suite (conformance_test.go, an
// external test: legacy/directorytest imports this package).
type Fake struct{ f *fake }

// NewFake returns the fake with its two seeded members.
func NewFake() Fake { return Fake{newFake()} }

// Add stores a member with its password and roles.
func (x Fake) Add(m *legacy.Member, password string, roles ...string) { x.f.add(m, password, roles...) }

// Dir is the fake itself; Plain is it without AuthenticateWithoutRoles; Committed is it with a
// FreshMemberByKey of its own (as sqldir's committed read).
func (x Fake) Dir() legacy.Directory       { return x.f }
func (x Fake) Plain() legacy.Directory     { return plain{x.f} }
func (x Fake) Committed() legacy.Directory { return committedDir{x.f} }

// Compares is the password comparisons made so far; SetDown makes the backend away or back;
// Touch sets a member's change time.
func (x Fake) Compares() int64   { return x.f.compares.Load() }
func (x Fake) SetDown(down bool) { x.f.setDown(down) }
func (x Fake) Touch(_ context.Context, login string, at time.Time) error {
	x.f.touch(login, at)
	return nil
}
