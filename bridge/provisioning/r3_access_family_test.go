package provisioning_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// spoilOnce answers the change scan's first read of one key as a read of a contact mid-save
// (disabled); every later read is the committed row.
type spoilOnce struct {
	*listing
	mu    sync.Mutex
	key   string
	dirty int
}

func (s *spoilOnce) ChangedSince(ctx context.Context, since time.Time, limit int) ([]*legacy.Member, time.Time, error) {
	ms, next, err := s.listing.ChangedSince(ctx, since, limit)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range ms {
		if m.Key == s.key && s.dirty > 0 {
			s.dirty--
			m.Standing.Disabled = true
		}
	}
	return ms, next, err
}

// TestR3AccessOnlyGrantNotEndedOnOneRead (review s26 R3-2): confirmRefusal's "nothing to lose"
// shortcut (anythingToEnd) looks at active shadow users, live sessions and live refresh tokens
// only. A member whose session is over but who still holds a live access token (a grant without
// a refresh token: a client without offline_access) is deactivated on the one read, and the
// deactivation revokes every family of the subject, so that access token stops working
// (sso's family check) on a read the second read would have contradicted: Y-7's harm, through
// the shortcut. Bob here: signed in, never provisioned, no session, an access-only grant at
// "events"; one dirty read of him by the change scan.
func TestR3AccessOnlyGrantNotEndedOnOneRead(t *testing.T) {
	r := newReconcileFixture(t)
	ams := &spoilOnce{listing: r.list, key: "22222222-2222-2222-2222-222222222222", dirty: 1}
	r.opts.Directory = ams
	r.start()
	ctx := t.Context()
	h := &ssotest.H{T: t, S: r.st, Ctx: ctx, Now: ssotest.Now()}
	fam := h.NewAccessFamily()
	fam.Subject, fam.ClientID = "sub-bob", "events"
	fam.ExpiresAt = time.Now().Add(time.Hour)
	if err := r.st.IssueTokens(ctx, sso.Issue{Family: fam}); err != nil {
		t.Fatal(err)
	}
	r.dir.Touch("bob", time.Now())
	_, _ = r.svc.Poll(ctx)
	if h.Revoked(fam.FamilyID) {
		t.Fatal("bob's live access token (a grant without a refresh token) revoked on one read of the AMS that the next read contradicts")
	}
}
