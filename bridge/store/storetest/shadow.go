package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var shadowTests = []test{
	{"PutOnlyOnChange", testShadowPutOnlyOnChange},
	{"PutIf", testShadowPutIf},
	{"PutIfConcurrent", testShadowPutIfConcurrent},
	{"ExternalID", testShadowExternalID},
	{"List", testShadowList},
	{"Deactivate", testShadowDeactivate},
	{"DeactivateOneClient", testShadowDeactivateOneClient},
	{"Watermark", testShadowWatermark},
	{"UsersOfSubjects", testShadowUsersOf},
	{"SubjectsByKeyRange", testSubjectsByKeyRange},
	{"ReconcileState", testReconcileState},
	{"GoneWithClient", testShadowGoneWithClient},
	{"PutSupersedes", testShadowPutSupersedes},
	{"DeactivateLogoutFails", testShadowDeactivateLogoutFails},
	{"DeactivateAppsAddedBefore", testShadowDeactivateAppsAddedBefore},
	{"DeactivateAppsRace", testShadowDeactivateAppsRace},
	{"HasLiveGrants", testShadowHasLiveGrants},
	{"PollProgress", testPollProgress},
	{"PollProgressFenced", testPollProgressFenced},
	{"PutIfFenced", testShadowPutIfFenced},
	{"DeactivateFenced", testShadowDeactivateFenced},
}

var outboxTests = []test{
	{"ClaimOrderPerKey", testOutboxClaimOrder},
	{"ClaimExcludeClients", testOutboxClaimExclude},
	{"LeaseExpires", testOutboxLeaseExpires},
	{"StaleClaimRecordsNothing", testOutboxStaleClaim},
	{"FailBackoffDead", testOutboxFailDead},
	{"Retry", testOutboxRetry},
	{"RetrySuperseded", testOutboxRetrySuperseded},
	{"RetrySupersededAfterPurge", testOutboxRetrySupersededAfterPurge},
	{"Discard", testOutboxDiscard},
	{"Targets", testOutboxTargets},
	{"ClaimKey", testOutboxClaimKey},
	{"ConcurrentClaims", testOutboxConcurrentClaims},
	{"EndSessionWithEvents", testOutboxEndSession},
	{"PurgeDelivered", testOutboxPurge},
	{"Supersede", testOutboxSupersede},
	{"SupersedeInFlight", testOutboxSupersedeInFlight},
	{"SupersedeOnFailure", testOutboxSupersedeOnFailure},
	{"SupersedeOnFailureOutcomes", testOutboxSupersedeOnFailureOutcomes},
	{"TargetsSuperseded", testOutboxTargetsSuperseded},
	{"EndSessionWithEventsBuild", testOutboxEndSessionBuild},
	{"EndSessionWithEventsAppsAddedBefore", testOutboxEndSessionAppsAddedBefore},
	{"EndSessionWithEventsAppsRace", testOutboxEndSessionAppsRace},
	{"Skipped", testOutboxSkipped},
}

// event returns a new pending event of key.
func event(key string) *store.OutboxEvent {
	return &store.OutboxEvent{ID: ssotest.RandomID(), Key: key, Type: "user.updated", Channel: "webhook",
		ClientID: "portal", Subject: "sub", Payload: []byte(`{"a":1}`)}
}

func shadow(client, subject, digest string, active bool) *store.ShadowUser {
	return &store.ShadowUser{ClientID: client, Subject: subject, Digest: digest, Active: active, View: []byte(`{"roles":["Member"]}`)}
}

func (h *H) claim(at time.Time, limit int) []*store.OutboxEvent {
	h.T.Helper()
	l, err := h.S.ClaimEvents(h.Ctx, store.Claim{Now: at, Lease: time.Minute, Limit: limit})
	ssotest.NoErr(h.T, err, "ClaimEvents")
	return l
}

func ids(l []*store.OutboxEvent) []string {
	out := make([]string, len(l))
	for i, e := range l {
		out[i] = e.ID
	}
	return out
}

func testShadowPutOnlyOnChange(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	_, err := h.S.ShadowUser(h.Ctx, "portal", sub)
	ssotest.IsErr(t, err, sso.ErrNotFound, "ShadowUser(unknown)")

	e1 := event("k1")
	changed, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true), e1)
	ssotest.NoErr(t, err, "PutShadowUser(new)")
	if !changed {
		t.Fatal("PutShadowUser(new) reported no change")
	}
	got, err := h.S.ShadowUser(h.Ctx, "portal", sub)
	ssotest.NoErr(t, err, "ShadowUser")
	if got.Digest != "d1" || !got.Active || string(got.View) != `{"roles":["Member"]}` || got.CreatedAt.IsZero() {
		t.Fatalf("ShadowUser = %+v", got)
	}
	// Same digest and state: nothing written, the event is not queued.
	e2 := event("k1")
	changed, err = h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true), e2)
	ssotest.NoErr(t, err, "PutShadowUser(same)")
	if changed {
		t.Fatal("PutShadowUser(same digest) reported a change")
	}
	_, err = h.S.OutboxEvent(h.Ctx, e2.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "event of an unchanged shadow user")
	// Active flips with the same digest: a change.
	changed, err = h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", false), event("k1"))
	ssotest.NoErr(t, err, "PutShadowUser(inactive)")
	if !changed {
		t.Fatal("deactivation not reported as a change")
	}
	ev, err := h.S.OutboxEvent(h.Ctx, e1.ID)
	ssotest.NoErr(t, err, "OutboxEvent")
	if ev.State != store.OutboxPending || ev.Attempts != 0 || string(ev.Payload) != `{"a":1}` || ev.Seq == 0 {
		t.Fatalf("queued event = %+v", ev)
	}
	// A bad event rolls back the shadow user too (one transaction).
	changed, err = h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d2", true), &store.OutboxEvent{ID: "x"})
	ssotest.SomeErr(t, err, "PutShadowUser with an invalid event")
	got, _ = h.S.ShadowUser(h.Ctx, "portal", sub)
	if changed || got.Digest != "d1" {
		t.Fatalf("shadow user written without its event: %+v", got)
	}
}

// testShadowPutIf: PutShadowUserIf writes (as PutShadowUser: only a change, with its events)
// when the epoch watermark and the stored shadow user are still what the state was computed
// from, and otherwise writes nothing and says ErrShadowChanged.
func testShadowPutIf(t *testing.T, h *H) {
	sub, epoch := ssotest.RandomID(), "epoch-"+ssotest.RandomID()
	e0 := time.Unix(1_700_000_000, 123456789)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e0), "SetWatermark")
	cond := func(prev *store.ShadowUser) store.ShadowCond {
		return store.ShadowCond{Epoch: epoch, EpochValue: e0, Prev: prev}
	}
	put := func(what string, c store.ShadowCond, u *store.ShadowUser, wantChanged bool, wantErr error) {
		t.Helper()
		ev := event("k-" + sub)
		changed, err := h.S.PutShadowUserIf(h.Ctx, c, u, ev)
		switch {
		case wantErr != nil:
			ssotest.IsErr(t, err, wantErr, "%s", what)
		default:
			ssotest.NoErr(t, err, "%s", what)
		}
		if changed != wantChanged {
			t.Fatalf("%s: changed %v, want %v", what, changed, wantChanged)
		}
		_, err = h.S.OutboxEvent(h.Ctx, ev.ID)
		if wantChanged {
			ssotest.NoErr(t, err, "%s: its event", what)
		} else {
			ssotest.IsErr(t, err, sso.ErrNotFound, "%s: its event", what)
		}
	}
	stored := func() *store.ShadowUser {
		t.Helper()
		u, err := h.S.ShadowUser(h.Ctx, "portal", sub)
		if errors.Is(err, sso.ErrNotFound) {
			return nil
		}
		ssotest.NoErr(t, err, "ShadowUser")
		return u
	}
	put("another epoch", store.ShadowCond{Epoch: epoch, EpochValue: e0.Add(time.Nanosecond)}, shadow("portal", sub, "d1", true), false, store.ErrShadowChanged)
	put("an epoch never set", store.ShadowCond{Epoch: epoch + "-none", EpochValue: e0}, shadow("portal", sub, "d1", true), false, store.ErrShadowChanged)
	put("a previous user that is not there", cond(shadow("portal", sub, "d0", true)), shadow("portal", sub, "d1", true), false, store.ErrShadowChanged)
	if u := stored(); u != nil {
		t.Fatalf("written by refused puts: %+v", u)
	}
	put("create", cond(nil), shadow("portal", sub, "d1", true), true, nil)
	put("create again", cond(nil), shadow("portal", sub, "d1", true), false, store.ErrShadowChanged)
	put("same state", cond(shadow("portal", sub, "d1", true)), shadow("portal", sub, "d1", true), false, nil)
	put("a stale previous digest", cond(shadow("portal", sub, "d0", true)), shadow("portal", sub, "d2", true), false, store.ErrShadowChanged)
	put("a stale previous active", cond(shadow("portal", sub, "d1", false)), shadow("portal", sub, "d2", true), false, store.ErrShadowChanged)
	put("update", cond(shadow("portal", sub, "d1", true)), shadow("portal", sub, "d2", true), true, nil)
	put("deactivate", cond(shadow("portal", sub, "d2", true)), shadow("portal", sub, "d2", false), true, nil)
	// The epoch moved (a change poll began): what was read before it is refused.
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e0.Add(time.Second)), "SetWatermark")
	put("an epoch that moved", cond(shadow("portal", sub, "d2", false)), shadow("portal", sub, "d2", true), false, store.ErrShadowChanged)
	if u := stored(); u.Digest != "d2" || u.Active {
		t.Fatalf("after the refused re-activation: %+v", u)
	}
}

// testShadowPutIfConcurrent: of concurrent first writes of one shadow user (each computed
// from no user), exactly one writes (and queues its event); the others say ErrShadowChanged.
func testShadowPutIfConcurrent(t *testing.T, h *H) {
	sub, epoch := ssotest.RandomID(), "epoch-"+ssotest.RandomID()
	e0 := time.Unix(1_700_000_000, 0)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e0), "SetWatermark")
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrote, refused := 0, 0
	for i := range n {
		wg.Go(func() {
			changed, err := h.S.PutShadowUserIf(h.Ctx, store.ShadowCond{Epoch: epoch, EpochValue: e0},
				shadow("portal", sub, fmt.Sprint("d", i), true), event("k-"+sub))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && changed:
				wrote++
			case errors.Is(err, store.ErrShadowChanged):
				refused++
			default:
				t.Errorf("PutShadowUserIf: %v, changed %v", err, changed)
			}
		})
	}
	wg.Wait()
	if wrote != 1 || refused != n-1 {
		t.Fatalf("%d first writes wrote, %d refused; want 1 and %d", wrote, refused, n-1)
	}
	evs, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{ClientID: "portal", Limit: 1000})
	ssotest.NoErr(t, err, "OutboxEvents")
	queued := 0
	for _, e := range evs {
		if e.Key == "k-"+sub {
			queued++
		}
	}
	if queued != 1 {
		t.Fatalf("%d events queued, want 1", queued)
	}
}

func testShadowExternalID(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	ssotest.IsErr(t, h.S.SetShadowExternalID(h.Ctx, "portal", sub, "x"), sso.ErrNotFound, "SetShadowExternalID(unknown)")
	_, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true))
	ssotest.NoErr(t, err, "PutShadowUser")
	ssotest.NoErr(t, h.S.SetShadowExternalID(h.Ctx, "portal", sub, "scim-42"), "SetShadowExternalID")
	_, err = h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d2", true))
	ssotest.NoErr(t, err, "PutShadowUser(update)")
	got, _ := h.S.ShadowUser(h.Ctx, "portal", sub)
	if got.ExternalID != "scim-42" || got.Digest != "d2" {
		t.Fatalf("after update: %+v (external id must be kept)", got)
	}
}

func testShadowList(t *testing.T, h *H) {
	a, b := "a-"+ssotest.RandomID(), "b-"+ssotest.RandomID()
	for _, u := range []*store.ShadowUser{shadow("portal", a, "1", true), shadow("portal", b, "1", true), shadow("events", a, "1", false)} {
		_, err := h.S.PutShadowUser(h.Ctx, u)
		ssotest.NoErr(t, err, "PutShadowUser")
	}
	l, err := h.S.ShadowUsers(h.Ctx, "portal", "")
	ssotest.NoErr(t, err, "ShadowUsers(portal)")
	if len(l) != 2 || l[0].Subject != a || l[1].Subject != b {
		t.Fatalf("ShadowUsers(portal) = %d users", len(l))
	}
	l, _ = h.S.ShadowUsers(h.Ctx, "", a)
	if len(l) != 2 || l[0].ClientID != "events" || l[1].ClientID != "portal" {
		t.Fatalf("ShadowUsers(subject) = %d users", len(l))
	}
}

func testShadowDeactivate(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	s1 := h.createSession(sub, "portal", "events")
	s2 := h.createSession(sub, "portal")
	other := h.createSession(ssotest.RandomID(), "portal")
	rt := h.grant(sub, "portal")
	rt2 := h.grant(sub, "events")
	access := h.sso().NewAccessFamily()
	access.Subject, access.ClientID = sub, "portal"
	ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: access}), "IssueTokens(access only)")
	_, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true))
	ssotest.NoErr(t, err, "PutShadowUser")
	_, err = h.S.PutShadowUser(h.Ctx, shadow("events", sub, "d9", true))
	ssotest.NoErr(t, err, "PutShadowUser")
	unchanged := event("k-events")
	sp := "https://sp.example/" + s1.ID
	ssotest.NoErr(t, h.participant(s1.ID, sp), "AddSAMLParticipant")

	var seen []*store.EndedSession
	up := event("k-" + sub)
	ended, err := h.S.Deactivate(h.Ctx, &store.Deactivation{
		Subject: sub, EndSessions: true,
		Users: []store.ShadowUpdate{
			{User: shadow("portal", sub, "d1", false), Events: []*store.OutboxEvent{up}},
			// Unchanged: its event is not written.
			{User: shadow("events", sub, "d9", true), Events: []*store.OutboxEvent{unchanged}},
		},
		Logout: func(l []*store.EndedSession) ([]*store.OutboxEvent, error) {
			seen = l
			var out []*store.OutboxEvent
			for _, s := range l {
				for _, c := range s.Session.Clients {
					e := event("bcl-" + c)
					e.Type, e.Channel, e.Payload = "logout.backchannel", "backchannel", []byte(s.Session.ID)
					out = append(out, e)
				}
			}
			return out, nil
		},
	})
	ssotest.NoErr(t, err, "Deactivate")
	if len(ended) != 2 || len(seen) != 2 || !ended[0].Ended {
		t.Fatalf("ended %d sessions, Logout saw %d", len(ended), len(seen))
	}
	byID := map[string]*sso.Session{ended[0].ID: ended[0], ended[1].ID: ended[1]}
	if byID[s1.ID] == nil || byID[s2.ID] == nil || !slices.Equal(byID[s1.ID].Clients, []string{"portal", "events"}) {
		t.Fatalf("ended sessions = %v, want %s and %s with their clients", slices.Collect(maps.Keys(byID)), s1.ID, s2.ID)
	}
	for i, e := range seen {
		if e.Session.ID != ended[i].ID || !e.Session.Ended || !slices.Equal(e.Session.Clients, ended[i].Clients) {
			t.Fatalf("Logout saw %+v as ended session %d, the deactivation returned %+v", e.Session, i, ended[i])
		}
		want := []string(nil)
		if e.Session.ID == s1.ID {
			want = []string{sp}
		}
		if got := participantSPs(e.SAMLParticipants); !slices.Equal(got, want) {
			t.Fatalf("Logout saw the SAML participants %v of %s, want %v", got, e.Session.ID, want)
		}
	}
	for _, id := range []string{s1.ID, s2.ID} {
		_, err := h.S.Session(h.Ctx, id)
		ssotest.IsErr(t, err, sso.ErrNotFound, "session after Deactivate")
	}
	_, err = h.S.Session(h.Ctx, other.ID)
	ssotest.NoErr(t, err, "another member's session")
	for _, f := range []*sso.RefreshToken{rt, rt2, access} {
		if !h.sso().Revoked(f.FamilyID) {
			t.Fatal("family not revoked by Deactivate")
		}
	}
	u, _ := h.S.ShadowUser(h.Ctx, "portal", sub)
	if u.Active {
		t.Fatal("shadow user still active")
	}
	_, err = h.S.OutboxEvent(h.Ctx, unchanged.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "event of an unchanged shadow user")
	evs, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{State: store.OutboxPending})
	ssotest.NoErr(t, err, "OutboxEvents")
	if len(evs) != 4 || evs[0].ID != up.ID || evs[1].Type != "logout.backchannel" {
		t.Fatalf("queued %d events (want the update and 3 logouts)", len(evs))
	}
}

func testShadowDeactivateOneClient(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	s := h.createSession(sub, "portal", "events")
	rt := h.grant(sub, "portal")
	rt2 := h.grant(sub, "events")
	ended, err := h.S.Deactivate(h.Ctx, &store.Deactivation{Subject: sub, RevokeClient: "portal",
		Events: []*store.OutboxEvent{event("k")}})
	ssotest.NoErr(t, err, "Deactivate(one client)")
	if len(ended) != 0 {
		t.Fatal("sessions ended without EndSessions")
	}
	_, err = h.S.Session(h.Ctx, s.ID)
	ssotest.NoErr(t, err, "session after a one-client deactivation")
	if !h.sso().Revoked(rt.FamilyID) {
		t.Fatal("portal family not revoked")
	}
	if h.sso().Revoked(rt2.FamilyID) {
		t.Fatal("events family revoked")
	}
}

func testShadowWatermark(t *testing.T, h *H) {
	w, err := h.S.Watermark(h.Ctx, "ams")
	ssotest.NoErr(t, err, "Watermark(unset)")
	if !w.IsZero() {
		t.Fatalf("unset watermark = %v", w)
	}
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, "ams", h.Now), "SetWatermark")
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, "ams", h.Now.Add(time.Second)), "SetWatermark(again)")
	w, err = h.S.Watermark(h.Ctx, "ams")
	ssotest.NoErr(t, err, "Watermark")
	if !w.Equal(h.Now.Add(time.Second)) {
		t.Fatalf("watermark = %v, want %v", w, h.Now.Add(time.Second))
	}
}

// testShadowUsersOf: the shadow users of many subjects at once (more than one query's worth),
// each subject once however often it is asked for.
func testShadowUsersOf(t *testing.T, h *H) {
	var subjects, want []string
	for i := range 1203 {
		sub := fmt.Sprintf("sub-%04d", i)
		subjects = append(subjects, sub)
		if i%2 == 0 {
			continue // no shadow user
		}
		for _, c := range []string{"portal", "events"}[:1+i%3/2] {
			_, err := h.S.PutShadowUser(h.Ctx, shadow(c, sub, "d", true))
			ssotest.NoErr(t, err, "PutShadowUser")
		}
	}
	_, err := h.S.PutShadowUser(h.Ctx, shadow("portal", "someone-else", "d", true))
	ssotest.NoErr(t, err, "PutShadowUser")
	got, err := h.S.ShadowUsersOf(h.Ctx, append(slices.Clone(subjects), subjects[1], "unknown"))
	ssotest.NoErr(t, err, "ShadowUsersOf")
	for _, sub := range subjects {
		l, err := h.S.ShadowUsers(h.Ctx, "", sub)
		ssotest.NoErr(t, err, "ShadowUsers")
		for _, u := range l {
			want = append(want, u.Subject+" "+u.ClientID)
		}
	}
	var gotKeys []string
	for _, u := range got {
		gotKeys = append(gotKeys, u.Subject+" "+u.ClientID)
	}
	slices.Sort(want)
	ssotest.Equal(t, gotKeys, want, "ShadowUsersOf")
	if len(want) < 700 || got[0].Digest != "d" || !got[0].Active {
		t.Fatalf("%d shadow users, first %+v", len(want), got[0])
	}
	if none, err := h.S.ShadowUsersOf(h.Ctx, nil); err != nil || len(none) != 0 {
		t.Fatalf("ShadowUsersOf(nil) = %v, %v", none, err)
	}
}

// testSubjectsByKeyRange: the reconcile walks subjects by member key in the ranges between
// the keys the AMS listed: bounds are exclusive below and inclusive above, bytewise.
func testSubjectsByKeyRange(t *testing.T, h *H) {
	keys := []string{"B", "A", "b", "C-1", "C", "a"}
	for i, k := range keys {
		ssotest.NoErr(t, h.S.PutSubject(h.Ctx, &store.Subject{Subject: fmt.Sprintf("sub-%d", i), MemberKey: k, Login: "l" + k}),
			"PutSubject")
	}
	memberKeys := func(l []*store.Subject) []string {
		out := []string{}
		for _, s := range l {
			out = append(out, s.MemberKey)
		}
		return out
	}
	for _, tc := range []struct {
		after, through string
		limit          int
		want           []string
	}{
		{"", "", 0, []string{"A", "B", "C", "C-1", "a", "b"}},
		{"", "", 2, []string{"A", "B"}},
		{"A", "C", 0, []string{"B", "C"}},
		{"B", "B", 0, []string{}},
		{"C", "", 0, []string{"C-1", "a", "b"}},
		{"C-1", "a", 10, []string{"a"}},
		{"b", "", 0, []string{}},
		{"", "0", 0, []string{}},
	} {
		got, err := h.S.SubjectsByKeyRange(h.Ctx, tc.after, tc.through, tc.limit)
		ssotest.NoErr(t, err, "SubjectsByKeyRange")
		ssotest.Equal(t, memberKeys(got), tc.want, "SubjectsByKeyRange(%q, %q, %d)", tc.after, tc.through, tc.limit)
	}
	got, _ := h.S.SubjectsByKeyRange(h.Ctx, "B", "C", 1)
	if len(got) != 1 || got[0].Subject != "sub-4" || got[0].Login != "lC" || got[0].FirstSeen.IsZero() {
		t.Fatalf("subject row = %+v", got)
	}
}

func testReconcileState(t *testing.T, h *H) {
	st, err := h.S.ReconcileState(h.Ctx, "ams")
	ssotest.NoErr(t, err, "ReconcileState(unset)")
	if st != (store.ReconcileState{}) {
		t.Fatalf("unset reconcile state = %+v", st)
	}
	for _, want := range []store.ReconcileState{
		{StartedAt: h.Now},
		{StartedAt: h.Now, Cursor: "0F3A-B"},
		{FinishedAt: h.Now.Add(time.Minute)},
		{StartedAt: h.Now.Add(time.Hour), FinishedAt: h.Now.Add(time.Minute)},
		{StartedAt: h.Now.Add(time.Hour), Cursor: "0F3A-C", Gone: 42},
		{StartedAt: h.Now.Add(time.Hour), Cursor: "0F3A-D"},
	} {
		ssotest.NoErr(t, h.S.SetReconcileState(h.Ctx, "ams", want), "SetReconcileState")
		got, err := h.S.ReconcileState(h.Ctx, "ams")
		ssotest.NoErr(t, err, "ReconcileState")
		if !got.StartedAt.Equal(want.StartedAt) || got.Cursor != want.Cursor || !got.FinishedAt.Equal(want.FinishedAt) || got.Gone != want.Gone {
			t.Fatalf("reconcile state = %+v, want %+v", got, want)
		}
	}
	if other, _ := h.S.ReconcileState(h.Ctx, "other"); other != (store.ReconcileState{}) {
		t.Fatalf("another name's state = %+v", other)
	}
}

func testOutboxClaimOrder(t *testing.T, h *H) {
	a1, a2, b1 := event("a"), event("a"), event("b")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, a1, a2, b1)...), "Enqueue")
	got := h.claim(h.Now.Add(time.Second), 10)
	ssotest.Equal(t, ids(got), []string{a1.ID, b1.ID}, "first claim: the head of each key")
	if got[0].Attempts != 1 || !got[0].LeaseUntil.After(h.Now) {
		t.Fatalf("claimed event = %+v", got[0])
	}
	if again := h.claim(h.Now.Add(2*time.Second), 10); len(again) != 0 {
		t.Fatalf("claimed %d leased or blocked events", len(again))
	}
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, got[0].LeaseUntil, h.Now.Add(3*time.Second)), "MarkDelivered")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, got[0].LeaseUntil, h.Now.Add(3*time.Second)), "MarkDelivered(again)")
	got = h.claim(h.Now.Add(4*time.Second), 10)
	ssotest.Equal(t, ids(got), []string{a2.ID}, "after the head was delivered")
	ev, _ := h.S.OutboxEvent(h.Ctx, a1.ID)
	if ev.State != store.OutboxDelivered || !ev.DeliveredAt.Equal(h.Now.Add(3*time.Second)) {
		t.Fatalf("delivered event = %+v", ev)
	}
}

// testOutboxClaimExclude (review s14 X-6): a claim skips the events of the clients it excludes
// (the targets whose deliveries already take their share of the workers), claims the others in
// order, and leaves the skipped ones pending, unclaimed and uncounted, for a later claim; each
// key's order holds.
func testOutboxClaimExclude(t *testing.T, h *H) {
	ev := func(client, key string) *store.OutboxEvent {
		e := event(key)
		e.ClientID = client
		return e
	}
	s1, s2, b1, c1, b2 := ev("slow", "slow/1"), ev("slow", "slow/2"), ev("bank", "bank/1"), ev("city", "city/1"), ev("bank", "bank/1")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, s1, s2, b1, c1, b2)...), "Enqueue")
	claim := func(at time.Duration, exclude ...string) []*store.OutboxEvent {
		t.Helper()
		l, err := h.S.ClaimEvents(h.Ctx, store.Claim{Now: h.Now.Add(at), Lease: time.Minute, Limit: 10, ExcludeClients: exclude})
		ssotest.NoErr(t, err, "ClaimEvents")
		return l
	}
	got := claim(time.Second, "slow", "city")
	ssotest.Equal(t, ids(got), []string{b1.ID}, "claim excluding slow and city")
	ssotest.Equal(t, ids(claim(2*time.Second, "bank", "slow")), []string{c1.ID}, "claim excluding bank and slow")
	rest := claim(3*time.Second, "bank")
	ssotest.Equal(t, ids(rest), []string{s1.ID, s2.ID}, "the excluded events, claimed later")
	if rest[0].Attempts != 1 {
		t.Fatalf("an event skipped by earlier claims counted %d attempts, want 1", rest[0].Attempts)
	}
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, b1.ID, got[0].LeaseUntil, h.Now.Add(4*time.Second)), "MarkDelivered")
	ssotest.Equal(t, ids(claim(5*time.Second, "slow")), []string{b2.ID}, "the key's next event, after its head")
	ssotest.Equal(t, ids(claim(6*time.Second)), []string(nil), "nothing left")
}

func testOutboxLeaseExpires(t *testing.T, h *H) {
	e := event("a")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, e)...), "Enqueue")
	if got := h.claim(h.Now.Add(time.Second), 1); len(got) != 1 {
		t.Fatal("not claimed")
	}
	// The claimer crashed: after the lease the event is claimed again, its attempt counted.
	got := h.claim(h.Now.Add(2*time.Minute), 1)
	if len(got) != 1 || got[0].ID != e.ID || got[0].Attempts != 2 {
		t.Fatalf("reclaim after the lease = %+v", got)
	}
}

// testOutboxStaleClaim (review s4 F8): a claimer whose lease ran out while it delivered, and
// whose event another replica has claimed since, records no outcome: its failure would release
// the new holder's live lease (a third replica could then send the event again, or the next
// event of the key before it), and its delivery would unblock the key's next event while the
// new holder is still sending this one.
func testOutboxStaleClaim(t *testing.T, h *H) {
	a1, a2 := event("a"), event("a")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, a1, a2)...), "Enqueue")
	late := h.claim(h.Now.Add(time.Second), 1)
	if len(late) != 1 || late[0].ID != a1.ID {
		t.Fatalf("first claim = %v", ids(late))
	}
	// Its lease (a minute) runs out; another replica claims the event.
	holder := h.claim(h.Now.Add(2*time.Minute), 1)
	if len(holder) != 1 || holder[0].ID != a1.ID || !holder[0].LeaseUntil.After(late[0].LeaseUntil) {
		t.Fatalf("second claim = %+v", holder)
	}
	during := h.Now.Add(2*time.Minute + time.Second) // within the holder's lease
	ssotest.IsErr(t, h.S.MarkFailed(h.Ctx, a1.ID, late[0].LeaseUntil, during, "timeout", false), store.ErrLeaseLost, "MarkFailed(stale claim)")
	if again := h.claim(during, 10); len(again) != 0 {
		t.Fatalf("a stale claimer's failure released the holder's lease: claimed %v", ids(again))
	}
	ssotest.IsErr(t, h.S.MarkFailed(h.Ctx, a1.ID, late[0].LeaseUntil, during, "timeout", true), store.ErrLeaseLost, "MarkFailed(stale claim, dead)")
	ssotest.IsErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, late[0].LeaseUntil, during), store.ErrLeaseLost, "MarkDelivered(stale claim)")
	ssotest.IsErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, time.Time{}, during), store.ErrLeaseLost, "MarkDelivered(no claim)")
	ev, err := h.S.OutboxEvent(h.Ctx, a1.ID)
	ssotest.NoErr(t, err, "OutboxEvent")
	if ev.State != store.OutboxPending || !ev.LeaseUntil.Equal(holder[0].LeaseUntil) || ev.LastError != "" {
		t.Fatalf("after the stale claimer's outcomes: %+v", ev)
	}
	if again := h.claim(during, 10); len(again) != 0 {
		t.Fatalf("a stale claimer's delivery unblocked the key: claimed %v", ids(again))
	}
	// The holder records its outcome; the key's next event follows.
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a1.ID, holder[0].LeaseUntil, during, "503", false), "MarkFailed(holder)")
	ssotest.IsErr(t, h.S.MarkFailed(h.Ctx, a1.ID, holder[0].LeaseUntil, during, "503", false), store.ErrLeaseLost, "MarkFailed(holder, released)")
	third := h.claim(during, 10)
	if len(third) != 1 || third[0].ID != a1.ID {
		t.Fatalf("claim after the holder's failure = %v", ids(third))
	}
	ssotest.IsErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, holder[0].LeaseUntil, during), store.ErrLeaseLost, "MarkDelivered(released claim)")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, third[0].LeaseUntil, during), "MarkDelivered(holder)")
	// A delivered event answers every late outcome with nil and stays delivered.
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, a1.ID, late[0].LeaseUntil, during), "MarkDelivered(stale claim, delivered)")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a1.ID, late[0].LeaseUntil, during, "late", true), "MarkFailed(stale claim, delivered)")
	if ev, _ := h.S.OutboxEvent(h.Ctx, a1.ID); ev.State != store.OutboxDelivered {
		t.Fatalf("delivered event became %s", ev.State)
	}
	ssotest.Equal(t, ids(h.claim(during, 10)), []string{a2.ID}, "after the holder's delivery")
}

func testOutboxFailDead(t *testing.T, h *H) {
	a1, a2 := event("a"), event("a")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, a1, a2)...), "Enqueue")
	first := h.claimExactly(h.Now.Add(time.Second), "first claim", a1)
	next := h.Now.Add(time.Hour)
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a1.ID, first[0].LeaseUntil, next, "503 Service Unavailable", false), "MarkFailed")
	// Backing off: neither it nor the events behind it are due.
	if got := h.claim(h.Now.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("claimed %d events during backoff", len(got))
	}
	got := h.claim(next, 10)
	ssotest.Equal(t, ids(got), []string{a1.ID}, "after the backoff")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a1.ID, got[0].LeaseUntil, next, "410 Gone", true), "MarkFailed(dead)")
	ev, _ := h.S.OutboxEvent(h.Ctx, a1.ID)
	if ev.State != store.OutboxDead || ev.LastError != "410 Gone" || ev.Attempts != 2 {
		t.Fatalf("dead event = %+v", ev)
	}
	// A dead head no longer blocks its key.
	got = h.claim(next.Add(time.Second), 10)
	ssotest.Equal(t, ids(got), []string{a2.ID}, "behind a dead event")
	dead, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{State: store.OutboxDead})
	ssotest.NoErr(t, err, "OutboxEvents(dead)")
	ssotest.Equal(t, ids(dead), []string{a1.ID}, "dead letters")
	counts, err := h.S.OutboxCounts(h.Ctx)
	ssotest.NoErr(t, err, "OutboxCounts")
	if counts[store.OutboxDead] != 1 || counts[store.OutboxPending] != 1 {
		t.Fatalf("counts = %v", counts)
	}
	// Failing a delivered event does not resurrect it.
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, a2.ID, got[0].LeaseUntil, next), "MarkDelivered")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, a2.ID, got[0].LeaseUntil, next, "late", false), "MarkFailed(delivered)")
	if ev, _ := h.S.OutboxEvent(h.Ctx, a2.ID); ev.State != store.OutboxDelivered {
		t.Fatalf("delivered event became %s", ev.State)
	}
	ssotest.IsErr(t, h.S.MarkDelivered(h.Ctx, ssotest.RandomID(), time.Time{}, next), sso.ErrNotFound, "MarkDelivered(unknown)")
}

func testOutboxRetry(t *testing.T, h *H) {
	a, b := event("a"), event("b")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, a, b)...), "Enqueue")
	for _, e := range h.claimExactly(h.Now.Add(time.Second), "claim", a, b) {
		ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, e.ID, e.LeaseUntil, h.Now, "x", true), "MarkFailed(dead)")
	}
	n, err := h.S.RetryEvents(h.Ctx, a.ID, h.Now.Add(time.Minute))
	ssotest.NoErr(t, err, "RetryEvents(id)")
	if n != 1 {
		t.Fatalf("RetryEvents(id) = %d", n)
	}
	ev, _ := h.S.OutboxEvent(h.Ctx, a.ID)
	if ev.State != store.OutboxPending || ev.Attempts != 0 {
		t.Fatalf("retried event = %+v", ev)
	}
	if _, err := h.S.RetryEvents(h.Ctx, a.ID, h.Now); err == nil {
		t.Fatal("RetryEvents of a pending event succeeded")
	}
	_, err = h.S.RetryEvents(h.Ctx, ssotest.RandomID(), h.Now)
	ssotest.IsErr(t, err, sso.ErrNotFound, "RetryEvents(unknown)")
	n, err = h.S.RetryEvents(h.Ctx, "", h.Now.Add(time.Minute))
	ssotest.NoErr(t, err, "RetryEvents(all)")
	if n != 1 {
		t.Fatalf("RetryEvents(all) = %d", n)
	}
	got := h.claim(h.Now.Add(time.Minute), 10)
	ssotest.Equal(t, ids(got), []string{a.ID, b.ID}, "claim after retry")
}

// testOutboxRetrySuperseded: a dead event is not re-queued once a later event of its key
// exists (re-sending it would deliver stale state after newer state).
func testOutboxRetrySuperseded(t *testing.T, h *H) {
	old := event("k")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, old)...), "Enqueue(old)")
	claimed := h.claimExactly(h.Now.Add(time.Second), "claim", old)
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, old.ID, claimed[0].LeaseUntil, h.Now, "x", true), "MarkFailed(dead)")
	newer := event("k")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
	if _, err := h.S.RetryEvents(h.Ctx, old.ID, h.Now.Add(time.Minute)); err == nil {
		t.Fatal("RetryEvents re-queued a superseded event")
	}
	n, err := h.S.RetryEvents(h.Ctx, "", h.Now.Add(time.Minute))
	ssotest.NoErr(t, err, "RetryEvents(all)")
	if n != 0 {
		t.Fatalf("RetryEvents(all) re-queued %d superseded events", n)
	}
	if ev, _ := h.S.OutboxEvent(h.Ctx, old.ID); ev.State != store.OutboxDead {
		t.Fatalf("superseded event became %s", ev.State)
	}
}

// testOutboxRetrySupersededAfterPurge (review s10 V4): the later event that supersedes a dead
// one stays until the dead one is gone, even once delivered long ago: purging it made the dead
// event look current again, and a retry then delivered stale state after newer state (an
// "active" update after the deactivation, which the shadow user's digest then hid for good).
func testOutboxRetrySupersededAfterPurge(t *testing.T, h *H) {
	old, other := event("k"), event("other")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, old, other)...), "Enqueue(old, other)")
	for _, e := range h.claimExactly(h.Now.Add(time.Second), "claim", old, other) {
		if e.ID == old.ID {
			ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, e.ID, e.LeaseUntil, h.Now, "x", true), "MarkFailed(dead)")
		} else {
			ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, e.ID, e.LeaseUntil, h.Now), "MarkDelivered(other)")
		}
	}
	newer := event("k")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, newer)...), "Enqueue(newer)")
	claimed := h.claim(h.Now.Add(2*time.Second), 10)
	ssotest.Equal(t, ids(claimed), []string{newer.ID}, "behind the dead event")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, newer.ID, claimed[0].LeaseUntil, h.Now.Add(2*time.Second)), "MarkDelivered(newer)")
	n, err := h.S.PurgeDelivered(h.Ctx, h.Now.Add(time.Hour))
	ssotest.NoErr(t, err, "PurgeDelivered")
	if n != 1 {
		t.Fatalf("PurgeDelivered = %d, want 1 (the other key's event only)", n)
	}
	if _, err := h.S.OutboxEvent(h.Ctx, other.ID); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("the other key's delivered event: %v, want it purged", err)
	}
	if _, err := h.S.RetryEvents(h.Ctx, old.ID, h.Now.Add(time.Hour)); err == nil {
		t.Fatal("RetryEvents re-queued a superseded event once the later one was purged")
	}
	if n, err := h.S.RetryEvents(h.Ctx, "", h.Now.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("RetryEvents(all) = %d, %v; want 0 (the dead event is superseded)", n, err)
	}
	// Once the dead event is discarded, the delivered one goes at the next purge.
	ssotest.NoErr(t, h.S.DiscardEvent(h.Ctx, old.ID), "DiscardEvent")
	n, err = h.S.PurgeDelivered(h.Ctx, h.Now.Add(time.Hour))
	ssotest.NoErr(t, err, "PurgeDelivered after the discard")
	if n != 1 {
		t.Fatalf("PurgeDelivered after the discard = %d, want 1", n)
	}
}

func testOutboxClaimKey(t *testing.T, h *H) {
	a1, a2, b := event("a"), event("a"), event("b")
	a1.NextAttempt = h.Now.Add(time.Hour) // not due: a synchronous delivery takes it anyway
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, a1, a2, b), "Enqueue")
	got, err := h.S.ClaimEvents(h.Ctx, store.Claim{Now: h.Now, Lease: time.Minute, Limit: 10, Key: "a"})
	ssotest.NoErr(t, err, "ClaimEvents(key)")
	ssotest.Equal(t, ids(got), []string{a1.ID}, "ClaimEvents(key)")
}

func testOutboxConcurrentClaims(t *testing.T, h *H) {
	const n = 40
	var all []*store.OutboxEvent
	for i := range n {
		all = append(all, event(fmt.Sprint("k", i)))
	}
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, all...)...), "Enqueue")
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	errs := ssotest.Parallel(8, func(int) error {
		for {
			l, err := h.S.ClaimEvents(h.Ctx, store.Claim{Now: h.Now.Add(time.Second), Lease: time.Minute, Limit: 3})
			if err != nil {
				return err
			}
			if len(l) == 0 {
				return nil
			}
			mu.Lock()
			for _, e := range l {
				seen[e.ID]++
			}
			mu.Unlock()
		}
	})
	ssotest.NoErr(t, errors.Join(errs...), "concurrent ClaimEvents")
	if len(seen) != n {
		t.Fatalf("claimed %d distinct events, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("event %s claimed %d times", id, k)
		}
	}
}

func testOutboxEndSession(t *testing.T, h *H) {
	s := h.createSession(ssotest.RandomID(), "portal")
	e := event("bcl")
	_, err := h.S.EndSessionWithEvents(h.Ctx, s.ID, events(e))
	ssotest.NoErr(t, err, "EndSessionWithEvents")
	_, err = h.S.Session(h.Ctx, s.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "session after EndSessionWithEvents")
	_, err = h.S.OutboxEvent(h.Ctx, e.ID)
	ssotest.NoErr(t, err, "its event")
}

func testOutboxPurge(t *testing.T, h *H) {
	a, b := event("a"), event("b")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, a, b), "Enqueue")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, a.ID, time.Time{}, h.Now), "MarkDelivered(never claimed)")
	n, err := h.S.PurgeDelivered(h.Ctx, h.Now.Add(time.Second))
	ssotest.NoErr(t, err, "PurgeDelivered")
	if n != 1 {
		t.Fatalf("PurgeDelivered = %d", n)
	}
	_, err = h.S.OutboxEvent(h.Ctx, b.ID)
	ssotest.NoErr(t, err, "pending event after PurgeDelivered")
}

// createSession and grant reuse the sso suite's helpers on the bridge store.
func (h *H) sso() *ssotest.H { return &ssotest.H{T: h.T, S: h.S, Ctx: h.Ctx, Now: h.Now} }

func (h *H) createSession(subject string, clients ...string) *sso.Session {
	h.T.Helper()
	return h.sso().CreateSession(subject, clients...)
}

func (h *H) grant(subject, client string) *sso.RefreshToken {
	h.T.Helper()
	return h.sso().Grant(subject, client)
}

// testPollProgress: the change poller's retry list and its watermark are written together
// (review s26 R3-7): rows put replace the member's row, rows deleted go, the watermark moves
// only when a mark is given, and a write that fails changes neither the list nor the mark.
func testPollProgress(t *testing.T, h *H) {
	l, err := h.S.PollRetries(h.Ctx)
	ssotest.NoErr(t, err, "PollRetries(empty)")
	if len(l) != 0 {
		t.Fatalf("empty retry list = %+v", l)
	}
	mark := h.Now.Add(-2 * time.Minute)
	a := store.PollRetry{MemberKey: "B-2", Attempts: 3, NextTry: h.Now.Add(time.Minute)}
	b := store.PollRetry{MemberKey: "A-1", Attempts: 1, Unconfirmed: true}
	ssotest.NoErr(t, h.S.SetPollProgress(h.Ctx, "ams", mark, []store.PollRetry{a, b}, nil, store.Fence{}), "SetPollProgress")
	check := func(what string, mark time.Time, want ...store.PollRetry) {
		t.Helper()
		got, err := h.S.PollRetries(h.Ctx)
		ssotest.NoErr(t, err, "PollRetries")
		if len(got) != len(want) {
			t.Fatalf("%s: retry list = %+v, want %+v", what, got, want)
		}
		for i := range got {
			if got[i].MemberKey != want[i].MemberKey || got[i].Attempts != want[i].Attempts ||
				!got[i].NextTry.Equal(want[i].NextTry) || got[i].Unconfirmed != want[i].Unconfirmed {
				t.Fatalf("%s: retry list = %+v, want %+v", what, got, want)
			}
		}
		w, err := h.S.Watermark(h.Ctx, "ams")
		ssotest.NoErr(t, err, "Watermark")
		if !w.Equal(mark) {
			t.Fatalf("%s: watermark = %v, want %v", what, w, mark)
		}
	}
	check("first write", mark, b, a)
	a.Attempts, a.NextTry, a.Unconfirmed = 4, time.Time{}, true
	ssotest.NoErr(t, h.S.SetPollProgress(h.Ctx, "ams", time.Time{}, []store.PollRetry{a}, []string{"A-1", "unknown"}, store.Fence{}), "SetPollProgress(no mark)")
	check("a row replaced, one deleted, no mark", mark, a)
	err = h.S.SetPollProgress(h.Ctx, "ams", mark.Add(time.Hour), []store.PollRetry{{MemberKey: "C-3", Attempts: 1}, {Attempts: 1}}, []string{"B-2"}, store.Fence{})
	if err == nil {
		t.Fatal("SetPollProgress with a row without a member key succeeded")
	}
	check("a failed write", mark, a)
	mark = mark.Add(time.Hour)
	ssotest.NoErr(t, h.S.SetPollProgress(h.Ctx, "ams", mark, nil, []string{"B-2"}, store.Fence{}), "SetPollProgress(delete)")
	check("the last row deleted, mark moved", mark)
	if other, _ := h.S.Watermark(h.Ctx, "other"); !other.IsZero() {
		t.Fatalf("another watermark = %v", other)
	}
}

// testPollProgressFenced (session 28, P; review s27 R5-6 b): a fenced SetPollProgress writes
// only while the fence's watermark (the sync epoch, moved by whoever takes the sync lock) holds
// the value its writer set; once another holder moved it, the write changes nothing (neither
// the retry list nor the watermark) and answers store.ErrFenced. The fence's own watermark can
// be the one written (a compare-and-set), and a fence on a watermark never set holds the zero
// time.
func testPollProgressFenced(t *testing.T, h *H) {
	e1, e2, e3 := h.Now.Add(time.Nanosecond), h.Now.Add(3*time.Nanosecond), h.Now.Add(4*time.Nanosecond)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, "epoch", e1), "SetWatermark(epoch)")
	mark := h.Now.Add(-2 * time.Minute)
	a := store.PollRetry{MemberKey: "A-1", Attempts: 2}
	ssotest.NoErr(t, h.S.SetPollProgress(h.Ctx, "ams", mark, []store.PollRetry{a}, nil, store.Fence{Epoch: "epoch", Value: e1}), "SetPollProgress(fence held)")
	check := func(what, name string, want time.Time, rows ...store.PollRetry) {
		t.Helper()
		got, err := h.S.PollRetries(h.Ctx)
		ssotest.NoErr(t, err, "PollRetries")
		if len(got) != len(rows) || (len(rows) == 1 && (got[0].MemberKey != rows[0].MemberKey || got[0].Attempts != rows[0].Attempts)) {
			t.Fatalf("%s: retry list = %+v, want %+v", what, got, rows)
		}
		w, err := h.S.Watermark(h.Ctx, name)
		ssotest.NoErr(t, err, "Watermark")
		if !w.Equal(want) {
			t.Fatalf("%s: watermark %s = %v, want %v", what, name, w, want)
		}
	}
	check("fence held", "ams", mark, a)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, "epoch", e2), "SetWatermark(epoch, another holder)")
	err := h.S.SetPollProgress(h.Ctx, "ams", mark.Add(time.Hour), []store.PollRetry{{MemberKey: "B-2", Attempts: 1}}, []string{"A-1"},
		store.Fence{Epoch: "epoch", Value: e1})
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("SetPollProgress after the epoch moved: %v, want store.ErrFenced", err)
	}
	check("fence moved: nothing written", "ams", mark, a)
	if err := h.S.SetPollProgress(h.Ctx, "epoch", e3, nil, nil, store.Fence{Epoch: "epoch", Value: e1}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("compare-and-set of the epoch from an old value: %v, want store.ErrFenced", err)
	}
	check("compare-and-set refused", "epoch", e2, a)
	ssotest.NoErr(t, h.S.SetPollProgress(h.Ctx, "epoch", e3, nil, nil, store.Fence{Epoch: "epoch", Value: e2}), "compare-and-set of the epoch")
	check("compare-and-set", "epoch", e3, a)
	ssotest.NoErr(t, h.S.SetPollProgress(h.Ctx, "ams", mark, nil, []string{"A-1"}, store.Fence{Epoch: "never set"}), "SetPollProgress(fence never set, zero)")
	check("fence never set, zero value", "ams", mark)
	if err := h.S.SetPollProgress(h.Ctx, "ams", mark, []store.PollRetry{a}, nil, store.Fence{Epoch: "never set", Value: e1}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("fence on a watermark never set, with a value: %v, want store.ErrFenced", err)
	}
	check("fence never set, a value: nothing written", "ams", mark)
}

// testShadowPutIfFenced (session 28, P2; review s28 R7-2): a PutShadowUserIf whose condition
// is a lock holder's fence (Fenced) writes while the fence's watermark holds the value the
// holder set; once another holder moved it, it writes nothing (neither the user nor its
// event) and answers store.ErrFenced, not ErrShadowChanged. A changed previous user is still
// ErrShadowChanged.
func testShadowPutIfFenced(t *testing.T, h *H) {
	sub, epoch := ssotest.RandomID(), "epoch-"+ssotest.RandomID()
	e1 := time.Unix(1_700_000_000, 1)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e1), "SetWatermark")
	prev := shadow("portal", sub, "d1", true)
	_, err := h.S.PutShadowUser(h.Ctx, prev)
	ssotest.NoErr(t, err, "PutShadowUser")
	fenced := func(prev *store.ShadowUser) store.ShadowCond {
		return store.ShadowCond{Epoch: epoch, EpochValue: e1, Prev: prev, Fenced: true}
	}
	put := func(what string, c store.ShadowCond, u *store.ShadowUser, wantChanged bool, wantErr error) {
		t.Helper()
		ev := event("k-" + sub)
		changed, err := h.S.PutShadowUserIf(h.Ctx, c, u, ev)
		if wantErr != nil {
			if !errors.Is(err, wantErr) {
				t.Fatalf("%s: %v, want %v", what, err, wantErr)
			}
		} else {
			ssotest.NoErr(t, err, "%s", what)
		}
		if changed != wantChanged {
			t.Fatalf("%s: changed %v, want %v", what, changed, wantChanged)
		}
		_, err = h.S.OutboxEvent(h.Ctx, ev.ID)
		if wantChanged {
			ssotest.NoErr(t, err, "%s: its event", what)
		} else {
			ssotest.IsErr(t, err, sso.ErrNotFound, "%s: its event", what)
		}
	}
	put("a stale previous user, fence held", fenced(shadow("portal", sub, "d0", true)), shadow("portal", sub, "d2", true), false, store.ErrShadowChanged)
	put("fence held", fenced(prev), shadow("portal", sub, "d1", false), true, nil)
	// Another holder took the lock and moved the epoch.
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e1.Add(2)), "SetWatermark(another holder)")
	put("fence moved", fenced(shadow("portal", sub, "d1", false)), shadow("portal", sub, "d1", true), false, store.ErrFenced)
	u, err := h.S.ShadowUser(h.Ctx, "portal", sub)
	ssotest.NoErr(t, err, "ShadowUser")
	if u.Digest != "d1" || u.Active {
		t.Fatalf("after the fenced re-activation: %+v, want d1 inactive", u)
	}
	put("fence moved, no user before", store.ShadowCond{Epoch: epoch, EpochValue: e1, Fenced: true}, shadow("events", sub, "d1", true), false, store.ErrFenced)
	_, err = h.S.ShadowUser(h.Ctx, "events", sub)
	ssotest.IsErr(t, err, sso.ErrNotFound, "shadow user a fenced put would have created")
}

// testShadowDeactivateFenced (session 28, P2; review s28 R7-2): a Deactivation with a fence
// applies while the fence's watermark holds its value; once another holder moved it, it
// applies nothing (no session ended, no grant revoked, no shadow user written, no event, its
// Logout not called) and answers store.ErrFenced.
func testShadowDeactivateFenced(t *testing.T, h *H) {
	sub, epoch := ssotest.RandomID(), "epoch-"+ssotest.RandomID()
	e1 := time.Unix(1_700_000_000, 1)
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e1), "SetWatermark")
	sess := h.createSession(sub, "portal")
	rt := h.grant(sub, "portal")
	_, err := h.S.PutShadowUser(h.Ctx, shadow("portal", sub, "d1", true))
	ssotest.NoErr(t, err, "PutShadowUser")
	deactivation := func(fence store.Fence, called *bool) (*store.Deactivation, *store.OutboxEvent, *store.OutboxEvent) {
		up, ev := event("k-"+sub), event("k-"+sub)
		return &store.Deactivation{Subject: sub, EndSessions: true, Fence: fence,
			Users:  []store.ShadowUpdate{{User: shadow("portal", sub, "d1", false), Events: []*store.OutboxEvent{up}}},
			Events: []*store.OutboxEvent{ev},
			Logout: func([]*store.EndedSession) ([]*store.OutboxEvent, error) { *called = true; return nil, nil },
		}, up, ev
	}
	ssotest.NoErr(t, h.S.SetWatermark(h.Ctx, epoch, e1.Add(2)), "SetWatermark(another holder)")
	var called bool
	d, up, ev := deactivation(store.Fence{Epoch: epoch, Value: e1}, &called)
	ended, err := h.S.Deactivate(h.Ctx, d)
	if !errors.Is(err, store.ErrFenced) || len(ended) != 0 {
		t.Fatalf("Deactivate after the fence moved: %d ended, %v; want none and store.ErrFenced", len(ended), err)
	}
	if called {
		t.Fatal("a fenced deactivation called its Logout")
	}
	_, err = h.S.Session(h.Ctx, sess.ID)
	ssotest.NoErr(t, err, "session after a fenced deactivation")
	if h.sso().Revoked(rt.FamilyID) {
		t.Fatal("family revoked by a fenced deactivation")
	}
	if u, err := h.S.ShadowUser(h.Ctx, "portal", sub); err != nil || !u.Active {
		t.Fatalf("shadow user after a fenced deactivation: %+v, %v; want it active still", u, err)
	}
	for _, e := range []*store.OutboxEvent{up, ev} {
		_, err = h.S.OutboxEvent(h.Ctx, e.ID)
		ssotest.IsErr(t, err, sso.ErrNotFound, "event of a fenced deactivation")
	}

	d, up, ev = deactivation(store.Fence{Epoch: epoch, Value: e1.Add(2)}, &called)
	ended, err = h.S.Deactivate(h.Ctx, d)
	ssotest.NoErr(t, err, "Deactivate(fence held)")
	if len(ended) != 1 || ended[0].ID != sess.ID || !called {
		t.Fatalf("Deactivate(fence held) ended %d sessions (Logout called %v), want %s", len(ended), called, sess.ID)
	}
	if !h.sso().Revoked(rt.FamilyID) {
		t.Fatal("family not revoked by Deactivate(fence held)")
	}
	if u, err := h.S.ShadowUser(h.Ctx, "portal", sub); err != nil || u.Active {
		t.Fatalf("shadow user after Deactivate(fence held): %+v, %v; want it inactive", u, err)
	}
	for _, e := range []*store.OutboxEvent{up, ev} {
		_, err = h.S.OutboxEvent(h.Ctx, e.ID)
		ssotest.NoErr(t, err, "event of Deactivate(fence held)")
	}
}
