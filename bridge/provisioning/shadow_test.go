package provisioning_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	scimtarget "github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"

	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/wire"
)

const (
	aliceKey = "11111111-1111-1111-1111-111111111111"
	aliceSub = "sub-alice"
	scimTok  = "scim-token-0123456789"
)

var webhookSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// viewer is the test's claim policy: every claim.
var viewer = provisioning.ViewFunc(func(_ context.Context, m *legacy.Member, _, _ string, now time.Time) (map[string]any, error) {
	return map[string]any{"preferred_username": m.Login, "email": m.Email, "name": m.FullName, "given_name": m.GivenName,
		"family_name": m.FamilyName, "roles": m.Roles, "member_id": m.MemberID, "member_type": m.MemberType,
		"is_current": m.IsCurrent(now)}, nil
})

type clients map[string]*sso.ClientConfig

func (c clients) Client(_ context.Context, id string) (*sso.ClientConfig, error) {
	if cl, ok := c[id]; ok {
		return cl, nil
	}
	return nil, sso.ErrNotFound
}

type fixture struct {
	t    *testing.T
	path string
	st   *sqlite.Store
	dir  *bridgetest.Directory
	keys *sso.KeyManager
	// clients are the registered clients (back-channel logout URIs).
	clients clients
	svc     *provisioning.Service
	opts    provisioning.Options
}

func newFixture(t *testing.T, targets map[string]provisioning.Target, cls clients) *fixture {
	t.Helper()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "ssobridge.db"), dir: bridgetest.NewDirectory()}
	f.open()
	ctx := t.Context()
	if err := f.st.PutSubject(ctx, &store.Subject{Subject: aliceSub, MemberKey: aliceKey, Login: "alice"}); err != nil {
		t.Fatal(err)
	}
	cfg := provisioning.Defaults()
	cfg.BackoffMin, cfg.BackoffMax, cfg.MaxAttempts, cfg.Timeout = time.Millisecond, 4*time.Millisecond, 3, 5*time.Second
	f.clients = cls
	f.opts = provisioning.Options{Config: cfg, Targets: targets, Directory: f.dir, Viewer: viewer,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	f.start()
	return f
}

// open opens (or reopens) the store file and the keys.
func (f *fixture) open() {
	st, err := sqlite.Open(context.Background(), f.path)
	if err != nil {
		f.t.Fatal(err)
	}
	f.st = st
	f.t.Cleanup(func() { st.Close() })
	if f.keys, err = sso.NewKeyManager(context.Background(), st, sso.KeyConfig{EncryptionKey: make([]byte, 32)}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) start() {
	o := f.opts
	if o.Store == nil {
		o.Store = f.st
	}
	f.svc = provisioning.New(withOutbox(o, f.clients, f.keys))
}

// withOutbox builds the outbox the composition root builds (bridge.newOutbox) for o: the
// targets' routes and back-channel logout, on o.Store with o's clock.
func withOutbox(o provisioning.Options, cls clients, keys *sso.KeyManager) provisioning.Options {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	// The test doubles listen on 127.0.0.1: every target and client here may reach internal
	// addresses (TestRoutesAllowInternal checks the switch).
	sender := outbox.NewSender(outbound.New(outbound.Options{AllowInternal: true}), o.Config.Timeout)
	senders := outbox.Senders{Public: sender, Internal: sender}
	o.Outbox = outbox.New(outbox.Options{Config: o.Config.Config, Store: o.Store, Logger: o.Logger, Now: now,
		Targets: provisioning.Routes(o.Targets, outbox.Deps{Store: o.Store, Now: now}, senders),
		Channels: map[string]outbox.Deliverer{backchannel.Channel: &backchannel.Deliverer{Clients: cls, Keys: keys,
			Issuer: "https://sso.example.org", HTTP: senders, Now: now}}})
	o.Logouts = &backchannel.Logouts{Store: o.Store, Clients: cls, Wake: o.Outbox.Wake}
	if o.Access == nil {
		o.Access = access.New(nil, provisioning.RequireCurrentClients(o.Targets), o.Logger)
	}
	return o
}

// request is one request a test double received.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

func (r request) String() string { return r.Method + " " + r.Path + queryPart(r.Query) }

func queryPart(q string) string {
	if q == "" {
		return ""
	}
	return "?" + q
}

// scimServer is a SCIM service provider double: it records every request and keeps users and
// groups in memory.
type scimServer struct {
	mu     sync.Mutex
	reqs   []request
	users  map[string]map[string]any // by id
	groups map[string]map[string]any
	n      int
	srv    *httptest.Server
}

func newSCIMServer(t *testing.T) *scimServer {
	s := &scimServer{users: map[string]map[string]any{}, groups: map[string]map[string]any{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scimServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	q, _ := urlUnescape(r.URL.RawQuery)
	s.reqs = append(s.reqs, request{Method: r.Method, Path: r.URL.Path, Query: q, Header: r.Header.Clone(), Body: string(body)})
	if r.Header.Get("Authorization") != "Bearer "+scimTok {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/scim+json")
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	coll, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/scim/v2/"), "/")
	store := s.users
	if coll == "Groups" {
		store = s.groups
	}
	switch {
	case r.Method == http.MethodGet && rest == "":
		attr, val, _ := strings.Cut(r.URL.Query().Get("filter"), " eq ")
		var found []map[string]any
		for _, res := range store {
			if fmt.Sprintf("%q", res[attr]) == val {
				found = append(found, res)
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"schemas": []string{wire.SchemaListResp}, "totalResults": len(found), "Resources": found})
	case r.Method == http.MethodPost && rest == "":
		s.n++
		in["id"] = fmt.Sprintf("%s-%d", strings.ToLower(coll[:1]), s.n)
		store[in["id"].(string)] = in
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(in)
	case r.Method == http.MethodPut && store[rest] != nil:
		in["id"] = rest
		store[rest] = in
		json.NewEncoder(w).Encode(in)
	case r.Method == http.MethodPatch && store[rest] != nil:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func urlUnescape(q string) (string, error) { return url.QueryUnescape(q) }

func (s *scimServer) take() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.reqs
	s.reqs = nil
	return out
}

func requestLines(rs []request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

func equalLines(t *testing.T, got []request, want ...string) {
	t.Helper()
	g := requestLines(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("requests:\n  %s\nwant:\n  %s", strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

func jsonEq(t *testing.T, got string, want any, what string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: %v: %s", what, err, got)
	}
	b, _ := json.Marshal(want)
	_ = json.Unmarshal(b, &w)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if string(gb) != string(wb) {
		t.Fatalf("%s:\n got  %s\n want %s", what, gb, wb)
	}
}

// TestSCIMExactRequests: a synchronous first sign-in creates the user and its role groups; a
// role change in the AMS found by the poller replaces the user and moves group memberships;
// a poll without changes sends nothing; a lapsed member (require_current) is deactivated.
func TestSCIMExactRequests(t *testing.T) {
	scim := newSCIMServer(t)
	f := newFixture(t, map[string]provisioning.Target{"portal": {Sync: true, RequireCurrent: true,
		Settings: &scimtarget.Config{URL: scim.srv.URL + "/scim/v2", Token: scimTok, Groups: true}}}, clients{})
	ctx := t.Context()

	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	reqs := scim.take()
	equalLines(t, reqs,
		`GET /scim/v2/Users?filter=externalId eq "sub-alice"`,
		`POST /scim/v2/Users`,
		`GET /scim/v2/Groups?filter=displayName eq "Member"`,
		`POST /scim/v2/Groups`)
	for _, r := range reqs {
		if r.Header.Get("Authorization") != "Bearer "+scimTok || r.Header.Get("Accept") != "application/scim+json" {
			t.Fatalf("%s: headers %v", r, r.Header)
		}
		if r.Body != "" && r.Header.Get("Content-Type") != "application/scim+json" {
			t.Fatalf("%s: content type %q", r, r.Header.Get("Content-Type"))
		}
	}
	alice, _ := f.dir.MemberByLogin(ctx, "alice")
	wantUser := map[string]any{
		"schemas":    []string{wire.SchemaUser, wire.SchemaMembership},
		"externalId": aliceSub, "userName": "alice", "displayName": "Alice Archer", "active": true,
		"name":                map[string]any{"formatted": "Alice Archer", "givenName": "Alice", "familyName": "Archer"},
		"emails":              []any{map[string]any{"value": "alice@example.org", "type": "work", "primary": true}},
		"roles":               []any{map[string]any{"value": "Member"}},
		wire.SchemaMembership: map[string]any{"memberId": "1001", "memberType": "REG", "isCurrent": alice.IsCurrent(time.Now())},
	}
	jsonEq(t, reqs[1].Body, wantUser, "POST /Users body")
	jsonEq(t, reqs[3].Body, map[string]any{"schemas": []string{wire.SchemaGroup}, "displayName": "Member",
		"members": []any{map[string]any{"value": "u-1"}}}, "POST /Groups body")
	if su, err := f.st.ShadowUser(ctx, "portal", aliceSub); err != nil || su.ExternalID != "u-1" || !su.Active {
		t.Fatalf("shadow user after provisioning: %+v, %v", su, err)
	}

	// Signing in again changes nothing: no request.
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	equalLines(t, scim.take())

	// A role change in the AMS: the poller queues it, the deliverer sends it.
	f.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Board"} })
	if n, err := f.svc.Poll(ctx); err != nil || n != 1 {
		t.Fatalf("Poll = %d, %v", n, err)
	}
	if n, err := f.svc.DeliverDue(ctx); err != nil || n != 1 {
		t.Fatalf("DeliverDue = %d, %v", n, err)
	}
	reqs = scim.take()
	equalLines(t, reqs,
		`PUT /scim/v2/Users/u-1`,
		`GET /scim/v2/Groups?filter=displayName eq "Board"`,
		`POST /scim/v2/Groups`,
		`GET /scim/v2/Groups?filter=displayName eq "Member"`,
		`PATCH /scim/v2/Groups/g-2`)
	wantUser["roles"] = []any{map[string]any{"value": "Board"}}
	jsonEq(t, reqs[0].Body, wantUser, "PUT /Users body")
	jsonEq(t, reqs[4].Body, map[string]any{"schemas": []string{wire.SchemaPatchOp},
		"Operations": []any{map[string]any{"op": "remove", "path": `members[value eq "u-1"]`}}}, "PATCH /Groups body")

	// Nothing changed since: the poll sends nothing.
	if n, err := f.svc.Poll(ctx); err != nil || n != 0 {
		t.Fatalf("Poll without changes = %d, %v", n, err)
	}
	if n, _ := f.svc.DeliverDue(ctx); n != 0 {
		t.Fatalf("delivered %d events without a change", n)
	}
	// A touch that changes nothing the client sees is not sent either (digest).
	f.dir.Update("alice", func(m *legacy.Member) { m.Company = "Acme" })
	if n, _ := f.svc.Poll(ctx); n != 1 {
		t.Fatal("touched member not polled")
	}
	if n, _ := f.svc.DeliverDue(ctx); n != 0 {
		t.Fatalf("delivered %d events for an invisible change", n)
	}

	// Lapsed: deactivated (active=false), tokens at the portal revoked.
	f.dir.Update("alice", func(m *legacy.Member) { m.PaidThrough = time.Now().AddDate(0, -1, 0) })
	f.svc.Poll(ctx)
	f.svc.DeliverDue(ctx)
	reqs = scim.take()
	if len(reqs) == 0 || reqs[0].String() != "PUT /scim/v2/Users/u-1" || !strings.Contains(reqs[0].Body, `"active":false`) {
		t.Fatalf("deactivation requests: %v", requestLines(reqs))
	}
	if su, _ := f.st.ShadowUser(ctx, "portal", aliceSub); su.Active {
		t.Fatal("shadow user still active after lapse")
	}
}

// TestSCIMPatchAndRecovery: update: patch sends a PatchOp replace; a user deleted on the SCIM
// side is created again; the user is found by externalId when its id was never stored.
func TestSCIMPatchAndRecovery(t *testing.T) {
	scim := newSCIMServer(t)
	f := newFixture(t, map[string]provisioning.Target{"portal": {Sync: true,
		Settings: &scimtarget.Config{URL: scim.srv.URL + "/scim/v2", Token: scimTok, Update: "patch"}}}, clients{})
	ctx := t.Context()
	// The SCIM server already knows alice (provisioned by hand): found by externalId, patched.
	scim.users["pre-1"] = map[string]any{"id": "pre-1", "externalId": aliceSub}
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	reqs := scim.take()
	equalLines(t, reqs, `GET /scim/v2/Users?filter=externalId eq "sub-alice"`, `PATCH /scim/v2/Users/pre-1`)
	var patch struct {
		Schemas    []string
		Operations []struct {
			Op    string
			Path  string
			Value map[string]any
		}
	}
	json.Unmarshal([]byte(reqs[1].Body), &patch)
	if patch.Schemas[0] != wire.SchemaPatchOp || len(patch.Operations) == 0 || patch.Operations[0].Op != "replace" ||
		patch.Operations[0].Path != "" || patch.Operations[0].Value["externalId"] != aliceSub || patch.Operations[0].Value["active"] != true {
		t.Fatalf("PATCH body %s", reqs[1].Body)
	}
	// The attributes alice has none of are removed with their paths (RFC 7644 3.5.2.2), not
	// replaced with null.
	for _, op := range patch.Operations[1:] {
		if op.Op != "remove" || op.Path == "" || op.Value != nil {
			t.Fatalf("PATCH body %s: operation %+v, want a remove with a path", reqs[1].Body, op)
		}
	}
	if strings.Contains(reqs[1].Body, "null") {
		t.Fatalf("PATCH body %s: a null", reqs[1].Body)
	}
	// Deleted on their side: the next change creates it again.
	delete(scim.users, "pre-1")
	f.dir.Update("alice", func(m *legacy.Member) { m.Email = "alice@new.example.org" })
	f.svc.Poll(ctx)
	f.svc.DeliverDue(ctx)
	equalLines(t, scim.take(), `PATCH /scim/v2/Users/pre-1`, `POST /scim/v2/Users`)
	if su, _ := f.st.ShadowUser(ctx, "portal", aliceSub); su.ExternalID != "u-1" {
		t.Fatalf("external id after re-creation = %q", su.ExternalID)
	}
}

// TestSyncProvisioningFailure: a synchronous target that refuses makes Provision fail with
// ErrProvisioning; a permanent refusal goes to the dead letters at once and is re-queued by
// RetryEvents.
func TestSyncProvisioningFailure(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Sync: true,
		Settings: &scimtarget.Config{URL: "http://127.0.0.1:1/scim/v2", Token: "wrong"}}}, clients{})
	scim := newSCIMServer(t)
	f.opts.Targets["portal"].Settings.(*scimtarget.Config).URL = scim.srv.URL + "/scim/v2"
	err := f.svc.Provision(t.Context(), "portal", aliceSub, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("Provision against a refusing server: %v", err)
	}
	dead, _ := f.st.OutboxEvents(t.Context(), store.OutboxFilter{State: store.OutboxDead})
	if len(dead) != 1 || dead[0].Attempts != 1 {
		t.Fatalf("dead letters: %+v", dead)
	}
	f.opts.Targets["portal"].Settings.(*scimtarget.Config).Token = scimTok
	if n, err := f.st.RetryEvents(t.Context(), "", time.Now()); err != nil || n != 1 {
		t.Fatalf("RetryEvents = %d, %v", n, err)
	}
	if n, _ := f.svc.DeliverDue(t.Context()); n != 1 {
		t.Fatal("retried event not delivered")
	}
	if c, _ := f.st.OutboxCounts(t.Context()); c[store.OutboxDelivered] != 1 || c[store.OutboxDead] != 0 {
		t.Fatalf("counts after retry: %v", c)
	}
}

// webhookReceiver verifies Standard Webhooks signatures independently of the sender's code and
// de-duplicates by webhook-id.
type webhookReceiver struct {
	mu       sync.Mutex
	key      []byte
	seen     map[string]int
	bodies   map[string]Event
	fail     int // answer 503 to this many requests first
	hold     chan struct{}
	received chan string
	srv      *httptest.Server
	t        *testing.T
}

// Event mirrors the webhook JSON.
type Event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	ClientID  string          `json:"client_id"`
	Data      json.RawMessage `json:"data"`
	// RemovedRoles are the roles the event says the client saw before and no longer does.
	RemovedRoles []string `json:"removed_roles"`
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(webhookSecret, "whsec_"))
	w := &webhookReceiver{key: key, seen: map[string]int{}, bodies: map[string]Event{}, received: make(chan string, 1000), t: t}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookReceiver) serve(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	id, ts, sig := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature")
	mac := hmac.New(sha256.New, w.key)
	fmt.Fprintf(mac, "%s.%s.%s", id, ts, body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	var sent int64
	fmt.Sscan(ts, &sent)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || sig != want ||
		time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		w.t.Errorf("webhook: bad request: %s %s sig=%q want %q", r.Method, r.Header.Get("Content-Type"), sig, want)
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != id {
		w.t.Errorf("webhook: body id %q, header id %q (%v)", ev.ID, id, err)
	}
	w.mu.Lock()
	if w.fail > 0 {
		w.fail--
		w.mu.Unlock()
		rw.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.seen[id]++
	w.bodies[id] = ev
	hold := w.hold
	w.mu.Unlock()
	w.received <- id
	if hold != nil {
		// Processed, but the answer never reaches the sender (it dies meanwhile).
		select {
		case <-hold:
		case <-r.Context().Done():
		}
		return
	}
	rw.WriteHeader(http.StatusNoContent)
}

// TestWebhookSignedAndRetried: the webhook is signed per Standard Webhooks (checked by an
// independent verifier); a 503 is retried with the same webhook-id after a backoff.
func TestWebhookSignedAndRetried(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.fail = 1
	f := newFixture(t, map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: rcv.srv.URL + "/hook", Secret: webhookSecret}}}, clients{})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "events", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	evs, _ := f.st.OutboxEvents(ctx, store.OutboxFilter{})
	if len(evs) != 1 || evs[0].Type != wire.TypeCreated || evs[0].Channel != webhook.Kind {
		t.Fatalf("queued: %+v", evs)
	}
	f.svc.DeliverDue(ctx) // 503
	if e, _ := f.st.OutboxEvent(ctx, evs[0].ID); e.State != store.OutboxPending || e.Attempts != 1 || !strings.Contains(e.LastError, "HTTP 503") {
		t.Fatalf("after a 503: %+v", e)
	}
	time.Sleep(10 * time.Millisecond) // backoff_max in this test is 4ms
	f.svc.DeliverDue(ctx)
	if e, _ := f.st.OutboxEvent(ctx, evs[0].ID); e.State != store.OutboxDelivered || e.Attempts != 2 {
		t.Fatalf("after the retry: %+v", e)
	}
	ev := rcv.bodies[evs[0].ID]
	var data wire.User
	json.Unmarshal(ev.Data, &data)
	if ev.Type != wire.TypeCreated || ev.ClientID != "events" || ev.Timestamp.IsZero() || data.Subject != aliceSub ||
		!data.Active || data.Login != "alice" || data.Email != "alice@example.org" || len(data.Roles) != 1 ||
		data.Membership == nil || data.Membership.MemberID != "1001" {
		t.Fatalf("webhook event: %+v data %+v", ev, data)
	}
}

// TestDeadLetterAfterMaxAttempts: a receiver that keeps failing sends the event to the dead
// letters after max_attempts; the member's next change goes on. (While an event waits, a newer
// state of the member supersedes it: TestNewerStateSupersedesAWaitingOne.)
func TestDeadLetterAfterMaxAttempts(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.fail = 3
	f := newFixture(t, map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: rcv.srv.URL, Secret: webhookSecret}}}, clients{})
	ctx := t.Context()
	f.svc.Provision(ctx, "events", aliceSub, nil)
	for range 3 {
		time.Sleep(10 * time.Millisecond)
		if n, _ := f.svc.DeliverDue(ctx); n != 1 {
			t.Fatalf("claimed %d events", n)
		}
	}
	dead, _ := f.st.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxDead})
	if len(dead) != 1 || dead[0].Attempts != 3 || dead[0].Type != wire.TypeCreated {
		t.Fatalf("dead letters: %+v", dead)
	}
	f.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Board"} })
	f.svc.Poll(ctx)
	f.svc.DeliverDue(ctx)
	if c, _ := f.st.OutboxCounts(ctx); c[store.OutboxDelivered] != 1 || c[store.OutboxDead] != 1 || c[store.OutboxSuperseded] != 0 {
		t.Fatalf("counts: %v", c)
	}
}

// TestNewerStateSupersedesAWaitingOne (review s20 X20-4): a member's change that the app failed
// and that waits to be retried is superseded by the member's next change, which is sent at
// once in its place (it carries the whole state) and carries what the waiting one took away
// (its removed roles) and, when the app never had the member, the creation. Before, the newer
// change (a deactivation too) waited behind the failing one's whole retry schedule.
func TestNewerStateSupersedesAWaitingOne(t *testing.T) {
	t.Run("update", func(t *testing.T) {
		rcv := newWebhookReceiver(t)
		f := newFixture(t, map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: rcv.srv.URL, Secret: webhookSecret}}}, clients{})
		ctx := t.Context()
		f.svc.Provision(ctx, "events", aliceSub, nil)
		if n, _ := f.svc.DeliverDue(ctx); n != 1 {
			t.Fatalf("created: delivered %d", n)
		}
		rcv.mu.Lock()
		rcv.fail = 1
		rcv.mu.Unlock()
		f.dir.Update("alice", func(m *legacy.Member) { m.Roles = []string{"Board"} })
		f.svc.Poll(ctx)
		f.svc.DeliverDue(ctx) // refused: waits to be retried
		waiting, _ := f.st.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxPending})
		if len(waiting) != 1 || waiting[0].Attempts != 1 {
			t.Fatalf("waiting: %+v", waiting)
		}
		f.dir.Update("alice", func(m *legacy.Member) { m.FamilyName = "Archer-Smith"; m.Standing.Disabled = true })
		f.svc.Poll(ctx)
		if n, _ := f.svc.DeliverDue(ctx); n != 1 {
			t.Fatalf("the newer state: delivered %d, want 1 at once", n)
		}
		if e, _ := f.st.OutboxEvent(ctx, waiting[0].ID); e.State != store.OutboxSuperseded {
			t.Fatalf("the waiting event: %+v", e)
		}
		if c, _ := f.st.OutboxCounts(ctx); c[store.OutboxPending] != 0 || c[store.OutboxSuperseded] != 1 || c[store.OutboxDelivered] != 2 {
			t.Fatalf("counts: %v", c)
		}
		last := rcv.bodies[rcv.lastOf(t, 2)]
		if last.Type != wire.TypeDeactivated || !slices.Equal(last.RemovedRoles, []string{"Member"}) {
			t.Fatalf("the newer state as sent: %s removed %v", last.Type, last.RemovedRoles)
		}
	})
	t.Run("creation", func(t *testing.T) {
		rcv := newWebhookReceiver(t)
		rcv.fail = 1
		f := newFixture(t, map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: rcv.srv.URL, Secret: webhookSecret}}}, clients{})
		ctx := t.Context()
		f.svc.Provision(ctx, "events", aliceSub, nil)
		f.svc.DeliverDue(ctx) // refused: the app does not have the member yet
		f.dir.Update("alice", func(m *legacy.Member) { m.FamilyName = "Archer-Smith" })
		f.svc.Poll(ctx)
		if n, _ := f.svc.DeliverDue(ctx); n != 1 {
			t.Fatalf("the newer state: delivered %d, want 1 at once", n)
		}
		last := rcv.bodies[rcv.lastOf(t, 1)]
		var data wire.User
		json.Unmarshal(last.Data, &data)
		if last.Type != wire.TypeCreated || data.FamilyName != "Archer-Smith" {
			t.Fatalf("the newer state as sent: %s %+v", last.Type, data)
		}
	})
}

// lastOf reads the ids of the n events the receiver has taken so far and returns the last.
func (w *webhookReceiver) lastOf(t *testing.T, n int) string {
	t.Helper()
	var id string
	for range n {
		select {
		case id = <-w.received:
		default:
			t.Fatalf("the receiver took fewer than %d events", n)
		}
	}
	return id
}

// TestCrashMidDelivery: the bridge dies while deliveries are in flight (the receiver processed
// them, the answers are lost) and while others were never attempted; a new process on the same
// SQLite file delivers every event, and the idempotent receiver sees each event id at least once.
func TestCrashMidDelivery(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.hold = make(chan struct{})
	targets := map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: rcv.srv.URL, Secret: webhookSecret}}}
	f := newFixture(t, targets, clients{})
	ctx := t.Context()
	const n = 30
	var want []string
	for i := range n {
		sub := fmt.Sprintf("sub-%02d", i)
		key := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		f.dir.Add(&legacy.Member{Key: key, Login: fmt.Sprint("m", i), Roles: []string{"Member"}, Standing: legacy.Standing{Approved: true}}, "pw")
		if err := f.st.PutSubject(ctx, &store.Subject{Subject: sub, MemberKey: key}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Provision(ctx, "events", sub, nil); err != nil {
			t.Fatal(err)
		}
	}
	evs, _ := f.st.OutboxEvents(ctx, store.OutboxFilter{Limit: 1000})
	for _, e := range evs {
		want = append(want, e.ID)
	}
	if len(want) != n {
		t.Fatalf("queued %d events", len(want))
	}
	runCtx, kill := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.svc.Run(runCtx); close(done) }()
	// Wait until some deliveries are in flight, then kill the process and close its store.
	for range 4 {
		<-rcv.received
	}
	// A crash: the answers of the deliveries in flight are lost (the connections drop), and
	// the process stops (Run lets in-flight deliveries end, and records them as failed).
	kill()
	rcv.srv.CloseClientConnections()
	<-done
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.hold = nil
	firstRun := len(rcv.seen)
	rcv.mu.Unlock()

	// Restart on the same file, later than the leases of the dead process.
	f.open()
	later := time.Now().Add(5 * time.Minute)
	f.opts.Now = func() time.Time { return later }
	f.start()
	for range 50 {
		if _, err := f.svc.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
		if c, _ := f.st.OutboxCounts(ctx); c[store.OutboxDelivered] == n {
			break
		}
	}
	c, _ := f.st.OutboxCounts(ctx)
	if c[store.OutboxDelivered] != n || c[store.OutboxPending] != 0 || c[store.OutboxDead] != 0 {
		t.Fatalf("after restart: %v", c)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	dups := 0
	for _, id := range want {
		if rcv.seen[id] == 0 {
			t.Fatalf("event %s never reached the receiver", id)
		}
		dups += rcv.seen[id] - 1
	}
	if len(rcv.seen) != n || dups == 0 {
		t.Fatalf("receiver saw %d distinct events (%d before the crash), %d duplicates", len(rcv.seen), firstRun, dups)
	}
	t.Logf("%d events, %d received before the crash, %d redelivered after it (de-duplicated by webhook-id)", n, firstRun, dups)
}

// TestBackchannelLogoutDelivery: ending a session queues a logout token for each client of
// the session with a backchannel_logout_uri; it is signed with the client's algorithm.
func TestBackchannelLogoutDelivery(t *testing.T) {
	got := make(chan *http.Request, 4)
	bodies := make(chan string, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		bodies <- r.PostForm.Get("logout_token")
		got <- r
	}))
	defer rp.Close()
	cls := clients{
		"portal": {ID: "portal", IDTokenSigningAlg: "RS256", BackchannelLogoutURI: rp.URL + "/bcl"},
		"other":  {ID: "other", IDTokenSigningAlg: "RS256"},
	}
	f := newFixture(t, nil, cls)
	ctx := t.Context()
	sess := &sso.Session{ID: "sid-1", Subject: aliceSub, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), Clients: []string{"portal", "other"}}
	if err := f.st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.EndSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Session(ctx, sess.ID); err == nil {
		t.Fatal("session not ended")
	}
	if n, _ := f.svc.DeliverDue(ctx); n != 1 {
		t.Fatalf("delivered %d logout events, want 1 (one client has a back-channel URI)", n)
	}
	r := <-got
	tok := <-bodies
	if r.Method != http.MethodPost || r.URL.Path != "/bcl" || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Fatalf("logout request %s %s %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("logout token %q", tok)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	pl, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var h, c map[string]any
	json.Unmarshal(hdr, &h)
	json.Unmarshal(pl, &c)
	if h["typ"] != "logout+jwt" || h["alg"] != "RS256" || c["iss"] != "https://sso.example.org" || c["aud"] != "portal" ||
		c["sub"] != aliceSub || c["sid"] != "sid-1" || c["events"] == nil {
		t.Fatalf("logout token header %v claims %v", h, c)
	}
}

// TestShutdownFinishesDeliveriesInFlight: when Run's context ends while a delivery is in
// flight, Run waits for its answer and records it, so that the receiver, which has already
// acted on the event, does not get it again after a restart (and the caller may close the store
// once Run returns). Before, the request was aborted and the event left pending.
func TestShutdownFinishesDeliveriesInFlight(t *testing.T) {
	rcv := newWebhookReceiver(t)
	rcv.hold = make(chan struct{})
	f := newFixture(t, map[string]provisioning.Target{"events": {Settings: &webhook.Config{URL: rcv.srv.URL, Secret: webhookSecret}}}, clients{})
	ctx := t.Context()
	if err := f.svc.Provision(ctx, "events", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { f.svc.Run(runCtx); close(done) }()
	<-rcv.received // the receiver has acted on the event; its answer is held
	stop()
	close(rcv.hold) // the answer comes after the shutdown began
	<-done
	if c, _ := f.st.OutboxCounts(ctx); c[store.OutboxDelivered] != 1 || c[store.OutboxPending] != 0 {
		t.Fatalf("outbox after shutdown: %v", c)
	}
}

// TestNoDeciderFailsClosed: a Service built without an access decider treats every member as
// refused (it used to fall back to a decider without the access rules, admitting members the
// bridge's rules refuse).
func TestNoDeciderFailsClosed(t *testing.T) {
	scim := newSCIMServer(t)
	f := newFixture(t, map[string]provisioning.Target{"portal": {Sync: true,
		Settings: &scimtarget.Config{URL: scim.srv.URL + "/scim/v2", Token: scimTok}}}, clients{})
	o := f.opts
	o.Store = f.st
	o = withOutbox(o, f.clients, f.keys)
	o.Access = nil
	svc := provisioning.New(o)
	_ = svc.Provision(t.Context(), "portal", aliceSub, nil)
	if su, err := f.st.ShadowUser(t.Context(), "portal", aliceSub); err == nil && su.Active {
		t.Fatalf("member provisioned as active without an access decider: %+v", su)
	}
	for _, r := range scim.take() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/Users") && strings.Contains(r.Body, `"active":true`) {
			t.Fatalf("active user created at the app: %s", r.Body)
		}
	}
}
