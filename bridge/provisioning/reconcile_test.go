package provisioning_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
	"github.com/ssobridge/ssobridge/wire"
)

// listing injects faults into the test directory's reconcile listing: it records where each
// listing call starts, and fails a chosen call, or every key lookup, as unavailable, or lists
// nobody at all.
type listing struct {
	*bridgetest.Directory
	mu         sync.Mutex
	calls      []string // afterKey of each ListMembers call
	failList   int      // this ListMembers call (1-based) fails as unavailable
	failLookup bool     // MemberByKey fails as unavailable
	empty      bool     // ListMembers lists nobody (a wrong database, a broken query)
}

func (l *listing) ListMembers(ctx context.Context, afterKey string, limit int) ([]*legacy.Member, error) {
	l.mu.Lock()
	l.calls = append(l.calls, afterKey)
	n, empty := len(l.calls), l.empty
	l.mu.Unlock()
	if n == l.failList {
		return nil, legacy.Unavailable("list members", errors.New("connection reset by peer"))
	}
	if empty {
		return nil, nil
	}
	return l.Directory.ListMembers(ctx, afterKey, limit)
}

func (l *listing) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	l.mu.Lock()
	fail := l.failLookup
	l.mu.Unlock()
	if fail {
		return nil, legacy.Unavailable("lookup", errors.New("connection reset by peer"))
	}
	return l.Directory.MemberByKey(ctx, key)
}

const (
	carolKey = "44444444-4444-4444-4444-444444444444"
	carolSub = "sub-carol"
	daveKey  = "55555555-5555-5555-5555-555555555555"
)

// reconcileFixture: alice (signed in, provisioned at portal, a session with portal and events
// and a refresh token at each) and carol (signed in, provisioned at portal), bob (signed in,
// never provisioned), locked and dave (never signed in). The portal has a back-channel
// logout URI; reconcile pages list 2 members.
type reconcileFixture struct {
	*fixture
	list    *listing
	sess    *sso.Session
	rts     []*sso.RefreshToken
	initial map[string]bool // ids of the events queued by the set-up
}

func newReconcileFixture(t *testing.T) *reconcileFixture {
	t.Helper()
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal", BackchannelLogoutURI: "https://portal.example.org/bcl"}, "events": {ID: "events"}})
	r := &reconcileFixture{fixture: f, list: &listing{Directory: f.dir}, initial: map[string]bool{}}
	f.dir.Add(&legacy.Member{Key: carolKey, MemberID: "1004", Login: "carol", Email: "carol@example.org", FullName: "Carol Chen",
		MemberType: "REG", Status: "A", PaidThrough: time.Now().AddDate(1, 0, 0), Roles: []string{"Member", "Board"},
		Standing: legacy.Standing{Approved: true}}, "carol-password")
	f.dir.Add(&legacy.Member{Key: daveKey, MemberID: "1005", Login: "dave", FullName: "Dave Doe", Roles: []string{"Member"},
		Standing: legacy.Standing{Approved: true}}, "dave-password")
	f.opts.Directory = r.list
	f.opts.Config.ReconcileBatch, f.opts.Config.ReconcileRate = 2, 100000
	f.start()
	ctx := t.Context()
	for _, s := range []*store.Subject{{Subject: carolSub, MemberKey: carolKey, Login: "carol"},
		{Subject: "sub-bob", MemberKey: "22222222-2222-2222-2222-222222222222", Login: "bob"}} {
		if err := f.st.PutSubject(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, sub := range []string{aliceSub, carolSub} {
		if err := f.svc.Provision(ctx, "portal", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	h := &ssotest.H{T: t, S: f.st, Ctx: ctx, Now: ssotest.Now()}
	r.sess = h.CreateSession(aliceSub, "portal", "events")
	for _, c := range []string{"portal", "events"} {
		r.rts = append(r.rts, h.Grant(aliceSub, c))
	}
	for _, e := range r.events() {
		r.initial[e.ID] = true
	}
	return r
}

// events lists every outbox event, oldest first.
func (r *reconcileFixture) events() []*store.OutboxEvent {
	r.t.Helper()
	evs, err := r.st.OutboxEvents(r.t.Context(), store.OutboxFilter{State: store.OutboxPending, Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	return evs
}

// queued describes the events queued since the set-up as "type client subject".
func (r *reconcileFixture) queued() []string {
	out := []string{}
	for _, e := range r.events() {
		if !r.initial[e.ID] {
			out = append(out, e.Type+" "+e.ClientID+" "+e.Subject)
		}
	}
	return out
}

// aliceEnded reports whether alice's session is over and both her refresh tokens revoked.
func (r *reconcileFixture) aliceEnded() bool {
	ctx := r.t.Context()
	if _, err := r.st.Session(ctx, r.sess.ID); !errors.Is(err, sso.ErrNotFound) {
		return false
	}
	for _, rt := range r.rts {
		if got, err := r.st.Family(ctx, rt.FamilyID); err != nil || !got.Revoked {
			return false
		}
	}
	return true
}

func (r *reconcileFixture) shadowUser(sub string) *store.ShadowUser {
	u, err := r.st.ShadowUser(r.t.Context(), "portal", sub)
	if err != nil {
		r.t.Fatal(err)
	}
	return u
}

// TestReconcileTransitions: one complete pass per transition of a member between two passes.
func TestReconcileTransitions(t *testing.T) {
	gone := []string{"user.deactivated portal sub-alice", "logout.backchannel portal sub-alice"}
	cases := []struct {
		name   string
		change func(r *reconcileFixture)
		queued []string
		// compared and goneN are the counts of the pass; ended: alice lost session and tokens.
		compared, goneN int
		ended           bool
		check           func(t *testing.T, r *reconcileFixture)
	}{
		{name: "unchanged", change: func(*reconcileFixture) {}, queued: []string{}, compared: 3},
		{name: "new member who never signed in", change: func(r *reconcileFixture) {
			r.dir.Add(&legacy.Member{Key: "66666666-6666-6666-6666-666666666666", Login: "erin", Roles: []string{"Member"},
				Standing: legacy.Standing{Approved: true}}, "pw")
		}, queued: []string{}, compared: 3, check: func(t *testing.T, r *reconcileFixture) {
			if _, err := r.st.SubjectByMemberKey(t.Context(), "66666666-6666-6666-6666-666666666666"); !errors.Is(err, sso.ErrNotFound) {
				t.Fatalf("a subject was made up for a member who never signed in: %v", err)
			}
		}},
		{name: "change the client does not see (same digest)", change: func(r *reconcileFixture) {
			r.dir.Update("alice", func(m *legacy.Member) { m.Company = "Acme" })
		}, queued: []string{}, compared: 3},
		{name: "changed digest (roles, no timestamp)", change: func(r *reconcileFixture) {
			r.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Board"} })
		}, queued: []string{"user.updated portal sub-alice"}, compared: 3, check: func(t *testing.T, r *reconcileFixture) {
			var ev wire.Event
			evs := r.events()
			if err := json.Unmarshal(evs[len(evs)-1].Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ev.Data.Roles, []string{"Board"}) || !slices.Equal(ev.RemovedRoles, []string{"Member"}) || !ev.Data.Active {
				t.Fatalf("update event = %+v", ev)
			}
			if !strings.Contains(string(r.shadowUser(aliceSub).View), `"Board"`) {
				t.Fatal("stored view not updated with the event")
			}
		}},
		{name: "disappeared (contact deleted)", change: func(r *reconcileFixture) { r.dir.Remove("alice") },
			queued: gone, compared: 2, goneN: 1, ended: true, check: func(t *testing.T, r *reconcileFixture) {
				var ev wire.Event
				for _, e := range r.events() {
					if e.Type == wire.TypeDeactivated {
						json.Unmarshal(e.Payload, &ev)
					}
				}
				// The last data sent, inactive: the AMS has nothing newer.
				if ev.Data.Active || ev.Data.Login != "alice" || ev.Data.Email != "alice@example.org" || ev.Data.Subject != aliceSub {
					t.Fatalf("deactivation event = %+v", ev)
				}
				if r.shadowUser(aliceSub).Active || !r.shadowUser(carolSub).Active {
					t.Fatal("wrong shadow users deactivated")
				}
			}},
		{name: "deleted contact whose login rows still answer a lookup", change: func(r *reconcileFixture) {
			r.dir.Update("alice", func(m *legacy.Member) { m.Standing.Deleted = true })
		}, queued: gone, compared: 3, ended: true},
		{name: "disabled (listed, may not sign in)", change: func(r *reconcileFixture) {
			r.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
		}, queued: gone, compared: 3, ended: true},
		{name: "the last member disappeared (tail after the last listed key)", change: func(r *reconcileFixture) {
			r.dir.Remove("carol")
			r.dir.Remove("dave")
		}, queued: []string{"user.deactivated portal sub-carol"}, compared: 2, goneN: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReconcileFixture(t)
			tc.change(r)
			res, err := r.svc.Reconcile(t.Context())
			if err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if !res.Finished || res.Resumed || res.Compared != tc.compared || res.Gone != tc.goneN || res.Failed != 0 {
				t.Fatalf("result = %+v, want compared %d, gone %d", res, tc.compared, tc.goneN)
			}
			if got := r.queued(); !slices.Equal(got, tc.queued) {
				t.Fatalf("queued events:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.queued, "\n  "))
			}
			if got := r.aliceEnded(); got != tc.ended {
				t.Fatalf("alice's session and tokens ended = %v, want %v", got, tc.ended)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
			// A second pass over the same AMS changes nothing more.
			before := len(r.events())
			if _, err := r.svc.Reconcile(t.Context()); err != nil {
				t.Fatal(err)
			}
			if after := len(r.events()); after != before {
				t.Fatalf("a second pass without changes queued %d events", after-before)
			}
			st, _ := r.st.ReconcileState(t.Context(), provisioning.ReconcileName)
			if !st.StartedAt.IsZero() || st.Cursor != "" || st.FinishedAt.IsZero() {
				t.Fatalf("state after complete passes = %+v", st)
			}
		})
	}
}

// TestReconcileFailures: a listing or lookup that fails part-way deactivates nobody past what
// was listed; the pass keeps its cursor and the next call resumes there, also in a new
// process over the same store.
func TestReconcileFailures(t *testing.T) {
	cases := []struct {
		name string
		// arrange runs before the first call; between runs before the second one.
		arrange, between func(r *reconcileFixture)
		// firstCalls are the afterKeys the first call lists with; resumeAt is the key the
		// second call starts after.
		firstCalls []string
		resumeAt   string
		restart    bool
		wantErr    error
		// firstQueued are the events the failed call queued before it failed, thenQueued
		// those the resumed pass queued.
		firstQueued, thenQueued []string
	}{
		{name: "AMS error on the second page", arrange: func(r *reconcileFixture) {
			r.list.failList = 2
			r.dir.Remove("carol") // on the third page: must survive the failed pass
		}, firstCalls: []string{"", "22222222-2222-2222-2222-222222222222"}, resumeAt: "22222222-2222-2222-2222-222222222222",
			wantErr: legacy.ErrUnavailable, thenQueued: []string{"user.deactivated portal sub-carol"}},
		{name: "AMS error on the first page", arrange: func(r *reconcileFixture) {
			r.list.failList = 1
			r.dir.Remove("alice")
		}, firstCalls: []string{""}, resumeAt: "", wantErr: legacy.ErrUnavailable, thenQueued: []string{"user.deactivated portal sub-alice", "logout.backchannel portal sub-alice"}},
		{name: "AMS down", arrange: func(r *reconcileFixture) {
			r.dir.Down = true
			r.dir.Remove("alice")
		}, between: func(r *reconcileFixture) { r.dir.Down = false },
			firstCalls: []string{""}, resumeAt: "", wantErr: legacy.ErrUnavailable, thenQueued: []string{"user.deactivated portal sub-alice", "logout.backchannel portal sub-alice"}},
		{name: "lookup of an unlisted member fails", arrange: func(r *reconcileFixture) {
			r.list.failLookup = true
			r.dir.Remove("alice")
		}, between: func(r *reconcileFixture) { r.list.failLookup = false },
			firstCalls: []string{""}, resumeAt: "", wantErr: legacy.ErrUnavailable, thenQueued: []string{"user.deactivated portal sub-alice", "logout.backchannel portal sub-alice"}},
		{name: "AMS lists nobody", arrange: func(r *reconcileFixture) { r.list.empty = true },
			between:    func(r *reconcileFixture) { r.list.empty = false },
			firstCalls: []string{""}, resumeAt: "", wantErr: provisioning.ErrEmptyListing},
		{name: "restart after the second page", arrange: func(r *reconcileFixture) {
			r.list.failList = 3
			r.dir.Update("carol", func(m *legacy.Member) { m.Roles = []string{"Member"} })
		}, firstCalls: []string{"", "22222222-2222-2222-2222-222222222222", carolKey},
			resumeAt: carolKey, restart: true, wantErr: legacy.ErrUnavailable, firstQueued: []string{"user.updated portal sub-carol"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReconcileFixture(t)
			tc.arrange(r)
			res, err := r.svc.Reconcile(t.Context())
			if !errors.Is(err, tc.wantErr) || res.Finished || res.Gone != 0 {
				t.Fatalf("first pass = %+v, %v; want an unfinished pass failing with %v", res, err, tc.wantErr)
			}
			if !slices.Equal(r.list.calls, tc.firstCalls) {
				t.Fatalf("listed after %q, want %q", r.list.calls, tc.firstCalls)
			}
			if got := r.queued(); !slices.Equal(got, append([]string{}, tc.firstQueued...)) {
				t.Fatalf("the failed pass queued %v, want %v", got, tc.firstQueued)
			}
			if r.aliceEnded() || !r.shadowUser(aliceSub).Active || !r.shadowUser(carolSub).Active {
				t.Fatal("a partial listing deactivated a member")
			}
			st, _ := r.st.ReconcileState(t.Context(), provisioning.ReconcileName)
			if st.StartedAt.IsZero() || st.Cursor != tc.resumeAt {
				t.Fatalf("progress after the failure = %+v, want cursor %q", st, tc.resumeAt)
			}

			if tc.between != nil {
				tc.between(r)
			}
			r.list.failList = 0
			if tc.restart {
				r.st.Close()
				r.open()
				r.start()
			}
			r.list.calls = nil
			res, err = r.svc.Reconcile(t.Context())
			if err != nil || !res.Finished || !res.Resumed {
				t.Fatalf("resumed pass = %+v, %v", res, err)
			}
			if len(r.list.calls) == 0 || r.list.calls[0] != tc.resumeAt {
				t.Fatalf("resumed pass listed after %q, want to start after %q", r.list.calls, tc.resumeAt)
			}
			if got := r.queued(); !slices.Equal(got, append(append([]string{}, tc.firstQueued...), tc.thenQueued...)) {
				t.Fatalf("after the resumed pass: %v, want %v then %v", got, tc.firstQueued, tc.thenQueued)
			}
		})
	}
}

// TestReconcileRestartFinishesWhatWasLeft: after a crash in the middle of a pass, the new
// process lists only what was left and still finds the member who disappeared there.
func TestReconcileRestartFinishesWhatWasLeft(t *testing.T) {
	r := newReconcileFixture(t)
	r.list.failList = 2
	r.dir.Remove("carol")
	if _, err := r.svc.Reconcile(t.Context()); !errors.Is(err, legacy.ErrUnavailable) {
		t.Fatalf("first pass: %v", err)
	}
	r.st.Close()
	r.open()
	r.list.failList, r.list.calls = 0, nil
	r.start()
	res, err := r.svc.Reconcile(t.Context())
	if err != nil || !res.Resumed || res.Listed != 2 || res.Gone != 1 || res.Compared != 0 {
		t.Fatalf("resumed pass = %+v, %v", res, err)
	}
	if want := []string{"22222222-2222-2222-2222-222222222222", daveKey}; !slices.Equal(r.list.calls, want) {
		t.Fatalf("resumed pass listed after %q, want %q", r.list.calls, want)
	}
	if got := r.queued(); !slices.Equal(got, []string{"user.deactivated portal sub-carol"}) {
		t.Fatalf("queued %v", got)
	}
}

// TestReconcileOneAtATime: while the job lock is held elsewhere, Reconcile does nothing.
func TestReconcileOneAtATime(t *testing.T) {
	r := newReconcileFixture(t)
	lock := &provisioning.LocalLock{}
	r.opts.Lock = lock
	r.start()
	release, ok, err := lock.TryLock(t.Context(), provisioning.ReconcileName)
	if !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if _, ok, _ := lock.TryLock(t.Context(), provisioning.ReconcileName); ok {
		t.Fatal("the lock was taken twice")
	}
	if _, ok, _ := lock.TryLock(t.Context(), "another job"); !ok {
		t.Fatal("another job's lock is not free")
	}
	r.dir.Remove("alice")
	if _, err := r.svc.Reconcile(t.Context()); !errors.Is(err, provisioning.ErrReconcileBusy) {
		t.Fatalf("Reconcile under a held lock: %v", err)
	}
	if len(r.list.calls) != 0 || r.aliceEnded() {
		t.Fatal("a reconcile ran under a held lock")
	}
	release()
	release() // idempotent
	if res, err := r.svc.Reconcile(t.Context()); err != nil || res.Gone != 1 {
		t.Fatalf("Reconcile after release = %+v, %v", res, err)
	}
	if _, ok, _ := lock.TryLock(t.Context(), provisioning.ReconcileName); !ok {
		t.Fatal("Reconcile did not release its lock")
	}
}

func TestReconcileConfig(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*provisioning.Config)
		want   string
	}{
		{func(c *provisioning.Config) {}, ""},
		{func(c *provisioning.Config) { c.ReconcileInterval = 0 }, ""},
		{func(c *provisioning.Config) { c.ReconcileInterval = 30 * time.Second }, "shadow.reconcile_interval:"},
		{func(c *provisioning.Config) { c.ReconcileRate = -1 }, "shadow.reconcile_rate:"},
		{func(c *provisioning.Config) { c.ReconcileBatch = 0 }, "shadow.reconcile_batch:"},
	} {
		c := provisioning.Defaults()
		tc.mutate(&c)
		err := c.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.HasPrefix(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want %q", c, err, tc.want)
		}
	}
	if d := provisioning.Defaults(); d.ReconcileInterval != 15*time.Minute {
		t.Fatalf("default reconcile_interval = %v", d.ReconcileInterval)
	}
}

// TestReconcileMemberFailure: a member whose view cannot be computed (not an AMS failure) is
// logged and counted, and the pass goes on to the others and finishes.
func TestReconcileMemberFailure(t *testing.T) {
	r := newReconcileFixture(t)
	r.opts.Viewer = provisioning.ViewFunc(func(ctx context.Context, m *legacy.Member, sub, client string, now time.Time) (map[string]any, error) {
		if sub == carolSub {
			return nil, errors.New("claim policy: no such attribute")
		}
		return viewer(ctx, m, sub, client, now)
	})
	r.start()
	r.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Board"} })
	r.dir.Update("carol", func(m *legacy.Member) { m.Roles = []string{"Member"} })
	res, err := r.svc.Reconcile(t.Context())
	if err != nil || !res.Finished || res.Failed != 1 || res.Compared != 2 {
		t.Fatalf("pass = %+v, %v; want finished with carol failed", res, err)
	}
	if got := r.queued(); !slices.Equal(got, []string{"user.updated portal sub-alice"}) {
		t.Fatalf("queued %v", got)
	}
}
