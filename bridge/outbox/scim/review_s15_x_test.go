package scim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
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

// strictSCIM is a SCIM service provider that keeps userName and the primary email unique, as
// RFC 7644 3.3/3.5.1 let it (409 Conflict, scimType "uniqueness"), and checks emails (400
// invalidValue), as real apps do. It supports PATCH (RFC 7644 3.5.2): replace, and remove with a
// path.
type strictSCIM struct {
	mu    sync.Mutex
	users map[string]*scimUser // id -> user
	n     int
	// posts counts POST /Users.
	posts int
}

type scimUser struct {
	ExternalID string
	UserName   string
	Email      string
	Active     bool
}

func (f *strictSCIM) conflict(id string, u wire.SCIMUser) (int, string) {
	for oid, o := range f.users {
		if oid == id {
			continue
		}
		if strings.EqualFold(o.UserName, u.UserName) {
			return http.StatusConflict, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"userName is taken"}`
		}
		if len(u.Emails) > 0 && o.Email != "" && strings.EqualFold(o.Email, u.Emails[0].Value) {
			return http.StatusConflict, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409","scimType":"uniqueness","detail":"email is taken"}`
		}
	}
	if len(u.Emails) > 0 && !strings.Contains(u.Emails[0].Value, "@") {
		return http.StatusBadRequest, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"400","scimType":"invalidValue","detail":"bad email"}`
	}
	return 0, ""
}

func (f *strictSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", wire.SCIMContentType)
	f.mu.Lock()
	defer f.mu.Unlock()
	id := strings.TrimPrefix(r.URL.Path, "/scim/v2/Users/")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/scim/v2/Users":
		ext := strings.Trim(strings.TrimPrefix(r.URL.Query().Get("filter"), "externalId eq "), `"`)
		var res []map[string]string
		for id, u := range f.users {
			if u.ExternalID == ext {
				res = append(res, map[string]string{"id": id})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"totalResults": len(res), "Resources": res})
	case r.Method == http.MethodPost && r.URL.Path == "/scim/v2/Users":
		f.posts++
		var u wire.SCIMUser
		_ = json.Unmarshal(body, &u)
		if code, msg := f.conflict("", u); code != 0 {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, msg)
			return
		}
		f.n++
		id := fmt.Sprintf("u%d", f.n)
		f.users[id] = fromSCIM(u)
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodPut && f.users[id] != nil:
		var u wire.SCIMUser
		_ = json.Unmarshal(body, &u)
		if code, msg := f.conflict(id, u); code != 0 {
			w.WriteHeader(code)
			_, _ = io.WriteString(w, msg)
			return
		}
		f.users[id] = fromSCIM(u)
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	case r.Method == http.MethodPatch && f.users[id] != nil:
		var p struct {
			Operations []struct {
				Op    string          `json:"op"`
				Path  string          `json:"path"`
				Value json.RawMessage `json:"value"`
			} `json:"Operations"`
		}
		_ = json.Unmarshal(body, &p)
		next := *f.users[id]
		for _, op := range p.Operations {
			if strings.EqualFold(op.Op, "remove") && op.Path != "" { // RFC 7644 3.5.2.2
				if op.Path == "emails" {
					next.Email = ""
				}
				continue // the other attributes are not kept here
			}
			if !strings.EqualFold(op.Op, "replace") {
				http.Error(w, "unsupported op", http.StatusBadRequest)
				return
			}
			switch op.Path {
			case "":
				var u wire.SCIMUser
				_ = json.Unmarshal(op.Value, &u)
				if code, msg := f.conflict(id, u); code != 0 {
					w.WriteHeader(code)
					_, _ = io.WriteString(w, msg)
					return
				}
				ext := next.ExternalID
				next = *fromSCIM(u)
				if next.ExternalID == "" {
					next.ExternalID = ext
				}
			case "active":
				_ = json.Unmarshal(op.Value, &next.Active)
			default:
				http.Error(w, "unsupported path", http.StatusBadRequest)
				return
			}
		}
		f.users[id] = &next
		_, _ = fmt.Fprintf(w, `{"id":%q}`, id)
	case f.users[id] == nil && (r.Method == http.MethodPut || r.Method == http.MethodPatch):
		w.WriteHeader(http.StatusNotFound)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
	}
}

func fromSCIM(u wire.SCIMUser) *scimUser {
	s := &scimUser{ExternalID: u.ExternalID, UserName: u.UserName, Active: u.Active == nil || *u.Active}
	if len(u.Emails) > 0 {
		s.Email = u.Emails[0].Value
	}
	return s
}

// strictTarget delivers events to the SCIM app f (a strictSCIM, or one wrapping it) through the
// outbox (SQLite store) until none is due; deliver returns the event's id. opts change the
// target's settings (groups: true).
func strictTarget(t *testing.T, f http.Handler, update string, opts ...func(*scim.Config)) (deliver func(typ string, u wire.User) string, events func() []*store.OutboxEvent) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := &scim.Config{URL: srv.URL + "/scim/v2", Token: "t0k3n", Update: update}
	for _, o := range opts {
		o(cfg)
	}
	if err := cfg.Validate("provisioning.portal.scim"); err != nil {
		t.Fatal(err)
	}
	d := cfg.Deliverer(outbox.Deps{Store: st, HTTP: outbox.NewSender(srv.Client(), 5*time.Second), Now: time.Now})
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st,
		Targets: map[string]outbox.Route{"portal": {Kind: scim.Kind, Deliverer: d}}})
	n := 0
	roles := map[string][]string{} // subject -> roles of its last event
	deliver = func(typ string, u wire.User) string {
		t.Helper()
		n++
		id := fmt.Sprintf("evt_%s_%d", u.Subject, n)
		if u.Roles == nil {
			u.Roles = []string{}
		}
		// The roles of the member's previous event that this one drops, as provisioning
		// computes them from the shadow user's last view.
		var removed []string
		for _, r := range roles[u.Subject] {
			if !slices.Contains(u.Roles, r) {
				removed = append(removed, r)
			}
		}
		roles[u.Subject] = u.Roles
		p, _ := json.Marshal(wire.Event{ID: id, Type: typ, ClientID: "portal", Data: u, RemovedRoles: removed})
		e := &store.OutboxEvent{ID: id, Key: outbox.Key(scim.Kind, "portal", u.Subject), Channel: scim.Kind,
			ClientID: "portal", Subject: u.Subject, Type: typ, Payload: p}
		if err := st.Enqueue(ctx, e); err != nil {
			t.Fatal(err)
		}
		for {
			k, err := q.DeliverDue(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if k == 0 {
				return id
			}
		}
	}
	events = func() []*store.OutboxEvent {
		t.Helper()
		evs, err := st.OutboxEvents(ctx, store.OutboxFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	return deliver, events
}

// TestSCIMDeactivationNotHeldByProfile (review s15 X): a deactivation must reach the app
// whatever the profile it carries. The deliverer sends the member's whole profile with
// active=false (PUT, or PATCH replacing every attribute); when the app refuses that profile (a
// login renamed in the AMS to one another app user holds: 409 uniqueness, retried for hours and
// then dead; an email the app finds invalid: 400, dead at once), the member stays active at the
// app although the bridge records them deactivated. RFC 7644 3.5.2.3 lets a client replace
// "active" alone, which no uniqueness or value check of the other attributes can refuse.
func TestSCIMDeactivationNotHeldByProfile(t *testing.T) {
	for _, update := range []string{"put", "patch"} {
		for _, tc := range []struct {
			name   string
			change func(u *wire.User)
		}{
			{"login renamed to a taken userName (409)", func(u *wire.User) { u.Login = "bob" }},
			{"email taken by another app user (409)", func(u *wire.User) { u.Email = "bob@example.org" }},
			{"email the app refuses (400)", func(u *wire.User) { u.Email = "alice at example.org" }},
		} {
			t.Run(update+"/"+tc.name, func(t *testing.T) {
				f := &strictSCIM{users: map[string]*scimUser{}}
				deliver, events := strictTarget(t, f, update)
				alice := wire.User{Subject: "sub-alice", Active: true, Login: "alice", Email: "alice@example.org"}
				deliver(wire.TypeCreated, alice)
				deliver(wire.TypeCreated, wire.User{Subject: "sub-bob", Active: true, Login: "bob", Email: "bob@example.org"})
				// The member's profile changes in the AMS, then the member is disabled there:
				// the bridge's deactivation event carries the changed profile.
				gone := alice
				tc.change(&gone)
				gone.Active = false
				deliver(wire.TypeDeactivated, gone)
				f.mu.Lock()
				var at *scimUser
				for _, u := range f.users {
					if u.ExternalID == "sub-alice" {
						at = u
					}
				}
				f.mu.Unlock()
				if at == nil {
					t.Fatal("alice is not at the app")
				}
				if at.Active {
					var state []string
					for _, e := range events() {
						state = append(state, fmt.Sprintf("%s %s attempts=%d err=%q", e.Type, e.State, e.Attempts, e.LastError))
					}
					t.Errorf("alice was deactivated in the AMS and is still active at the app; outbox:\n  %s", strings.Join(state, "\n  "))
				}
			})
		}
	}
}

// TestSCIMDeactivationCreatesNoUser (review s15 X): a deactivation for a member the app does
// not have (deleted there, or never created: a first event that failed) has nothing to
// deactivate; the deliverer POSTs the member's profile to create them, inactive, handing an app
// that removed a person their name and email again.
func TestSCIMDeactivationCreatesNoUser(t *testing.T) {
	f := &strictSCIM{users: map[string]*scimUser{}}
	deliver, _ := strictTarget(t, f, "put")
	deliver(wire.TypeDeactivated, wire.User{Subject: "sub-carol", Active: false, Login: "carol", Email: "carol@example.org"})
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.posts != 0 || len(f.users) != 0 {
		t.Errorf("a deactivation of a member the app does not have created one: %d POST /Users, %d users", f.posts, len(f.users))
	}
}

// TestSCIMDeactivationBehindRefusedUpdate (review s15 X): a member's events are delivered one
// at a time, oldest first, and each carries the member's whole state. An update the app refuses
// with 409 (a login renamed to a userName another app user holds) is retried with backoff for
// hours (12 attempts, 10 s doubling to 1 h: about 1.7 to 3.4 hours) before it is dead; the
// member's deactivation, written meanwhile, waits behind it all that time, and the member stays
// active at the app. A later event of the same member supersedes the refused one: it carries a
// newer state, so retrying the older one is of no use.
func TestSCIMDeactivationBehindRefusedUpdate(t *testing.T) {
	f := &strictSCIM{users: map[string]*scimUser{}}
	deliver, events := strictTarget(t, f, "put")
	alice := wire.User{Subject: "sub-alice", Active: true, Login: "alice", Email: "alice@example.org"}
	deliver(wire.TypeCreated, alice)
	deliver(wire.TypeCreated, wire.User{Subject: "sub-bob", Active: true, Login: "bob", Email: "bob@example.org"})
	renamed := alice
	renamed.Login = "bob" // refused: 409, retried later
	deliver(wire.TypeUpdated, renamed)
	gone := renamed
	gone.Active = false
	deliver(wire.TypeDeactivated, gone) // due now; its head backs off
	f.mu.Lock()
	var at *scimUser
	for _, u := range f.users {
		if u.ExternalID == "sub-alice" {
			at = u
		}
	}
	f.mu.Unlock()
	if at == nil || at.Active {
		var state []string
		for _, e := range events() {
			state = append(state, fmt.Sprintf("%s %s attempts=%d next=%s err=%q", e.Type, e.State, e.Attempts,
				time.Until(e.NextAttempt).Round(time.Second), e.LastError))
		}
		t.Errorf("alice was deactivated in the AMS and is still active at the app; outbox:\n  %s", strings.Join(state, "\n  "))
	}
}
