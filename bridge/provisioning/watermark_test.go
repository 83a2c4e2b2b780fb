package provisioning_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// flakyRoles returns changed members without roles (as the SQL directory does) and fails the
// n-th Roles call once.
type flakyRoles struct {
	legacy.Directory
	calls, failAt atomic.Int32
}

func (f *flakyRoles) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := f.Directory.ChangedSince(ctx, since, limit)
	for _, m := range ms {
		m.Roles = nil
	}
	return ms, next, err
}

func (f *flakyRoles) Roles(ctx context.Context, key string) ([]string, error) {
	if f.calls.Add(1) == f.failAt.Load() {
		return nil, legacy.Unavailable("roles", errors.New("connection reset"))
	}
	return f.Directory.Roles(ctx, key)
}

// TestPollFailureDoesNotSkipTiedMembers: two members disabled at the same instant; the second
// one's sync fails once. The next poll must still handle it (the watermark never passes a
// member that was not synced), so both lose their sessions.
func TestPollFailureDoesNotSkipTiedMembers(t *testing.T) {
	f := newFixture(t, nil, clients{})
	ctx := t.Context()
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	for _, m := range []*legacy.Member{
		{Key: "AAAAAAAA-0000-0000-0000-000000000001", Login: "a1", Standing: legacy.Standing{Approved: true, Disabled: true}, UpdatedAt: at, Roles: []string{"Member"}},
		{Key: "AAAAAAAA-0000-0000-0000-000000000002", Login: "a2", Standing: legacy.Standing{Approved: true, Disabled: true}, UpdatedAt: at, Roles: []string{"Member"}},
	} {
		f.dir.Add(m, "pw")
		sub := "sub-" + m.Login
		if err := f.st.PutSubject(ctx, &store.Subject{Subject: sub, MemberKey: m.Key, Login: m.Login}); err != nil {
			t.Fatal(err)
		}
		if err := f.st.CreateSession(ctx, &sso.Session{ID: "sess-" + m.Login, Subject: sub, AuthTime: time.Now(), CreatedAt: time.Now(),
			LastSeen: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, at.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	dir := &flakyRoles{Directory: f.dir}
	dir.failAt.Store(2)
	f.opts.Directory = dir
	f.start()
	if _, err := f.svc.Poll(ctx); err == nil {
		t.Fatal("the injected failure did not surface")
	}
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatalf("second poll: %v", err)
	}
	for _, id := range []string{"sess-a1", "sess-a2"} {
		if _, err := f.st.Session(ctx, id); !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("session %s of a disabled member survived the polls: %v", id, err)
		}
	}
}
