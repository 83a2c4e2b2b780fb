package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// deviceTests run against stores that implement sso.DeviceStore (the device authorization
// grant is enabled only for those); others skip them.
var deviceTests = []test{
	{"CreateAndFind", testDeviceCreateAndFind},
	{"UserCodeUnique", testDeviceUserCodeUnique},
	{"Decide", testDeviceDecide},
	{"PollSlowDown", testDevicePollSlowDown},
	{"ConsumeOnce", testDeviceConsumeOnce},
	{"ConsumeConcurrently", testDeviceConsumeConcurrently},
	{"PollByAnotherClient", testDevicePollByAnotherClient},
	{"Expiry", testDeviceExpiry},
	{"Resources", testDeviceResources},
	{"IssueConsumes", testDeviceIssueConsumes},
	{"IssueConcurrently", testDeviceIssueConcurrently},
	{"IssueOfEndedSession", testDeviceIssueOfEndedSession},
	{"IssueRacesEnd", testDeviceIssueRacesEnd},
}

func deviceStore(t *testing.T, h *H) sso.DeviceStore {
	t.Helper()
	ds, ok := h.S.(sso.DeviceStore)
	if !ok {
		t.Skip("store does not implement sso.DeviceStore")
	}
	return ds
}

// NewDevice returns a pending device authorization created at now, valid for 10 minutes,
// with a 5 s interval and a random user code of 8 letters.
func NewDevice(now time.Time) *sso.DeviceAuthorization {
	return &sso.DeviceAuthorization{
		DeviceCodeHash: RandomID(), UserCode: userCode(), ClientID: "tv", Scopes: []string{"openid", "profile"},
		CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute), Interval: 5 * time.Second, State: sso.DevicePending,
	}
}

func userCode() string {
	const cs = "BCDFGHJKLMNPQRSTVWXZ"
	id := RandomID()
	b := make([]byte, 8)
	for i := range b {
		b[i] = cs[int(id[i])%len(cs)]
	}
	return string(b)
}

func testDeviceCreateAndFind(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "CreateDeviceAuthorization")
	got, err := ds.DeviceAuthorizationByUserCode(h.Ctx, d.UserCode)
	NoErr(t, err, "DeviceAuthorizationByUserCode")
	Equal(t, got, d, "device authorization round trip")
	_, err = ds.DeviceAuthorizationByUserCode(h.Ctx, "BBBBCCCC")
	IsErr(t, err, sso.ErrNotFound, "unknown user code")
	dup := NewDevice(h.Now)
	dup.DeviceCodeHash = d.DeviceCodeHash
	IsErr(t, ds.CreateDeviceAuthorization(h.Ctx, dup), sso.ErrConflict, "same device code hash")
}

func testDeviceUserCodeUnique(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	other := NewDevice(h.Now)
	other.UserCode = d.UserCode
	IsErr(t, ds.CreateDeviceAuthorization(h.Ctx, other), sso.ErrConflict, "live user code reused")

	// An expired authorization gives its user code up.
	old := NewDevice(h.Now.Add(-time.Hour))
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, old), "create expired")
	again := NewDevice(h.Now)
	again.UserCode = old.UserCode
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, again), "user code of an expired authorization")
	got, err := ds.DeviceAuthorizationByUserCode(h.Ctx, old.UserCode)
	NoErr(t, err, "find reused user code")
	if got.DeviceCodeHash != again.DeviceCodeHash {
		t.Fatalf("user code %s finds %s, want the new authorization", old.UserCode, got.DeviceCodeHash)
	}
}

func testDeviceDecide(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	c := sso.Completion{Subject: "sub-1", AuthTime: h.Now.Add(-time.Minute), AMR: []string{"pwd"}, SessionID: "sess-1"}
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, c, h.Now), "approve")
	IsErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, false, sso.Completion{}, h.Now), sso.ErrNotFound, "deny after approve")
	IsErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, c, h.Now), sso.ErrNotFound, "approve twice")
	got, err := ds.DeviceAuthorizationByUserCode(h.Ctx, d.UserCode)
	NoErr(t, err, "find")
	want := *d
	want.State, want.Subject, want.AuthTime, want.AMR, want.SessionID = sso.DeviceApproved, c.Subject, c.AuthTime, c.AMR, c.SessionID
	Equal(t, got, &want, "approved authorization")

	denied := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, denied), "create")
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, denied.UserCode, false, sso.Completion{}, h.Now), "deny")
	got, err = ds.DeviceAuthorizationByUserCode(h.Ctx, denied.UserCode)
	NoErr(t, err, "find denied")
	if got.State != sso.DeviceDenied || got.Subject != "" {
		t.Fatalf("denied authorization: %+v", got)
	}
	IsErr(t, ds.DecideDeviceAuthorization(h.Ctx, "BBBBCCCC", true, c, h.Now), sso.ErrNotFound, "unknown user code")
}

func testDevicePollSlowDown(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now)
	NoErr(t, err, "first poll")
	if got.State != sso.DevicePending || !got.LastPolled.IsZero() {
		t.Fatalf("first poll returns the state before it: %+v", got)
	}
	got, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(time.Second))
	IsErr(t, err, sso.ErrSlowDown, "poll after 1 s of a 5 s interval")
	if got == nil || got.Interval != 10*time.Second {
		t.Fatalf("slow_down must add 5 s to the interval: %+v", got)
	}
	// The interval is now 10 s from the last (too fast) poll.
	_, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(8*time.Second))
	IsErr(t, err, sso.ErrSlowDown, "poll 7 s after the previous one, interval 10 s")
	got, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(24*time.Second))
	NoErr(t, err, "poll after the grown interval")
	if got.Interval != 15*time.Second || got.State != sso.DevicePending {
		t.Fatalf("after two slow_downs: %+v", got)
	}
	_, err = ds.PollDeviceAuthorization(h.Ctx, RandomID(), d.ClientID, h.Now)
	IsErr(t, err, sso.ErrNotFound, "unknown device code")
}

func testDeviceConsumeOnce(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now), sso.ErrNotFound, "consume pending")
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: "s"}, h.Now), "approve")
	// Polls do not consume: the approval waits for ConsumeDeviceAuthorization (a poll the
	// provider could not answer with tokens leaves it to the next one).
	for i := range 2 {
		got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(time.Duration(i)*d.Interval))
		NoErr(t, err, "poll %d of the approved authorization", i)
		if got.State != sso.DeviceApproved || got.Subject != "s" {
			t.Fatalf("poll %d of an approved authorization: %+v", i, got)
		}
	}
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, "other-"+d.ClientID, h.Now), sso.ErrNotFound, "consume by another client")
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, d.ExpiresAt), sso.ErrNotFound, "consume once expired")
	NoErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now), "consume")
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now), sso.ErrNotFound, "consume twice")
	// Consumed is final: however soon the next poll, no slow_down.
	got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(d.Interval+time.Second))
	NoErr(t, err, "poll again at once")
	if got.State != sso.DeviceConsumed {
		t.Fatalf("poll after the consumption must see consumed, got %q", got.State)
	}
	// Denied is final too, and cannot be consumed.
	d2 := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d2), "create")
	_, err = ds.PollDeviceAuthorization(h.Ctx, d2.DeviceCodeHash, d.ClientID, h.Now)
	NoErr(t, err, "poll pending")
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d2.UserCode, false, sso.Completion{}, h.Now), "deny")
	got, err = ds.PollDeviceAuthorization(h.Ctx, d2.DeviceCodeHash, d.ClientID, h.Now.Add(time.Second))
	NoErr(t, err, "poll a denied authorization at once")
	if got.State != sso.DeviceDenied {
		t.Fatalf("denied authorization: %q", got.State)
	}
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d2.DeviceCodeHash, d.ClientID, h.Now), sso.ErrNotFound, "consume denied")
	IsErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, RandomID(), d.ClientID, h.Now), sso.ErrNotFound, "consume unknown")
}

func testDeviceConsumeConcurrently(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: "s"}, h.Now), "approve")
	won := make([]bool, 8)
	errs := Parallel(8, func(i int) error {
		got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(time.Duration(i)*time.Minute))
		if errors.Is(err, sso.ErrSlowDown) || err == nil && got.State != sso.DeviceApproved {
			return nil
		}
		if err != nil {
			return err
		}
		err = ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now)
		if errors.Is(err, sso.ErrNotFound) {
			return nil
		}
		won[i] = err == nil
		return err
	})
	n := 0
	for i, err := range errs {
		NoErr(t, err, "poll and consume %d", i)
		if won[i] {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d concurrent polls consumed the approval, want exactly 1", n)
	}
}

// testDevicePollByAnotherClient: a poll with another client's device code is ErrNotFound
// and records nothing, in any state: the owner's poll clock and interval are untouched (no
// slow_down for the owner) and an approval is not consumed (the owner still gets it).
func testDevicePollByAnotherClient(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	_, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now)
	NoErr(t, err, "owner's first poll")
	for i := range 3 {
		got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, "other-"+d.ClientID, h.Now.Add(time.Duration(i)*time.Second))
		IsErr(t, err, sso.ErrNotFound, "poll %d by another client", i)
		if got != nil {
			t.Fatalf("poll by another client returned the authorization: %+v", got)
		}
	}
	got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(5*time.Second))
	NoErr(t, err, "owner polling on time after another client's polls")
	if got.Interval != d.Interval || !got.LastPolled.Equal(h.Now) || got.State != sso.DevicePending {
		t.Fatalf("another client's polls changed the authorization: %+v", got)
	}
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: "s"}, h.Now), "approve")
	_, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, "other-"+d.ClientID, h.Now.Add(10*time.Second))
	IsErr(t, err, sso.ErrNotFound, "poll of the approved authorization by another client")
	got, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(10*time.Second))
	NoErr(t, err, "owner's poll of the approved authorization")
	if got.State != sso.DeviceApproved || got.Subject != "s" {
		t.Fatalf("the owner must see the approval another client polled: %+v", got)
	}
}

func testDeviceExpiry(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := NewDevice(h.Now.Add(-20 * time.Minute)) // expired 10 minutes ago
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create")
	_, err := ds.DeviceAuthorizationByUserCode(h.Ctx, d.UserCode)
	IsErr(t, err, sso.ErrNotFound, "expired user code")
	IsErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: "s"}, h.Now), sso.ErrNotFound, "approve expired")
	got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now)
	NoErr(t, err, "poll expired (kept until purged so the device learns expired_token)")
	if !got.ExpiresAt.Before(h.Now) {
		t.Fatalf("poll of an expired authorization: %+v", got)
	}
	live := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, live), "create live")
	n, err := ds.PurgeDeviceAuthorizations(h.Ctx, h.Now)
	NoErr(t, err, "purge")
	if n != 1 {
		t.Fatalf("purge deleted %d, want 1", n)
	}
	_, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now)
	IsErr(t, err, sso.ErrNotFound, "poll purged")
	_, err = ds.DeviceAuthorizationByUserCode(h.Ctx, live.UserCode)
	NoErr(t, err, "live authorization survives the purge")
}

// testDeviceResources: the resources (RFC 8707) a device authorization request names bind its
// grant, so they must come back as they were stored, in order, from every read of the
// authorization at every step of its life (pending, polled, approved, polled once approved,
// the poll after its consumption); one stored without any (every authorization stored before
// they were kept) reads back none.
func testDeviceResources(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	res := []string{"https://orders.example.org/api", "https://billing.example.org/", "urn:example:third"}
	d := NewDevice(h.Now)
	d.Resources = res
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "CreateDeviceAuthorization")
	check := func(step string, got *sso.DeviceAuthorization, err error) {
		t.Helper()
		NoErr(t, err, "read (%s)", step)
		Equal(t, got.Resources, res, "Resources (%s)", step)
	}
	got, err := ds.DeviceAuthorizationByUserCode(h.Ctx, d.UserCode)
	check("pending, by user code", got, err)
	got, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now)
	check("pending, polled", got, err)
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: "s", AuthTime: h.Now, AMR: []string{"pwd"}}, h.Now), "approve")
	got, err = ds.DeviceAuthorizationByUserCode(h.Ctx, d.UserCode)
	check("approved, by user code", got, err)
	got, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(d.Interval))
	check("approved, polled", got, err)
	NoErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(d.Interval)), "consume")
	got, err = ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(2*d.Interval))
	check("consumed, polled", got, err)

	none := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, none), "CreateDeviceAuthorization without resources")
	got, err = ds.DeviceAuthorizationByUserCode(h.Ctx, none.UserCode)
	NoErr(t, err, "DeviceAuthorizationByUserCode without resources")
	if len(got.Resources) != 0 {
		t.Fatalf("Resources of an authorization that named none: %q", got.Resources)
	}
}

// approvedDevice stores a device authorization of client tv approved by subject in session
// sessionID ("" for none).
func (h *H) approvedDevice(ds sso.DeviceStore, subject, sessionID string) *sso.DeviceAuthorization {
	h.T.Helper()
	d := NewDevice(h.Now)
	NoErr(h.T, ds.CreateDeviceAuthorization(h.Ctx, d), "CreateDeviceAuthorization")
	c := sso.Completion{Subject: subject, AuthTime: h.Now, AMR: []string{"pwd"}, SessionID: sessionID}
	NoErr(h.T, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, c, h.Now), "approve")
	d.State, d.Subject, d.SessionID = sso.DeviceApproved, subject, sessionID
	return d
}

// deviceIssue is the write of d's device grant: its code consumed and family f inserted.
func deviceIssue(d *sso.DeviceAuthorization, f *sso.RefreshToken, now time.Time) sso.Issue {
	return sso.Issue{ConsumeDevice: &sso.DeviceConsumption{DeviceCodeHash: d.DeviceCodeHash, ClientID: d.ClientID, Now: now}, Family: f}
}

// deviceFamily is the family d's grant writes: session-bound (no refresh token) unless offline.
func (h *H) deviceFamily(d *sso.DeviceAuthorization, offline bool) *sso.RefreshToken {
	f := h.NewAccessFamily()
	if offline {
		f = h.NewRefreshToken()
	}
	f.Subject, f.ClientID, f.SessionID = d.Subject, d.ClientID, d.SessionID
	return f
}

// deviceState is d's state as its owner's next poll reads it.
func (h *H) deviceState(ds sso.DeviceStore, d *sso.DeviceAuthorization) sso.DeviceState {
	h.T.Helper()
	got, err := ds.PollDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now.Add(time.Hour))
	if errors.Is(err, sso.ErrSlowDown) {
		err = nil
	}
	NoErr(h.T, err, "poll")
	return got.State
}

// noFamily fails unless family id is not stored.
func (h *H) noFamily(id, what string) {
	h.T.Helper()
	if _, err := h.S.Family(h.Ctx, id); !errors.Is(err, sso.ErrNotFound) {
		h.T.Fatalf("%s: the family is stored (%v)", what, err)
	}
}

// testDeviceIssueConsumes (review s21 X3-2): a device grant consumes its device code in
// IssueTokens' transaction (Issue.ConsumeDevice), the compare-and-set of
// ConsumeDeviceAuthorization: an approved, unexpired authorization of that client is consumed
// with its family written; any other (pending, denied, consumed, expired, another client's,
// unknown) is ErrNotFound and nothing is written. A grant whose family cannot be written
// (ErrConflict) leaves the code approved: the two are one write.
func testDeviceIssueConsumes(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := h.approvedDevice(ds, "subject-a", "")
	f := h.deviceFamily(d, true)
	NoErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(d, f, h.Now)), "IssueTokens(approved device)")
	Equal(t, h.MustFamily(f.FamilyID), f, "the device grant's family")
	if st := h.deviceState(ds, d); st != sso.DeviceConsumed {
		t.Fatalf("after its grant the device code is %q, want consumed", st)
	}
	again := h.deviceFamily(d, true)
	IsErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(d, again, h.Now)), sso.ErrNotFound, "IssueTokens(consumed device code)")
	h.noFamily(again.FamilyID, "a consumed device code's second grant")

	pending := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, pending), "create")
	denied := NewDevice(h.Now)
	NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, denied), "create")
	NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, denied.UserCode, false, sso.Completion{}, h.Now), "deny")
	approved := h.approvedDevice(ds, "subject-a", "")
	other := *approved
	other.ClientID = "other-" + approved.ClientID
	unknown := *approved
	unknown.DeviceCodeHash = RandomID()
	for _, tc := range []struct {
		name string
		d    *sso.DeviceAuthorization
		now  time.Time
		want sso.DeviceState
	}{
		{"pending", pending, h.Now, sso.DevicePending},
		{"denied", denied, h.Now, sso.DeviceDenied},
		{"another client's", &other, h.Now, ""},
		{"unknown", &unknown, h.Now, ""},
		{"expired", approved, approved.ExpiresAt, sso.DeviceApproved},
	} {
		f := h.deviceFamily(approved, false)
		IsErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(tc.d, f, tc.now)), sso.ErrNotFound, "IssueTokens(%s device code)", tc.name)
		h.noFamily(f.FamilyID, tc.name+" device code's grant")
		if tc.want != "" {
			if st := h.deviceState(ds, tc.d); st != tc.want {
				t.Fatalf("%s device code after a refused grant: %q, want %q", tc.name, st, tc.want)
			}
		}
	}
	// The family's insert fails: the code is not consumed either.
	taken := h.Grant("subject-a", approved.ClientID)
	dup := h.deviceFamily(approved, true)
	dup.FamilyID = taken.FamilyID
	SomeErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(approved, dup, h.Now)), "IssueTokens(family id taken)")
	if st := h.deviceState(ds, approved); st != sso.DeviceApproved {
		t.Fatalf("a grant whose family could not be written left the device code %q, want approved", st)
	}
	NoErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(approved, h.deviceFamily(approved, true), h.Now)), "IssueTokens(after the failed one)")
}

// testDeviceIssueConcurrently: of concurrent grants of one approved device code, one writes
// its family; the others are ErrNotFound and write none.
func testDeviceIssueConcurrently(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	d := h.approvedDevice(ds, "subject-a", "")
	fs := make([]*sso.RefreshToken, 8)
	for i := range fs {
		fs[i] = h.deviceFamily(d, true)
	}
	errs := Parallel(len(fs), func(i int) error { return h.S.IssueTokens(h.Ctx, deviceIssue(d, fs[i], h.Now)) })
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
			h.MustFamily(fs[i].FamilyID)
		case errors.Is(err, sso.ErrNotFound):
			h.noFamily(fs[i].FamilyID, "a losing grant")
		default:
			t.Fatalf("grant %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent grants of one device code wrote their family, want exactly 1", won)
	}
}

// testDeviceIssueOfEndedSession (review s21 X3-2): a device code approved in a session that
// has ended is not consumed by its grant: IssueTokens refuses it in the transaction that would
// consume it (ErrSessionEnded) and writes no family, whether the grant would be session-bound
// or offline, and again when replayed; the provider then closes it (ConsumeDeviceAuthorization,
// whatever the session), after which a replay is ErrNotFound. A device code of a live session
// is consumed; that session's end then revokes its session-bound family, and a replay after the
// end is still ErrNotFound (consumed), not ErrSessionEnded. A device code approved without a
// session is not refused for one. A session ended and then purged (Purge deletes ended
// sessions every minute), or never stored, is refused as an ended one (review s22 X-1), as is
// one expired at the store's clock but not yet purged (session 23 P7).
func testDeviceIssueOfEndedSession(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	for _, tc := range []struct {
		name                       string
		end, purge, store, expired bool
	}{
		{"ended", true, false, true, false},
		{"ended then purged", true, true, true, false},
		{"never stored", false, false, false, false},
		{"expired, held", false, false, true, true},
	} {
		for _, offline := range []bool{false, true} {
			h.deviceOfSessionNotHeld(ds, tc.name, tc.end, tc.purge, tc.store, tc.expired, offline)
		}
	}
	h.deviceOfLiveSession(ds)
}

// deviceOfSessionNotHeld checks that a device code approved in a session that was ended (and
// purged), never stored, or stored expired (before the store's clock; held until purged), is
// refused until closed.
func (h *H) deviceOfSessionNotHeld(ds sso.DeviceStore, name string, end, purge, store, expired, offline bool) {
	t := h.T
	t.Helper()
	sess := h.NewSession("subject-a")
	if expired {
		sess.CreatedAt, sess.LastSeen, sess.ExpiresAt = h.Now.Add(-time.Hour), h.Now.Add(-time.Hour), h.Now.Add(-time.Second)
	}
	if store {
		NoErr(t, h.S.CreateSession(h.Ctx, sess), "CreateSession")
	}
	d := h.approvedDevice(ds, sess.Subject, sess.ID)
	if end {
		NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	}
	if purge {
		_, err := h.S.Purge(h.Ctx, h.Now)
		NoErr(t, err, "Purge")
	}
	for _, try := range []string{"first", "again"} {
		f := h.deviceFamily(d, offline)
		IsErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(d, f, h.Now)), sso.ErrSessionEnded,
			"IssueTokens(device code of a session %s, %s, offline %v)", name, try, offline)
		h.noFamily(f.FamilyID, "the grant of a device code of an ended session")
		if st := h.deviceState(ds, d); st != sso.DeviceApproved {
			t.Fatalf("a refused device grant left its code %q, want approved (the provider closes it)", st)
		}
	}
	NoErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, d.DeviceCodeHash, d.ClientID, h.Now), "close the refused authorization")
	f := h.deviceFamily(d, offline)
	IsErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(d, f, h.Now)), sso.ErrNotFound, "IssueTokens(closed device code, %s, offline %v)", name, offline)
	h.noFamily(f.FamilyID, "the grant of a closed device code")
}

// deviceOfLiveSession checks that a device code approved in a live session, or without one,
// is consumed, and that the session's end revokes its session-bound family.
func (h *H) deviceOfLiveSession(ds sso.DeviceStore) {
	t := h.T
	t.Helper()
	sess := h.CreateSession("subject-a", "tv")
	d := h.approvedDevice(ds, sess.Subject, sess.ID)
	f := h.deviceFamily(d, false)
	NoErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(d, f, h.Now)), "IssueTokens(live session)")
	NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	if !h.Revoked(f.FamilyID) {
		t.Fatal("the session-bound family of a live session's device grant outlived the session")
	}
	again := h.deviceFamily(d, false)
	IsErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(d, again, h.Now)), sso.ErrNotFound, "IssueTokens(used device code, session ended since)")
	h.noFamily(again.FamilyID, "a replay after the session ended")

	none := h.approvedDevice(ds, "subject-a", "")
	nf := h.deviceFamily(none, false)
	NoErr(t, h.S.IssueTokens(h.Ctx, deviceIssue(none, nf, h.Now)), "IssueTokens(device code approved without a session)")
}

// testDeviceIssueRacesEnd (review s21 X3-2): a device grant racing the end of the session
// that approved it either is refused (ErrSessionEnded, no family, the code left to the
// provider to close) or lands before the end, which then revokes its session-bound family:
// never a family of the session left live after it.
func testDeviceIssueRacesEnd(t *testing.T, h *H) {
	ds := deviceStore(t, h)
	for i := range 30 {
		sess := h.CreateSession("subject-a", "tv")
		d := h.approvedDevice(ds, sess.Subject, sess.ID)
		f := h.deviceFamily(d, false)
		errs := Parallel(2, func(j int) error {
			if j == 0 {
				return h.S.IssueTokens(h.Ctx, deviceIssue(d, f, h.Now))
			}
			return h.S.EndSession(h.Ctx, sess.ID)
		})
		issueErr := errs[0]
		NoErr(t, errs[1], "EndSession")
		switch {
		case issueErr == nil:
			if !h.Revoked(f.FamilyID) {
				t.Fatalf("round %d: the device code was redeemed and the session ended, but its session-bound family is live", i)
			}
		case errors.Is(issueErr, sso.ErrSessionEnded):
			h.noFamily(f.FamilyID, "a refused grant")
			if st := h.deviceState(ds, d); st != sso.DeviceApproved {
				t.Fatalf("round %d: a refused device grant left its code %q, want approved", i, st)
			}
		default:
			t.Fatalf("round %d: IssueTokens: %v", i, issueErr)
		}
	}
}
