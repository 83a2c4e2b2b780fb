package provisioning_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// Review s26 V-2: the change poller's watermark is the latest change time the AMS answered,
// never bounded by the AMS's (or the bridge's) clock. One row stamped in the future moves it
// there, and every change stamped before that instant is then below the watermark: polling
// never sees it (only the next reconcile pass, and nothing with reconcile_interval: 0). iMIS
// stamps in application time, UTC plus a fixed SystemConfig offset that nobody updates at
// DST (imis-schema.md §5): an operator who corrects System.Database.TimeZoneOffset in the
// autumn turns the last hour's stamps into stamps up to an hour ahead; Name.LAST_UPDATED is
// written by application code in a time frame the scripts do not settle. Here one contact is
// stamped an hour ahead; alice is then disabled (stamped now): the next poll must end her
// session, as it does without the stamp ahead.
func TestV26PollWatermarkNotPastNow(t *testing.T) {
	f := newFixture(t, nil, clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	now := time.Now()
	if err := f.st.SetWatermark(ctx, provisioning.WatermarkName, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	f.dir.Add(&legacy.Member{Key: "AAAAAAAA-0000-0000-0000-0000000000A1", Login: "ahead", Roles: []string{"Member"},
		Standing: legacy.Standing{Approved: true}, UpdatedAt: now.Add(time.Hour)}, "pw")
	h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
	sess := h.CreateSession(aliceSub, "portal")
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true }) // stamped now
	if _, err := f.svc.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Session(ctx, sess.ID); !errors.Is(err, sso.ErrNotFound) {
		mark, _ := f.st.Watermark(ctx, provisioning.WatermarkName)
		t.Fatalf("alice, disabled now, kept her session after a poll (%v): the watermark is %s, an hour ahead of the clock",
			err, mark.Sub(time.Now()).Round(time.Minute))
	}
}
