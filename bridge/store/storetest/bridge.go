package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var subjectTests = []test{
	{"PutGet", testSubjectPutGet},
	{"Update", testSubjectUpdate},
	{"Unknown", testSubjectUnknown},
	{"Conflict", testSubjectConflict},
}

var consentTests = []test{
	{"PutGet", testConsentPutGet},
	{"Replace", testConsentReplace},
	{"List", testConsentList},
	{"Delete", testConsentDelete},
	{"GoneWithClient", testConsentGoneWithClient},
}

var handoffTests = []test{
	{"UseOnce", testHandoffUseOnce},
	{"Expired", testHandoffExpired},
	{"Shorten", testHandoffShorten},
	{"Concurrent", testHandoffConcurrent},
	{"Purge", testHandoffPurge},
}

var auditTests = []test{
	{"AppendList", testAuditAppendList},
	{"Filters", testAuditFilters},
	{"Limit", testAuditLimit},
	{"Purge", testAuditPurge},
}

func testAuditPurge(t *testing.T, h *H) {
	evs := h.appendEvents(store.AuditEvent{Event: "old", Time: h.Now.Add(-48 * time.Hour)},
		store.AuditEvent{Event: "older", Time: h.Now.Add(-72 * time.Hour)}, store.AuditEvent{Event: "recent"})
	n, err := h.S.PurgeAudit(h.Ctx, h.Now.Add(-24*time.Hour))
	ssotest.NoErr(t, err, "PurgeAudit")
	if n != 2 {
		t.Fatalf("PurgeAudit deleted %d, want 2", n)
	}
	left, err := h.S.AuditEvents(h.Ctx, store.AuditFilter{Since: h.Now.Add(-100 * time.Hour)})
	ssotest.NoErr(t, err, "AuditEvents")
	if len(left) != 1 || left[0].ID != evs[2].ID {
		t.Fatalf("after purge: %+v", left)
	}
}

func testSubjectPutGet(t *testing.T, h *H) {
	want := &store.Subject{Subject: ssotest.RandomID(), MemberKey: "C2F7B6E4-0D4B-4C7F-9E0B-0123456789AB", Login: "jane",
		FirstSeen: h.Now, LastSeen: h.Now}
	ssotest.NoErr(t, h.S.PutSubject(h.Ctx, want), "PutSubject")
	got, err := h.S.SubjectByID(h.Ctx, want.Subject)
	ssotest.NoErr(t, err, "SubjectByID")
	ssotest.Equal(t, got, want, "SubjectByID")
	got, err = h.S.SubjectByMemberKey(h.Ctx, want.MemberKey)
	ssotest.NoErr(t, err, "SubjectByMemberKey")
	ssotest.Equal(t, got, want, "SubjectByMemberKey")
}

func testSubjectUpdate(t *testing.T, h *H) {
	s := &store.Subject{Subject: ssotest.RandomID(), MemberKey: ssotest.RandomID(), Login: "jane", FirstSeen: h.Now, LastSeen: h.Now}
	ssotest.NoErr(t, h.S.PutSubject(h.Ctx, s), "PutSubject")
	later := h.Now.Add(time.Hour)
	ssotest.NoErr(t, h.S.PutSubject(h.Ctx, &store.Subject{Subject: s.Subject, MemberKey: s.MemberKey, Login: "jane.doe",
		FirstSeen: later, LastSeen: later}), "PutSubject(update)")
	got, err := h.S.SubjectByID(h.Ctx, s.Subject)
	ssotest.NoErr(t, err, "SubjectByID")
	want := &store.Subject{Subject: s.Subject, MemberKey: s.MemberKey, Login: "jane.doe", FirstSeen: h.Now, LastSeen: later}
	ssotest.Equal(t, got, want, "subject after update (FirstSeen kept)")
}

func testSubjectUnknown(t *testing.T, h *H) {
	_, err := h.S.SubjectByID(h.Ctx, ssotest.RandomID())
	ssotest.IsErr(t, err, sso.ErrNotFound, "SubjectByID(unknown)")
	_, err = h.S.SubjectByMemberKey(h.Ctx, ssotest.RandomID())
	ssotest.IsErr(t, err, sso.ErrNotFound, "SubjectByMemberKey(unknown)")
}

// testSubjectConflict: a subject is derived from one member key and stays bound to it.
func testSubjectConflict(t *testing.T, h *H) {
	s := &store.Subject{Subject: ssotest.RandomID(), MemberKey: ssotest.RandomID(), Login: "jane", FirstSeen: h.Now, LastSeen: h.Now}
	ssotest.NoErr(t, h.S.PutSubject(h.Ctx, s), "PutSubject")
	ssotest.IsErr(t, h.S.PutSubject(h.Ctx, &store.Subject{Subject: s.Subject, MemberKey: ssotest.RandomID(), Login: "x",
		FirstSeen: h.Now, LastSeen: h.Now}), sso.ErrConflict, "PutSubject with another member key")
	ssotest.IsErr(t, h.S.PutSubject(h.Ctx, &store.Subject{Subject: ssotest.RandomID(), MemberKey: s.MemberKey, Login: "x",
		FirstSeen: h.Now, LastSeen: h.Now}), sso.ErrConflict, "PutSubject of a member key under another subject")
	got, err := h.S.SubjectByID(h.Ctx, s.Subject)
	ssotest.NoErr(t, err, "SubjectByID")
	ssotest.Equal(t, got, s, "subject after refused puts")
}

func testConsentPutGet(t *testing.T, h *H) {
	want := &store.Consent{Subject: "alice", ClientID: "app", Scopes: []string{"email", "openid", "profile"}, GrantedAt: h.Now}
	ssotest.NoErr(t, h.S.PutConsent(h.Ctx, want), "PutConsent")
	got, err := h.S.Consent(h.Ctx, "alice", "app")
	ssotest.NoErr(t, err, "Consent")
	ssotest.Equal(t, got, want, "Consent")
	_, err = h.S.Consent(h.Ctx, "alice", "other")
	ssotest.IsErr(t, err, sso.ErrNotFound, "Consent(unknown client)")
	_, err = h.S.Consent(h.Ctx, "bob", "app")
	ssotest.IsErr(t, err, sso.ErrNotFound, "Consent(unknown subject)")
}

func testConsentReplace(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.PutConsent(h.Ctx, &store.Consent{Subject: "alice", ClientID: "app",
		Scopes: []string{"email", "openid", "profile"}, GrantedAt: h.Now}), "PutConsent")
	want := &store.Consent{Subject: "alice", ClientID: "app", Scopes: []string{"openid"}, GrantedAt: h.Now.Add(time.Hour)}
	ssotest.NoErr(t, h.S.PutConsent(h.Ctx, want), "PutConsent(replace)")
	got, err := h.S.Consent(h.Ctx, "alice", "app")
	ssotest.NoErr(t, err, "Consent")
	ssotest.Equal(t, got, want, "Consent after replace")
}

func testConsentList(t *testing.T, h *H) {
	a := &store.Consent{Subject: "alice", ClientID: "app-a", Scopes: []string{"openid"}, GrantedAt: h.Now}
	b := &store.Consent{Subject: "alice", ClientID: "app-b", Scopes: []string{"email", "openid"}, GrantedAt: h.Now}
	o := &store.Consent{Subject: "bob", ClientID: "app-a", Scopes: []string{"openid"}, GrantedAt: h.Now}
	for _, c := range []*store.Consent{b, o, a} {
		ssotest.NoErr(t, h.S.PutConsent(h.Ctx, c), "PutConsent")
	}
	l, err := h.S.Consents(h.Ctx, "alice")
	ssotest.NoErr(t, err, "Consents(alice)")
	if len(l) != 2 {
		t.Fatalf("Consents(alice) = %d, want 2", len(l))
	}
	for _, c := range l {
		want := a
		if c.ClientID == "app-b" {
			want = b
		}
		ssotest.Equal(t, c, want, "listed consent")
	}
	l, err = h.S.Consents(h.Ctx, "nobody")
	ssotest.NoErr(t, err, "Consents(nobody)")
	if len(l) != 0 {
		t.Fatalf("Consents(nobody) = %d", len(l))
	}
}

// testConsentGoneWithClient: deleting a client deletes every member's consent to it, so a
// client registered later under the same id (another app) asks each member again instead of
// inheriting what they allowed the app that is gone (review s11 Z9).
func testConsentGoneWithClient(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient")
	for _, c := range []*store.Consent{
		{Subject: "alice", ClientID: "gone", Scopes: []string{"openid"}, GrantedAt: h.Now},
		{Subject: "bob", ClientID: "gone", Scopes: []string{"openid", "email"}, GrantedAt: h.Now},
		{Subject: "alice", ClientID: "stays", Scopes: []string{"openid"}, GrantedAt: h.Now},
	} {
		ssotest.NoErr(t, h.S.PutConsent(h.Ctx, c), "PutConsent")
	}
	ssotest.NoErr(t, h.S.DeleteClient(h.Ctx, "gone"), "DeleteClient")
	for _, sub := range []string{"alice", "bob"} {
		_, err := h.S.Consent(h.Ctx, sub, "gone")
		ssotest.IsErr(t, err, sso.ErrNotFound, "Consent of %s to the deleted client", sub)
	}
	_, err := h.S.Consent(h.Ctx, "alice", "stays")
	ssotest.NoErr(t, err, "Consent to another client after DeleteClient")
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient again")
	_, err = h.S.Consent(h.Ctx, "alice", "gone")
	ssotest.IsErr(t, err, sso.ErrNotFound, "Consent to a client registered again under the same id")
}

func testConsentDelete(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.PutConsent(h.Ctx, &store.Consent{Subject: "alice", ClientID: "app", Scopes: []string{"openid"}, GrantedAt: h.Now}), "PutConsent")
	ssotest.NoErr(t, h.S.PutConsent(h.Ctx, &store.Consent{Subject: "alice", ClientID: "keep", Scopes: []string{"openid"}, GrantedAt: h.Now}), "PutConsent")
	ssotest.NoErr(t, h.S.DeleteConsent(h.Ctx, "alice", "app"), "DeleteConsent")
	_, err := h.S.Consent(h.Ctx, "alice", "app")
	ssotest.IsErr(t, err, sso.ErrNotFound, "Consent after delete")
	_, err = h.S.Consent(h.Ctx, "alice", "keep")
	ssotest.NoErr(t, err, "another Consent after delete")
	ssotest.NoErr(t, h.S.DeleteConsent(h.Ctx, "alice", "app"), "DeleteConsent again (idempotent)")
}

// appendEvents writes events at Now-n+1s … Now (oldest first) and returns them with their IDs.
func (h *H) appendEvents(events ...store.AuditEvent) []*store.AuditEvent {
	h.T.Helper()
	out := make([]*store.AuditEvent, len(events))
	for i := range events {
		e := events[i]
		if e.Time.IsZero() {
			e.Time = h.Now.Add(time.Duration(i-len(events)+1) * time.Second)
		}
		ssotest.NoErr(h.T, h.S.Audit(h.Ctx, &e), "Audit")
		if e.ID == 0 {
			h.T.Fatal("Audit did not set the event ID")
		}
		out[i] = &e
	}
	return out
}

func reversed(l []*store.AuditEvent) []*store.AuditEvent {
	out := make([]*store.AuditEvent, len(l))
	for i, e := range l {
		out[len(l)-1-i] = e
	}
	return out
}

func testAuditAppendList(t *testing.T, h *H) {
	l, err := h.S.AuditEvents(h.Ctx, store.AuditFilter{})
	ssotest.NoErr(t, err, "AuditEvents(empty)")
	if len(l) != 0 {
		t.Fatalf("AuditEvents on an empty store = %d", len(l))
	}
	evs := h.appendEvents(
		store.AuditEvent{Event: "login.failure", Login: "jane", IP: "192.0.2.1", Detail: "bad_password"},
		store.AuditEvent{Event: "login.success", Subject: "alice", Login: "jane", ClientID: "app", IP: "2001:db8::1"},
		store.AuditEvent{Event: "token.refresh_reuse", Subject: "alice", ClientID: "app", Detail: "family revoked"},
	)
	ids := map[int64]bool{}
	for _, e := range evs {
		if ids[e.ID] {
			t.Fatalf("duplicate audit ID %d", e.ID)
		}
		ids[e.ID] = true
	}
	l, err = h.S.AuditEvents(h.Ctx, store.AuditFilter{})
	ssotest.NoErr(t, err, "AuditEvents")
	ssotest.Equal(t, l, reversed(evs), "AuditEvents (newest first)")

	// Events in the same instant come back newest (last appended) first.
	same := h.Now.Add(time.Minute)
	tie := h.appendEvents(store.AuditEvent{Event: "a", Time: same}, store.AuditEvent{Event: "b", Time: same})
	l, err = h.S.AuditEvents(h.Ctx, store.AuditFilter{Since: same})
	ssotest.NoErr(t, err, "AuditEvents(since)")
	ssotest.Equal(t, l, reversed(tie), "AuditEvents with equal times")
}

func testAuditFilters(t *testing.T, h *H) {
	evs := h.appendEvents(
		store.AuditEvent{Event: "login.success", Subject: "alice", ClientID: "app-1"},
		store.AuditEvent{Event: "login.success", Subject: "bob", ClientID: "app-2"},
		store.AuditEvent{Event: "login.failure", Login: "carol"},
		store.AuditEvent{Event: "logout", Subject: "alice", ClientID: "app-2"},
		store.AuditEvent{Event: "login.success", Subject: "alice", ClientID: "app-2"},
	)
	pick := func(idx ...int) []*store.AuditEvent {
		var out []*store.AuditEvent
		for i := len(idx) - 1; i >= 0; i-- {
			out = append(out, evs[idx[i]])
		}
		return out
	}
	for _, c := range []struct {
		f    store.AuditFilter
		want []*store.AuditEvent
	}{
		{store.AuditFilter{Event: "login.success"}, pick(0, 1, 4)},
		{store.AuditFilter{Subject: "alice"}, pick(0, 3, 4)},
		{store.AuditFilter{ClientID: "app-2"}, pick(1, 3, 4)},
		{store.AuditFilter{Event: "login.success", Subject: "alice", ClientID: "app-2"}, pick(4)},
		{store.AuditFilter{Since: evs[3].Time}, pick(3, 4)},
		{store.AuditFilter{Subject: "alice", Since: evs[1].Time}, pick(3, 4)},
		{store.AuditFilter{Until: evs[2].Time}, pick(0, 1)},
		{store.AuditFilter{Since: evs[1].Time, Until: evs[4].Time}, pick(1, 2, 3)},
		{store.AuditFilter{Subject: "alice", Since: evs[0].Time, Until: evs[3].Time}, pick(0)},
		{store.AuditFilter{Event: "nothing"}, nil},
	} {
		l, err := h.S.AuditEvents(h.Ctx, c.f)
		ssotest.NoErr(t, err, "AuditEvents(%+v)", c.f)
		ssotest.Equal(t, l, c.want, "AuditEvents(%+v)", c.f)
	}
}

func testAuditLimit(t *testing.T, h *H) {
	events := make([]store.AuditEvent, 120)
	for i := range events {
		events[i] = store.AuditEvent{Event: "login.success", Subject: fmt.Sprint("s", i)}
	}
	evs := h.appendEvents(events...)
	l, err := h.S.AuditEvents(h.Ctx, store.AuditFilter{Limit: 5})
	ssotest.NoErr(t, err, "AuditEvents(limit 5)")
	ssotest.Equal(t, l, reversed(evs[len(evs)-5:]), "AuditEvents(limit 5)")
	l, err = h.S.AuditEvents(h.Ctx, store.AuditFilter{})
	ssotest.NoErr(t, err, "AuditEvents(default limit)")
	if len(l) != 100 {
		t.Fatalf("AuditEvents with the default limit = %d, want 100", len(l))
	}
	ssotest.Equal(t, l[0], evs[len(evs)-1], "newest event")
}

func testHandoffUseOnce(t *testing.T, h *H) {
	a, b := ssotest.RandomID(), ssotest.RandomID()
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)), "UseHandoffToken")
	ssotest.IsErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)), sso.ErrConflict, "UseHandoffToken again")
	ssotest.IsErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(2*time.Hour)), sso.ErrConflict, "UseHandoffToken again, later expiry")
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, b, h.Now.Add(time.Hour)), "UseHandoffToken(another hash)")
}

// testHandoffExpired: once the guard has expired, the hash may be used again (and is guarded
// again).
func testHandoffExpired(t *testing.T, h *H) {
	a := ssotest.RandomID()
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(-time.Second)), "UseHandoffToken(expired)")
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)), "UseHandoffToken after expiry")
	ssotest.IsErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)), sso.ErrConflict, "UseHandoffToken again")
}

// testHandoffShorten: a shortened guard still refuses a replay until its new end, then lets
// the hash go; shortening never lengthens and ignores unknown hashes.
func testHandoffShorten(t *testing.T, h *H) {
	a, b := ssotest.RandomID(), ssotest.RandomID()
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(24*time.Hour)), "UseHandoffToken")
	ssotest.NoErr(t, h.S.ShortenHandoffToken(h.Ctx, a, h.Now.Add(time.Minute)), "ShortenHandoffToken")
	ssotest.IsErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)), sso.ErrConflict, "UseHandoffToken within the shortened guard")
	ssotest.NoErr(t, h.S.ShortenHandoffToken(h.Ctx, a, h.Now.Add(-time.Second)), "ShortenHandoffToken to the past")
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)), "UseHandoffToken after the shortened guard")
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, b, h.Now.Add(time.Minute)), "UseHandoffToken(b)")
	ssotest.NoErr(t, h.S.ShortenHandoffToken(h.Ctx, b, h.Now.Add(time.Hour)), "ShortenHandoffToken later (no-op)")
	ssotest.IsErr(t, h.S.UseHandoffToken(h.Ctx, b, h.Now.Add(time.Hour)), sso.ErrConflict, "UseHandoffToken(b) again")
	ssotest.NoErr(t, h.S.ShortenHandoffToken(h.Ctx, ssotest.RandomID(), h.Now), "ShortenHandoffToken(unknown)")
}

func testHandoffConcurrent(t *testing.T, h *H) {
	a := ssotest.RandomID()
	errs := ssotest.Parallel(20, func(int) error { return h.S.UseHandoffToken(h.Ctx, a, h.Now.Add(time.Hour)) })
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, sso.ErrConflict):
			t.Fatalf("UseHandoffToken %d: %v", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent uses of one hand-off token succeeded, want 1", ok)
	}
}

func testHandoffPurge(t *testing.T, h *H) {
	doomed, kept := ssotest.RandomID(), ssotest.RandomID()
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, doomed, h.Now.Add(time.Hour)), "UseHandoffToken")
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, kept, h.Now.Add(3*time.Hour)), "UseHandoffToken")
	n, err := h.S.Purge(h.Ctx, h.Now.Add(2*time.Hour))
	ssotest.NoErr(t, err, "Purge")
	if n < 1 {
		t.Fatalf("Purge deleted %d rows, want at least 1", n)
	}
	ssotest.IsErr(t, h.S.UseHandoffToken(h.Ctx, kept, h.Now.Add(time.Hour)), sso.ErrConflict, "a kept guard after Purge")
	ssotest.NoErr(t, h.S.UseHandoffToken(h.Ctx, doomed, h.Now.Add(time.Hour)), "a purged guard is gone")
}
