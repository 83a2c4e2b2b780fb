package scim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/wire"
)

// fakeSCIM is a SCIM service provider that, like RFC 7643 allows (a Group's displayName has
// uniqueness "none"), keeps two groups of one name when asked to create them. Its first
// GET /Groups waits (at most a second) for a second one, so that two deliveries look for a
// group at the same moment, as the outbox's four workers do on a fresh target.
type fakeSCIM struct {
	mu      sync.Mutex
	users   map[string]bool
	groups  map[string]string // id -> displayName
	members map[string][]string
	n       int
	gate    chan struct{}
	waiting int
	// madeMeanwhile: the first POST /Groups finds a group of that name made meanwhile (by
	// another replica) and answers 409 uniqueness, as RFC 7644 3.3 says.
	madeMeanwhile bool
}

func newFakeSCIM() *fakeSCIM {
	return &fakeSCIM{users: map[string]bool{}, groups: map[string]string{}, members: map[string][]string{}, gate: make(chan struct{})}
}

func (f *fakeSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", wire.SCIMContentType)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/scim/v2/Users":
		_, _ = io.WriteString(w, `{"totalResults":0,"Resources":[]}`)
	case r.Method == http.MethodPost && r.URL.Path == "/scim/v2/Users":
		f.mu.Lock()
		f.n++
		id := fmt.Sprintf("u%d", f.n)
		f.users[id] = true
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodGet && r.URL.Path == "/scim/v2/Groups":
		f.mu.Lock()
		f.waiting++
		if f.waiting == 2 {
			close(f.gate)
		}
		f.mu.Unlock()
		select {
		case <-f.gate:
		case <-time.After(time.Second):
		}
		name := strings.Trim(strings.TrimPrefix(r.URL.Query().Get("filter"), "displayName eq "), `"`)
		f.mu.Lock()
		var res []map[string]string
		for id, n := range f.groups {
			if n == name {
				res = append(res, map[string]string{"id": id})
			}
		}
		f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"totalResults": len(res), "Resources": res})
	case r.Method == http.MethodPost && r.URL.Path == "/scim/v2/Groups":
		var g struct {
			DisplayName string `json:"displayName"`
		}
		_ = json.Unmarshal(body, &g)
		f.mu.Lock()
		f.n++
		id := fmt.Sprintf("g%d", f.n)
		f.groups[id] = g.DisplayName
		conflict := f.madeMeanwhile
		f.madeMeanwhile = false
		f.mu.Unlock()
		if conflict {
			w.WriteHeader(http.StatusConflict)
			_, _ = io.WriteString(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/scim/v2/Groups/"):
		f.mu.Lock()
		gid := strings.TrimPrefix(r.URL.Path, "/scim/v2/Groups/")
		f.members[gid] = append(f.members[gid], string(body))
		f.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
	}
}

// TestGroupsOfConcurrentMembers: members who share a role, provisioned at the same time (the
// first reconcile of a new target delivers four events at once), must not leave the service
// provider with a group it cannot tell apart from another of the same name, nor make every
// later delivery naming that role a dead letter ("2 resources match").
func TestGroupsOfConcurrentMembers(t *testing.T) {
	fake := newFakeSCIM()
	deliver, dead := scimTarget(t, fake)
	deliver("alice", "bob") // two members with the role, delivered together
	deliver("carol")        // a third, later
	for _, e := range dead() {
		t.Errorf("event %s for %s is a dead letter: %s", e.ID, e.Subject, e.LastError)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	n := 0
	for _, name := range fake.groups {
		if name == "Board" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the service provider has %d groups named Board, want 1", n)
	}
}

// TestGroupsOfOneNameAlready: two groups of one name at the service provider (made by two
// replicas at once, or by hand) are not a permanent failure: the member joins the one with the
// smallest id.
func TestGroupsOfOneNameAlready(t *testing.T) {
	fake := newFakeSCIM()
	fake.groups["g2"], fake.groups["g1"] = "Board", "Board"
	close(fake.gate)
	deliver, dead := scimTarget(t, fake)
	deliver("dave")
	for _, e := range dead() {
		t.Errorf("event %s for %s is a dead letter: %s", e.ID, e.Subject, e.LastError)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.members["g1"]) != 1 || len(fake.members["g2"]) != 0 {
		t.Errorf("membership changes: g1 %q, g2 %q; want one for g1", fake.members["g1"], fake.members["g2"])
	}
}

// TestGroupMadeMeanwhile: a POST /Groups the server refuses with 409 uniqueness (the group was
// made between the look-up and the creation, by another replica or the app) is not a failure:
// the member is added to the group found again. Before, the event failed on the 409.
func TestGroupMadeMeanwhile(t *testing.T) {
	fake := newFakeSCIM()
	fake.madeMeanwhile = true
	fake.waiting = 2 // no look-up waits for another
	close(fake.gate)
	deliver, dead := scimTarget(t, fake)
	deliver("erin")
	for _, e := range dead() {
		t.Errorf("event %s for %s is a dead letter: %s", e.ID, e.Subject, e.LastError)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for gid := range fake.groups {
		if len(fake.groups) != 1 || len(fake.members[gid]) != 1 || !strings.Contains(fake.members[gid][0], `"add"`) {
			t.Errorf("groups %v, membership changes %q; want erin added to the one group", fake.groups, fake.members)
		}
	}
}

func scimTarget(t *testing.T, fake *fakeSCIM) (deliver func(subs ...string), dead func() []*store.OutboxEvent) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := &scim.Config{URL: srv.URL + "/scim/v2", Token: "t0k3n", Groups: true}
	if err := cfg.Validate("provisioning.portal.scim"); err != nil {
		t.Fatal(err)
	}
	d := cfg.Deliverer(outbox.Deps{Store: st, HTTP: outbox.NewSender(srv.Client(), 5*time.Second), Now: time.Now})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st,
		Targets: map[string]outbox.Route{"portal": {Kind: scim.Kind, Deliverer: d}}})
	event := func(sub string) *store.OutboxEvent {
		p, _ := json.Marshal(wire.Event{ID: "evt_" + sub, Type: "user.updated", ClientID: "portal",
			Data: wire.User{Subject: sub, Active: true, Login: sub, Roles: []string{"Board"}}})
		return &store.OutboxEvent{ID: "evt_" + sub, Key: outbox.Key(scim.Kind, "portal", sub), Channel: scim.Kind,
			ClientID: "portal", Subject: sub, Type: "user.updated", Payload: p}
	}
	deliver = func(subs ...string) {
		t.Helper()
		var evs []*store.OutboxEvent
		for _, s := range subs {
			evs = append(evs, event(s))
		}
		if err := st.Enqueue(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		for {
			n, err := q.DeliverDue(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return
			}
		}
	}
	dead = func() []*store.OutboxEvent {
		t.Helper()
		evs, err := st.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxDead})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	return deliver, dead
}
