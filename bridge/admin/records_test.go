package admin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// TestUpdateClient: an edit replaces a dynamic client's registration and keeps its secret; a
// static client, a switch between public and confidential and an invalid registration are refused.
func TestUpdateClient(t *testing.T) {
	ctx := context.Background()
	reg := admin.Client{Name: "Renamed", RedirectURIs: []string{"https://dyn.example/new"}}
	for _, tc := range []struct {
		name string
		id   string
		edit func(c *admin.Client)
		err  error
	}{
		{"edit", "dyn", func(*admin.Client) {}, nil},
		{"static", "web", func(*admin.Client) {}, admin.ErrStatic},
		{"unknown", "nope", func(*admin.Client) {}, admin.ErrNotFound},
		{"to public", "dyn", func(c *admin.Client) { c.Public = true }, admin.ErrInvalid},
		{"bad redirect", "dyn", func(c *admin.Client) { c.RedirectURIs = []string{"https://dyn.example/cb#frag"} }, admin.ErrInvalid},
		{"no redirect", "dyn", func(c *admin.Client) { c.RedirectURIs = nil }, admin.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			before := *f.storedClient(t, "dyn")
			r := reg
			tc.edit(&r)
			ci, err := f.svc.UpdateClient(ctx, "tester", tc.id, r)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			after, _ := sso.DecodeClient(f.storedClient(t, "dyn"))
			if tc.err != nil {
				if !reflect.DeepEqual(*f.storedClient(t, "dyn"), before) {
					t.Fatal("a refused edit changed the client")
				}
				return
			}
			old, _ := sso.DecodeClient(&before)
			if ci.Name != "Renamed" || after.Name != "Renamed" || !slices.Equal(after.RedirectURIs, r.RedirectURIs) ||
				after.SecretHash != old.SecretHash || after.SecretHash == "" || !f.storedClient(t, "dyn").CreatedAt.Equal(before.CreatedAt) {
				t.Fatalf("after edit: %+v (info %+v)", after, ci)
			}
			if got := f.events(); !slices.Equal(got, []string{"admin.client_edit"}) {
				t.Fatalf("audit %v", got)
			}
		})
	}
}

type keys map[string]*legacy.Member

func (k keys) MemberByKey(_ context.Context, key string) (*legacy.Member, error) {
	if m, ok := k[key]; ok {
		return m, nil
	}
	return nil, legacy.ErrNotFound
}

// TestMemberRoles: the roles come from the AMS by the subject's member key.
func TestMemberRoles(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.putSubject(t, &store.Subject{Subject: "sub-k1", MemberKey: "k1", Login: "alice"})
	f.putSubject(t, &store.Subject{Subject: "sub-gone", MemberKey: "k9"})
	f.svc.Keys = keys{"k1": {Key: "k1", Login: "alice", Roles: []string{"Member", "SysAdmin"}, Standing: legacy.Standing{Approved: true}}}
	login, roles, err := f.svc.MemberRoles(ctx, "sub-k1")
	if err != nil || login != "alice" || !slices.Equal(roles, []string{"Member", "SysAdmin"}) {
		t.Fatalf("MemberRoles = %q %v %v", login, roles, err)
	}
	for _, sub := range []string{"sub-gone", "sub-unknown"} {
		if _, _, err := f.svc.MemberRoles(ctx, sub); !errors.Is(err, admin.ErrNotFound) {
			t.Fatalf("MemberRoles(%s) err %v", sub, err)
		}
	}
	if !admin.HasRole([]string{"Member", "sysadmin"}, []string{"SysAdmin"}) || admin.HasRole([]string{"Member"}, []string{"SysAdmin"}) || admin.HasRole(nil, nil) {
		t.Fatal("HasRole")
	}
}

// recordsFixture is the fixture with its store as the records too.
func recordsFixture(t *testing.T) (*fixture, *sqlite.Store) {
	t.Helper()
	f := newFixture(t)
	f.svc.Records = f.st
	return f, f.st
}

// TestConsentsAndAudit: consents of a member by login or subject; the audit search by member,
// client, event and time range.
func TestConsentsAndAudit(t *testing.T) {
	ctx := context.Background()
	f, st := recordsFixture(t)
	f.putSubject(t, &store.Subject{Subject: "sub-k2", MemberKey: "k2", Login: "bob"})
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.PutConsent(ctx, &store.Consent{Subject: "sub-k1", ClientID: "third", Scopes: []string{"email", "openid"}, GrantedAt: now}))
	for _, member := range []string{"alice", "sub-k1"} {
		cs, err := f.svc.Consents(ctx, "tester", member)
		if err != nil || len(cs) != 1 || cs[0].ClientID != "third" || !slices.Equal(cs[0].Scopes, []string{"email", "openid"}) {
			t.Fatalf("Consents(%s) = %+v %v", member, cs, err)
		}
	}
	if _, err := f.svc.Consents(ctx, "tester", "nobody"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("Consents(nobody) err %v", err)
	}
	must(st.PutUpstreamLink(ctx, &store.UpstreamLink{Issuer: "https://accounts.google.com", UpstreamSubject: "g-1", Subject: "sub-k1",
		Provider: "google", Email: "alice@gmail.example", CreatedAt: now}))
	links, err := f.svc.LinkedIdentities(ctx, "tester", "alice")
	if err != nil || len(links) != 1 || links[0].Provider != "google" || links[0].UpstreamSubject != "g-1" {
		t.Fatalf("LinkedIdentities = %+v %v", links, err)
	}
	if links, err := f.svc.LinkedIdentities(ctx, "tester", "sub-k2"); err != nil || len(links) != 0 {
		t.Fatalf("LinkedIdentities(bob) = %+v %v", links, err)
	}
	for i, e := range []store.AuditEvent{
		{Event: "login.success", Subject: "sub-k1", ClientID: "web"},
		{Event: "login.success", Subject: "sub-k2", ClientID: "web"},
		{Event: "logout", Subject: "sub-k1", ClientID: "dyn"},
		{Event: "login.success", Subject: "sub-k1", ClientID: "dyn"},
	} {
		e.Time = now.Add(time.Duration(i) * time.Minute)
		must(st.Audit(ctx, &e))
	}
	desc := func(evs []*store.AuditEvent) string {
		var s []string
		for _, e := range evs {
			s = append(s, fmt.Sprintf("%s/%s/%s/%d", e.Event, e.Subject, e.ClientID, e.Time.Sub(now)/time.Minute))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		q    admin.AuditQuery
		want string
		err  error
	}{
		{admin.AuditQuery{Member: "alice"}, "login.success/sub-k1/dyn/3 logout/sub-k1/dyn/2 login.success/sub-k1/web/0", nil},
		{admin.AuditQuery{Member: "sub-k2"}, "login.success/sub-k2/web/1", nil},
		{admin.AuditQuery{Client: "dyn", Event: "logout"}, "logout/sub-k1/dyn/2", nil},
		{admin.AuditQuery{Since: now.Add(time.Minute), Until: now.Add(3 * time.Minute)}, "logout/sub-k1/dyn/2 login.success/sub-k2/web/1", nil},
		{admin.AuditQuery{Since: now.Add(time.Minute), Until: now.Add(time.Minute)}, "", admin.ErrInvalid},
		{admin.AuditQuery{Member: "nobody"}, "", admin.ErrNotFound},
	} {
		evs, err := f.svc.AuditEvents(ctx, "tester", tc.q)
		if !errors.Is(err, tc.err) || desc(evs) != tc.want {
			t.Fatalf("AuditEvents(%+v) = %q %v, want %q %v", tc.q, desc(evs), err, tc.want, tc.err)
		}
	}
	if got := f.events(); !slices.Equal(got, []string{"admin.consents_list", "admin.consents_list", "admin.links_list", "admin.links_list", "admin.audit_search",
		"admin.audit_search", "admin.audit_search", "admin.audit_search"}) {
		t.Fatalf("audit of the administration: %v", got)
	}
}

// TestOutboxStatusRetryDiscard: depth per target, failing and dead events; retry and discard
// of dead letters only.
func TestOutboxStatusRetryDiscard(t *testing.T) {
	ctx := context.Background()
	f, st := recordsFixture(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(id, client, channel string) *store.OutboxEvent {
		return &store.OutboxEvent{ID: id, Key: channel + "|" + client + "|" + id, Type: "user.updated", Channel: channel,
			ClientID: client, Subject: "sub-k1", Payload: []byte(`{}`), NextAttempt: now, CreatedAt: now}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.Enqueue(ctx, ev("ok", "portal", "scim"), ev("failing", "portal", "scim"), ev("dead", "lms", "webhook"), ev("dead2", "lms", "webhook")))
	_, err := st.ClaimEvents(ctx, store.Claim{Now: now.Add(time.Second), Lease: time.Minute, Limit: 10})
	must(err)
	lease := now.Add(time.Second + time.Minute) // the claim's lease end
	must(st.MarkFailed(ctx, "failing", lease, now.Add(time.Hour), "503 from portal", false))
	must(st.MarkFailed(ctx, "ok", lease, now.Add(time.Hour), "", false))
	must(st.MarkFailed(ctx, "dead", lease, now, "401 from lms", true))
	must(st.MarkFailed(ctx, "dead2", lease, now, "401 from lms", true))
	s, err := f.svc.Outbox(ctx, "tester")
	must(err)
	want := []admin.TargetDepth{{ClientID: "lms", Channel: "webhook", Dead: 2}, {ClientID: "portal", Channel: "scim", Pending: 2, Failing: 1, Oldest: s.Targets[1].Oldest}}
	if !slices.Equal(s.Targets, want) || s.Targets[1].Oldest.IsZero() || len(s.Failing) != 1 || s.Failing[0].LastError != "503 from portal" ||
		len(s.Dead) != 2 || s.Dead[0].LastError != "401 from lms" || s.Counts[store.OutboxDead] != 2 {
		t.Fatalf("status %+v", s)
	}
	if err := f.svc.DiscardEvent(ctx, "tester", "failing"); !errors.Is(err, admin.ErrInvalid) {
		t.Fatalf("discard of a pending event: %v", err)
	}
	if err := f.svc.DiscardEvent(ctx, "tester", "nope"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("discard of an unknown event: %v", err)
	}
	must(f.svc.DiscardEvent(ctx, "tester", "dead"))
	if _, err := f.svc.RetryEvents(ctx, "tester", "nope"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("retry of an unknown event: %v", err)
	}
	if _, err := f.svc.RetryEvents(ctx, "tester", "failing"); !errors.Is(err, admin.ErrInvalid) {
		t.Fatalf("retry of a pending event: %v", err)
	}
	if n, err := f.svc.RetryEvents(ctx, "tester", "dead2"); err != nil || n != 1 {
		t.Fatalf("retry = %d %v", n, err)
	}
	s, err = f.svc.Outbox(ctx, "tester")
	must(err)
	if len(s.Dead) != 0 || s.Counts[store.OutboxPending] != 3 {
		t.Fatalf("after discard and retry: %+v", s)
	}
	if got := f.events(); !slices.Equal(got, []string{"admin.outbox_status", "admin.outbox_discard", "admin.outbox_retry", "admin.outbox_status"}) {
		t.Fatalf("audit %v", got)
	}
}

// TestOutboxStatusSuperseded (brief s21 G2 item 2): the status counts superseded events, in
// all and per target, and its audit line says how many.
func TestOutboxStatusSuperseded(t *testing.T) {
	ctx := context.Background()
	f, st := recordsFixture(t)
	now := time.Now()
	ev := func(id string) *store.OutboxEvent {
		return &store.OutboxEvent{ID: id, Key: "webhook|portal|sub-k1", Type: "user.updated", Channel: "webhook",
			ClientID: "portal", Subject: "sub-k1", Payload: []byte(`{}`)}
	}
	if err := st.Enqueue(ctx, ev("old")); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimEvents(ctx, store.Claim{Now: now.Add(time.Second), Lease: time.Minute, Limit: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	newer := ev("newer")
	newer.Supersedes = []string{"old"} // in flight: superseded when it fails
	if err := st.Enqueue(ctx, newer); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkFailed(ctx, "old", claimed[0].LeaseUntil, now.Add(time.Hour), "503", false); !errors.Is(err, store.ErrSuperseded) {
		t.Fatalf("MarkFailed: %v", err)
	}
	s, err := f.svc.Outbox(ctx, "tester")
	if err != nil {
		t.Fatal(err)
	}
	want := []admin.TargetDepth{{ClientID: "portal", Channel: "webhook", Pending: 1, Superseded: 1, Oldest: s.Targets[0].Oldest}}
	if !slices.Equal(s.Targets, want) || s.Counts[store.OutboxSuperseded] != 1 || len(s.Failing) != 0 {
		t.Fatalf("status %+v", s)
	}
}

type amsFake struct{ pingErr, diagErr, tokenErr error }

func (a amsFake) Ping(context.Context) error { return a.pingErr }
func (a amsFake) Diagnose(_ context.Context, login string, w io.Writer) error {
	fmt.Fprintf(w, "[member_by_login] 1 row(s) for %s\n", login)
	return a.diagErr
}
func (a amsFake) CheckToken(_ context.Context, w io.Writer) error {
	fmt.Fprintln(w, "POST /token: 200")
	return a.tokenErr
}

// TestAMSTest: every step runs and is reported with its trace and error; missing capabilities
// and a missing login are skipped steps, not failures.
func TestAMSTest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	fake := amsFake{tokenErr: errors.New("invalid_client")}
	f.svc.AMS = admin.AMSChecks{Ping: fake, Diagnoser: fake, Token: fake}
	steps := f.svc.TestAMS(ctx, "tester", " alice ")
	if len(steps) != 3 || !steps[0].OK || !steps[1].OK || steps[1].Name != "queries for alice" || !strings.Contains(steps[1].Trace, "1 row(s) for alice") ||
		steps[2].OK || steps[2].Error != "invalid_client" || !strings.Contains(steps[2].Trace, "POST /token") {
		t.Fatalf("steps %+v", steps)
	}
	f.svc.AMS = admin.AMSChecks{Ping: amsFake{pingErr: errors.New("login timeout")}}
	steps = f.svc.TestAMS(ctx, "tester", "")
	if len(steps) != 3 || steps[0].OK || steps[0].Error != "login timeout" || !steps[1].Skipped || !steps[2].Skipped {
		t.Fatalf("steps %+v", steps)
	}
	if got := f.events(); !slices.Equal(got, []string{"admin.ams_test", "admin.ams_test"}) || !strings.Contains(f.audit[0].Detail, "3 step(s), 1 failed") {
		t.Fatalf("audit %v %+v", got, f.audit[0])
	}
}

type mfaFake map[string]admin.FactorsInfo

func (m mfaFake) Factors(_ context.Context, sub string) (admin.FactorsInfo, error) {
	return m[sub], nil
}

// TestMemberFactors: a member's second factors by login, audited; without MFA there is nothing
// to show.
func TestMemberFactors(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if fi, err := f.svc.MemberFactors(ctx, "tester", "alice"); err != nil || fi != nil {
		t.Fatalf("without MFA: %+v %v", fi, err)
	}
	f.svc.MFA = mfaFake{"sub-k1": {TOTP: true, RecoveryLeft: 9, Passkeys: []admin.PasskeyInfo{{Name: "phone"}}}}
	fi, err := f.svc.MemberFactors(ctx, "tester", "alice")
	if err != nil || !fi.TOTP || fi.RecoveryLeft != 9 || len(fi.Passkeys) != 1 {
		t.Fatalf("factors %+v %v", fi, err)
	}
	if _, err := f.svc.MemberFactors(ctx, "tester", "nobody"); !errors.Is(err, admin.ErrNotFound) {
		t.Fatalf("factors of an unknown member: %v", err)
	}
	if got := f.events(); !slices.Equal(got, []string{"admin.factors_list"}) {
		t.Fatalf("audit %v", got)
	}
}
