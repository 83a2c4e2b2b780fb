package authflow

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/sso"
)

// TestSignInMemberAsksTheAMS (review s4): a new sign-in without a password sees the AMS as it
// is now, while a session's re-check may use the profile cache.
func TestSignInMemberAsksTheAMS(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ams := bridgetest.NewDirectory()
	alice, err := ams.MemberByLogin(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	subjects := identity.NewSubjectMapper(make([]byte, 32), st)
	sub, err := subjects.Remember(ctx, alice.Key, alice.Login, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{Directory: cache.Wrap(ams, cache.Options{TTL: time.Hour}), Subjects: subjects,
		Access: access.New(nil, nil, nil), Now: time.Now}
	if _, err := h.Member(ctx, &sso.Session{Subject: sub}); err != nil { // cached as active
		t.Fatal(err)
	}
	ams.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	if _, err := h.SignInMember(ctx, sub); !errors.Is(err, sso.ErrAccessDenied) || !errors.Is(err, legacy.ErrDisabled) {
		t.Fatalf("a member disabled in the AMS signs in: %v", err)
	}
	if _, err := h.Member(ctx, &sso.Session{Subject: sub}); !errors.Is(err, legacy.ErrDisabled) {
		t.Fatalf("the cache was not refreshed by the sign-in's read: %v", err)
	}
}
