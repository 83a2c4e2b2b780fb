package scim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox/scim"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/wire"
)

// groupsSCIM is strictSCIM with /Groups (RFC 7644 3.4.2, 3.3, 3.5.2): a group is found by
// displayName, created with its members, and PATCHed with "add" of members or "remove" of
// members[value eq "..."]; a remove whose filter matches no member is refused as RFC 7644
// 3.5.2.2 and 3.12 let a service provider refuse it (400 noTarget).
type groupsSCIM struct {
	*strictSCIM
	gmu     sync.Mutex
	names   map[string]string          // group id -> displayName
	members map[string]map[string]bool // group id -> user ids
	ng      int
}

func newGroupsSCIM() *groupsSCIM {
	return &groupsSCIM{strictSCIM: &strictSCIM{users: map[string]*scimUser{}}, names: map[string]string{},
		members: map[string]map[string]bool{}}
}

// group adds a group the app made itself, with the users of these external ids in it.
func (g *groupsSCIM) group(name string, externalIDs ...string) {
	g.gmu.Lock()
	defer g.gmu.Unlock()
	g.ng++
	id := fmt.Sprintf("g%d", g.ng)
	g.names[id], g.members[id] = name, map[string]bool{}
	for _, ext := range externalIDs {
		g.members[id][g.userID(ext)] = true
	}
}

func (g *groupsSCIM) userID(externalID string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, u := range g.users {
		if u.ExternalID == externalID {
			return id
		}
	}
	return ""
}

// of returns the names of the groups the user of externalID is in, sorted.
func (g *groupsSCIM) of(externalID string) []string {
	uid := g.userID(externalID)
	g.gmu.Lock()
	defer g.gmu.Unlock()
	var out []string
	for gid, m := range g.members {
		if m[uid] {
			out = append(out, g.names[gid])
		}
	}
	slices.Sort(out)
	return out
}

func (g *groupsSCIM) active(externalID string) bool {
	uid := g.userID(externalID)
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.users[uid] != nil && g.users[uid].Active
}

func scimErr(w http.ResponseWriter, status int, scimType, detail string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"schemas": []string{wire.SchemaError}, "status": fmt.Sprint(status),
		"scimType": scimType, "detail": detail})
}

func (g *groupsSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, "/scim/v2/Groups") {
		g.strictSCIM.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", wire.SCIMContentType)
	g.gmu.Lock()
	defer g.gmu.Unlock()
	gid := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/scim/v2/Groups"), "/")
	type member struct {
		Value string `json:"value"`
	}
	switch {
	case r.Method == http.MethodGet && gid == "":
		name, ok := strings.CutPrefix(r.URL.Query().Get("filter"), "displayName eq ")
		if !ok {
			scimErr(w, http.StatusBadRequest, "invalidFilter", "displayName eq only")
			return
		}
		var res []map[string]string
		for id, n := range g.names {
			if n == strings.Trim(name, `"`) {
				res = append(res, map[string]string{"id": id, "displayName": n})
			}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"totalResults": len(res), "Resources": res})
	case r.Method == http.MethodPost && gid == "":
		var in struct {
			DisplayName string   `json:"displayName"`
			Members     []member `json:"members"`
		}
		_ = json.Unmarshal(body, &in)
		g.ng++
		id := fmt.Sprintf("g%d", g.ng)
		g.names[id], g.members[id] = in.DisplayName, map[string]bool{}
		for _, m := range in.Members {
			g.members[id][m.Value] = true
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"id":%q,"displayName":%q}`, id, in.DisplayName)
	case r.Method == http.MethodPatch && g.names[gid] != "":
		var p struct {
			Operations []struct {
				Op    string          `json:"op"`
				Path  string          `json:"path"`
				Value json.RawMessage `json:"value"`
			} `json:"Operations"`
		}
		_ = json.Unmarshal(body, &p)
		for _, op := range p.Operations {
			switch {
			case strings.EqualFold(op.Op, "add") && op.Path == "members":
				var ms []member
				_ = json.Unmarshal(op.Value, &ms)
				for _, m := range ms {
					g.members[gid][m.Value] = true
				}
			case strings.EqualFold(op.Op, "remove") && strings.HasPrefix(op.Path, "members[value eq "):
				uid := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(op.Path, "members[value eq "), "]"), `"`)
				if !g.members[gid][uid] {
					scimErr(w, http.StatusBadRequest, "noTarget", "no such member")
					return
				}
				delete(g.members[gid], uid)
			default:
				scimErr(w, http.StatusBadRequest, "invalidPath", "unsupported operation")
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case gid != "":
		scimErr(w, http.StatusNotFound, "", "no such group")
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
	}
}

func withGroups(c *scim.Config) { c.Groups = true }

// TestSCIMDeactivationLeavesRoleGroups: a member deactivated at an app (AMS standing lapsed, the
// access rule no longer admits them, removed) leaves the groups the bridge keeps for their roles
// in the delivery that sets active=false, whichever way the deactivation reached the app (the
// profile with active=false, or "active" alone after the app refused the profile or kept the
// user active); a role dropped in the same change is left too, the app's own groups are not
// touched, and an event that makes the member active again puts them back in their roles'
// groups. Without it the member stays in every role group: an app that grants rights by group
// keeps granting them.
func TestSCIMDeactivationLeavesRoleGroups(t *testing.T) {
	for _, update := range []string{"put", "patch"} {
		for _, tc := range []struct {
			name string
			wrap func(*groupsSCIM) http.Handler
			gone func(u *wire.User)
		}{
			{"profile applied", func(g *groupsSCIM) http.Handler { return g }, func(*wire.User) {}},
			{"profile refused (409)", func(g *groupsSCIM) http.Handler { return g }, func(u *wire.User) { u.Login = "bob" }},
			{"answered still active", func(g *groupsSCIM) http.Handler {
				return groupsFirst{g, activeKeptOnReplace{g.strictSCIM}}
			}, func(*wire.User) {}},
		} {
			t.Run(update+"/"+tc.name, func(t *testing.T) {
				g := newGroupsSCIM()
				deliver, events := strictTarget(t, tc.wrap(g), update, withGroups)
				alice := wire.User{Subject: "sub-alice", Active: true, Login: "alice", Email: "alice@example.org",
					Roles: []string{"Board", "Member", "REG"}}
				deliver(wire.TypeCreated, alice)
				deliver(wire.TypeCreated, wire.User{Subject: "sub-bob", Active: true, Login: "bob", Email: "bob@example.org",
					Roles: []string{"Member"}})
				g.group("App Admins", "sub-alice") // the app's own group
				if got := g.of("sub-alice"); !slices.Equal(got, []string{"App Admins", "Board", "Member", "REG"}) {
					t.Fatalf("alice is in %q after her creation", got)
				}
				// Deactivated, her Board role ending in the same change.
				gone := alice
				gone.Active, gone.Roles = false, []string{"Member", "REG"}
				tc.gone(&gone)
				deliver(wire.TypeDeactivated, gone)
				dump := func() {
					for _, e := range events() {
						t.Logf("%s %s %s attempts=%d err=%q", e.ID, e.Type, e.State, e.Attempts, e.LastError)
					}
				}
				if g.active("sub-alice") {
					dump()
					t.Fatal("alice is still active at the app")
				}
				if got := g.of("sub-alice"); !slices.Equal(got, []string{"App Admins"}) {
					dump()
					t.Errorf("deactivated alice is in %q, want only the app's own group", got)
				}
				if got := g.of("sub-bob"); !slices.Equal(got, []string{"Member"}) {
					t.Errorf("bob is in %q", got)
				}
				back := alice
				back.Roles = []string{"Member", "REG"}
				deliver(wire.TypeUpdated, back)
				if got := g.of("sub-alice"); !slices.Equal(got, []string{"App Admins", "Member", "REG"}) {
					dump()
					t.Errorf("reactivated alice is in %q", got)
				}
				for _, e := range events() {
					if e.State != store.OutboxDelivered {
						t.Errorf("event %s (%s) is %s: %s", e.ID, e.Type, e.State, e.LastError)
					}
				}
			})
		}
	}
}

// groupsFirst serves /Groups from g and everything else from users.
type groupsFirst struct {
	g     *groupsSCIM
	users http.Handler
}

func (h groupsFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/scim/v2/Groups") {
		h.g.ServeHTTP(w, r)
		return
	}
	h.users.ServeHTTP(w, r)
}

// TestSCIMDeactivationMemberAlreadyOut: a member whom the app already took out of a role's group
// (an administrator there, or a deactivation delivered before) is not in it: the app answers the
// removal 400 noTarget (RFC 7644 3.5.2.2), and the deactivation is delivered, not dead.
func TestSCIMDeactivationMemberAlreadyOut(t *testing.T) {
	g := newGroupsSCIM()
	deliver, events := strictTarget(t, g, "put", withGroups)
	alice := wire.User{Subject: "sub-alice", Active: true, Login: "alice", Email: "alice@example.org", Roles: []string{"Board", "Member"}}
	deliver(wire.TypeCreated, alice)
	g.gmu.Lock()
	for gid, n := range g.names {
		if n == "Board" {
			g.members[gid] = map[string]bool{}
		}
	}
	g.gmu.Unlock()
	alice.Active = false
	id := deliver(wire.TypeDeactivated, alice)
	for _, e := range events() {
		if e.ID == id && e.State != store.OutboxDelivered {
			t.Fatalf("the deactivation is %s after %d attempts: %s", e.State, e.Attempts, e.LastError)
		}
	}
	if got := g.of("sub-alice"); len(got) != 0 {
		t.Errorf("deactivated alice is in %q", got)
	}
}
