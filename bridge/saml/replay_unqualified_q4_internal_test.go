package saml

import (
	"context"
	"errors"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/sso"
)

// messageIDs is a Store holding message ids only, as the stores do (UseSAMLMessageID: an id is
// used while its expiry is after now), and recording each call.
type messageIDs struct {
	Store
	now   time.Time
	until map[string]time.Time
	calls []string
}

func (m *messageIDs) UseSAMLMessageID(_ context.Context, key string, expires time.Time) error {
	m.calls = append(m.calls, key)
	if u, ok := m.until[key]; ok && u.After(m.now) {
		return sso.ErrConflict
	}
	m.until[key] = expires
	return nil
}

// TestUnqualifiedLogoutKeys (session 22's leftover of dc23729): while the look-up is on, a
// LogoutRequest's id is refused when it is recorded under the library's key, as a version before
// session 22 recorded it, and recorded per SP otherwise, with nothing live left under the
// library's key (another SP's request with the same id is answered); when it is off, the
// library's key is not looked at. When it is on: TestUnqualifiedWindow.
func TestUnqualifiedLogoutKeys(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	request := func(sp, id string) *crewjam.IdpLogoutRequest {
		return &crewjam.IdpLogoutRequest{Request: crewjam.LogoutRequest{ID: id, Issuer: &crewjam.Issuer{Value: sp}}}
	}
	consume := func(st *messageIDs, unqualified bool, sp, id string) error {
		r := replayCache{ctx: t.Context(), store: st, logout: request(sp, id), unqualified: func() bool { return unqualified }}
		return r.Consume(logoutReplayPrefix+id, t0.Add(4*time.Minute))
	}
	st := &messageIDs{now: t0, until: map[string]time.Time{logoutReplayPrefix + "old": t0.Add(3 * time.Minute)}}
	if err := consume(st, true, "https://lms", "old"); !errors.Is(err, crewjam.ErrAssertionReplayed) {
		t.Errorf("an id recorded under the library's key, in the window: %v, want refused as replayed", err)
	}
	if _, ok := st.until[logoutReplayPrefix+"https://lms old"]; ok {
		t.Error("the refused id was recorded per SP")
	}
	if err := consume(st, false, "https://lms", "old"); err != nil {
		t.Errorf("an id recorded under the library's key, after the window: %v, want it accepted", err)
	}
	for _, sp := range []string{"https://lms", "https://events"} {
		if err := consume(st, true, sp, "new"); err != nil {
			t.Errorf("%s's new id, in the window: %v, want it accepted", sp, err)
		}
	}
	if err := consume(st, true, "https://lms", "new"); !errors.Is(err, crewjam.ErrAssertionReplayed) {
		t.Errorf("lms's new id again: %v, want refused as replayed", err)
	}
	if u := st.until[logoutReplayPrefix+"new"]; u.After(t0) {
		t.Errorf("the look-up left the library's key live until %v", u)
	}
	if got := st.until[logoutReplayPrefix+"https://events new"]; !got.Equal(t0.Add(4 * time.Minute)) {
		t.Errorf("events' id recorded until %v, want the request's expiry", got)
	}
}
