package demo_test

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

var ctx = context.Background()

func TestLogins(t *testing.T) {
	keys, logins := map[string]bool{}, map[string]bool{}
	for _, l := range demo.Logins() {
		if l.Login == "" || l.Password == "" || l.Description == "" || l.Outcome == "" || l.Key == "" {
			t.Errorf("incomplete demo login %+v", l)
		}
		if _, err := sqldir.ParseGUID(l.Key); err != nil {
			t.Errorf("%s: key %q: %v", l.Login, l.Key, err)
		}
		if keys[l.Key] || logins[l.Login] {
			t.Errorf("duplicate %s", l.Login)
		}
		keys[l.Key], logins[l.Login] = true, true
	}
	if !logins["alice"] || !logins["staff"] || !logins["larry"] || !logins["zoë"] {
		t.Fatalf("missing documented logins: %v", logins)
	}
	// A fresh slice every time.
	a := demo.Logins()
	a[0].Password = "changed"
	if demo.Logins()[0].Password == "changed" {
		t.Fatal("Logins returns shared state")
	}
}

func TestFileDatabaseIsReseededAtOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.db")
	d, db, err := demo.OpenDirectory(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.SetLockedOut(ctx, db, "alice", true); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); !errors.Is(err, legacy.ErrLockedOut) {
		t.Fatalf("after SetLockedOut: %v", err)
	}
	d.Close()
	d, _, err = demo.OpenDirectory(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
	if _, err := demo.Open(ctx, "bad?path"); err == nil {
		t.Fatal("path with '?' accepted")
	}
}

func TestHelpers(t *testing.T) {
	d, db, err := demo.OpenDirectory(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before, err := d.MemberByLogin(ctx, "sam")
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		apply func() error
		check func(*legacy.Member) bool
	}{
		{"SetEmail", func() error { return demo.SetEmail(ctx, db, "sam", "sam@new.example") }, func(m *legacy.Member) bool { return m.Email == "sam@new.example" }},
		{"SetDisabled", func() error { return demo.SetDisabled(ctx, db, "sam", true) }, func(m *legacy.Member) bool { return m.Standing.Disabled }},
		{"SetDisabled false", func() error { return demo.SetDisabled(ctx, db, "sam", false) }, func(m *legacy.Member) bool { return !m.Standing.Disabled }},
		{"SetPaidThrough zero", func() error { return demo.SetPaidThrough(ctx, db, "sam", time.Time{}) }, func(m *legacy.Member) bool { return m.PaidThrough.IsZero() }},
		{"SetPassword", func() error { return demo.SetPassword(ctx, db, "sam", "new-secret-1") }, func(m *legacy.Member) bool { return true }},
		{"Touch", func() error { return demo.Touch(ctx, db, "SAM") }, func(m *legacy.Member) bool { return true }},
		{"SetRoles none", func() error { return demo.SetRoles(ctx, db, "sam") }, func(m *legacy.Member) bool { return true }},
	}
	last := before.UpdatedAt
	for _, s := range steps {
		if err := s.apply(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		m, err := d.MemberByLogin(ctx, "sam")
		if err != nil {
			t.Fatal(err)
		}
		if !s.check(m) {
			t.Errorf("%s not applied: %+v", s.name, m)
		}
		if !m.UpdatedAt.After(last) {
			t.Errorf("%s did not bump the change time (%v, before %v)", s.name, m.UpdatedAt, last)
		}
		last = m.UpdatedAt
	}
	if _, err := d.Authenticate(ctx, "sam", "new-secret-1"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := d.Authenticate(ctx, "sam", "sam-demo-1"); !errors.Is(err, legacy.ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
	userRoles := func() []string {
		g, err := d.Grants(ctx, before.Key)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range g {
			if x.Source == legacy.RoleSourceUserRoles {
				out = append(out, x.Role)
			}
		}
		return out
	}
	if r := userRoles(); len(r) != 0 {
		t.Fatalf("user roles after SetRoles(): %v", r)
	}
	if err := demo.SetRoles(ctx, db, "sam", "Brand New Role", "Member"); err != nil {
		t.Fatal(err)
	}
	if r := userRoles(); !slices.Equal(r, []string{"Brand New Role", "Member"}) {
		t.Fatalf("roles = %v", r)
	}
}
