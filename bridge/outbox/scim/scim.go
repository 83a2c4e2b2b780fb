package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/wire"
)

// Kind is the kind's name.
const Kind = "scim"

// Config is a SCIM 2.0 service provider.
type Config struct {
	// URL is the base URL (…/scim/v2); /Users and /Groups are below it.
	URL   string `yaml:"url"`
	Token string `yaml:"token"` // bearer token, from ${ENV}
	// Update is "put" (replace, default) or "patch" (RFC 7644 3.5.2: a replace of what the
	// member has, a remove with its path of each attribute they have none of).
	Update string `yaml:"update"`
	// Groups keeps one /Groups group per role with the member in it.
	Groups bool `yaml:"groups"`
}

// NewConfig is the outbox.Kind of SCIM targets.
func NewConfig() outbox.Settings { return &Config{} }

// Kind returns "scim".
func (c *Config) Kind() string { return Kind }

// Validate checks url, token and update.
func (c *Config) Validate(prefix string) error {
	if err := outbox.CheckURL(c.URL); err != nil {
		return fmt.Errorf("%s.url: %q: %w", prefix, c.URL, err)
	}
	if c.Token == "" {
		return fmt.Errorf("%s.token: required (a bearer token, e.g. ${PORTAL_SCIM_TOKEN})", prefix)
	}
	switch c.Update {
	case "", "put", "patch":
	default:
		return fmt.Errorf("%s.update: %q must be put or patch", prefix, c.Update)
	}
	return nil
}

// Deliverer upserts each event's user (and group memberships) at the service provider.
func (c *Config) Deliverer(d outbox.Deps) outbox.Deliverer {
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &deliverer{cfg: c, http: d.HTTP, store: d.Store, groups: &groupLocks{held: map[string]*groupLock{}}, log: log}
}

type deliverer struct {
	cfg    *Config
	http   *outbox.Sender
	store  store.Store
	groups *groupLocks
	log    *slog.Logger
}

// groupLocks serialises, per group name, the deliveries that may create a group: the outbox
// delivers several events at once, and two members with a new role would otherwise both find
// no group and both create one (RFC 7643 does not make a group's displayName unique).
type groupLocks struct {
	mu   sync.Mutex
	held map[string]*groupLock
}

type groupLock struct {
	ch    chan struct{} // a one-slot semaphore: waiting for it respects ctx
	users int
}

// lock takes the lock of name, or fails when ctx ends first; unlock gives it back.
func (g *groupLocks) lock(ctx context.Context, name string) (unlock func(), err error) {
	g.mu.Lock()
	l := g.held[name]
	if l == nil {
		l = &groupLock{ch: make(chan struct{}, 1)}
		g.held[name] = l
	}
	l.users++
	g.mu.Unlock()
	release := func() {
		g.mu.Lock()
		if l.users--; l.users == 0 {
			delete(g.held, name)
		}
		g.mu.Unlock()
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, outbox.Retry("SCIM group %q: %v", name, ctx.Err())
	}
}

type scimList struct {
	TotalResults int `json:"totalResults"`
	Resources    []struct {
		ID string `json:"id"`
	} `json:"Resources"`
}

type scimClient struct {
	http   *outbox.Sender
	t      *Config
	groups *groupLocks
}

func (c scimClient) url(path string) string { return strings.TrimSuffix(c.t.URL, "/") + path }

func (c scimClient) send(ctx context.Context, method, u string, body any) (*http.Response, []byte, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.t.Token)
	h.Set("Accept", wire.SCIMContentType)
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return nil, nil, outbox.Permanent("encode SCIM request: %v", err)
		}
		h.Set("Content-Type", wire.SCIMContentType)
	}
	return c.http.Do(ctx, method, u, h, b)
}

// find returns the id of the single resource matching filter, "" when none.
func (c scimClient) find(ctx context.Context, resource, filter string) (string, error) {
	ids, err := c.findAll(ctx, resource, filter)
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", nil
	}
	if len(ids) > 1 {
		return "", outbox.Permanent("SCIM GET /%s: %d resources match %s", resource, len(ids), filter)
	}
	return ids[0], nil
}

// findAll returns the ids of the resources matching filter, sorted.
func (c scimClient) findAll(ctx context.Context, resource, filter string) ([]string, error) {
	resp, body, err := c.send(ctx, http.MethodGet, c.url("/"+resource+"?filter="+url.QueryEscape(filter)), nil)
	if err != nil {
		return nil, err
	}
	if err := outbox.Status("SCIM GET /"+resource, resp, body); err != nil {
		return nil, err
	}
	var l scimList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, fmt.Errorf("SCIM GET /%s: bad list response: %w", resource, err)
	}
	ids := make([]string, 0, len(l.Resources))
	for _, r := range l.Resources {
		if r.ID == "" {
			return nil, fmt.Errorf("SCIM GET /%s: a resource without an id", resource)
		}
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids, nil
}

func scimString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// Deliver brings the user to the state of the event: create when the server does not know
// them (by externalId), else replace or patch; then group memberships when configured.
func (d *deliverer) Deliver(ctx context.Context, e *store.OutboxEvent) error {
	t := d.cfg
	var ev wire.Event
	if err := json.Unmarshal(e.Payload, &ev); err != nil {
		return outbox.Permanent("decode event: %v", err)
	}
	c := scimClient{http: d.http, t: t, groups: d.groups}
	id := ""
	if su, err := d.store.ShadowUser(ctx, e.ClientID, e.Subject); err == nil {
		id = su.ExternalID
	} else if !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	if id == "" {
		var err error
		if id, err = c.find(ctx, "Users", "externalId eq "+scimString(ev.Data.Subject)); err != nil {
			return err
		}
	}
	res := wire.SCIMUserOf(ev.Data)
	if id != "" {
		var (
			resp *http.Response
			body []byte
			err  error
		)
		if t.Update == "patch" {
			ops, verr := patchOps(res)
			if verr != nil {
				return verr
			}
			resp, body, err = c.send(ctx, http.MethodPatch, c.url("/Users/"+url.PathEscape(id)), map[string]any{
				"schemas": []string{wire.SchemaPatchOp}, "Operations": ops,
			})
		} else {
			resp, body, err = c.send(ctx, http.MethodPut, c.url("/Users/"+url.PathEscape(id)), res)
		}
		if err != nil {
			return err
		}
		method := resp.Request.Method
		err = outbox.Status("SCIM "+method+" /Users", resp, body)
		switch {
		case resp.StatusCode == http.StatusNotFound: // deleted on their side: create again
			id = ""
		case err == nil && (ev.Data.Active || !stillActive(body)):
			// Done (a deactivation whose answer does not contradict it, RFC 7644 3.5.1).
		case err != nil && ev.Data.Active && resp.StatusCode == http.StatusConflict:
			// The app holds another user with a value of this one (RFC 7644 3.12:
			// uniqueness): sending the same state again cannot succeed, and retrying it for
			// hours would hold every later event of the member behind it (their deactivation
			// included). Dead at once, for the operator to see; the next change is sent.
			return outbox.Permanent("%v", err)
		case err != nil && (ev.Data.Active || !refusesContent(resp.StatusCode)):
			return err
		default:
			if err := d.deactivateAlone(ctx, c, e, id, method, err); err != nil {
				return err
			}
		}
	}
	if id == "" && !ev.Data.Active {
		// Nothing to deactivate: the app does not have the member (deleted there, or never
		// created). Creating them, inactive, would hand an app that removed a person their
		// name and email again.
		return nil
	}
	if id == "" {
		resp, body, err := c.send(ctx, http.MethodPost, c.url("/Users"), res)
		if err != nil {
			return err
		}
		if err := outbox.Status("SCIM POST /Users", resp, body); err != nil {
			return err
		}
		var created struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
			return outbox.Permanent("SCIM POST /Users: the answer has no id")
		}
		id = created.ID
	}
	if err := d.store.SetShadowExternalID(ctx, e.ClientID, e.Subject, id); err != nil && !errors.Is(err, sso.ErrNotFound) {
		return err
	}
	if !t.Groups {
		return nil
	}
	if !ev.Data.Active {
		// A deactivated member holds no role at the app: they leave the group of each role
		// they had (the groups the bridge keeps, named by a role; no other group of the app),
		// so that an app granting rights by group grants them nothing while they are inactive.
		// The roles attribute keeps the profile; an event that makes them active again joins
		// every role's group again.
		return c.syncGroups(ctx, id, nil, append(slices.Clone(ev.Data.Roles), ev.RemovedRoles...))
	}
	return c.syncGroups(ctx, id, ev.Data.Roles, ev.RemovedRoles)
}

// deactivateAlone deactivates a member whose deactivation, sent with their profile, the app did
// not apply: it refused the profile (refused: a login renamed to one another user of the app
// holds, 409 uniqueness; a value it finds invalid, 400) or answered 2xx with the user still
// active (refused nil: it ignores "active" in a whole resource, RFC 7644 3.5.1 readOnly, or
// takes it only through its own path). "active" is replaced alone (RFC 7644 3.5.2.3), which no
// check of the other attributes can refuse; else the member, disabled in the AMS, stays active
// at the app. When that PATCH fails too, its own failure decides whether the event is retried
// (a 5xx or a timeout after a profile refused with 400 is retried, not dead at once), with
// what the app did to the profile as context; the app's answer to it is said in the log.
func (d *deliverer) deactivateAlone(ctx context.Context, c scimClient, e *store.OutboxEvent, id, method string, refused error) error {
	what := "answered with the user still active"
	if refused != nil {
		what = "refused: " + refused.Error()
	}
	if err := c.deactivate(ctx, id); err != nil {
		return fmt.Errorf("%w (after the profile's %s was %s)", err, method, what)
	}
	d.log.WarnContext(ctx, "shadow: SCIM did not deactivate the member with their profile; deactivated with active alone",
		"client", e.ClientID, "subject", e.Subject, "method", method, "answer", what)
	return nil
}

// patchOps are the operations of the PATCH that brings the user to res: a replace without a
// path of every attribute the bridge sends (RFC 7644 3.5.2.3), which leaves an attribute its
// value does not name as it was, then a remove with a path (3.5.2.2) of each attribute the
// member has none of (absentPaths), so that an email removed in the AMS is removed at the app.
// null in a replace is not defined by RFC 7644, and servers that validate values refuse it.
func patchOps(res wire.SCIMUser) ([]map[string]any, error) {
	absent := absentPaths(res)
	res.Schemas = nil
	b, err := json.Marshal(res)
	if err != nil {
		return nil, outbox.Permanent("encode SCIM request: %v", err)
	}
	var val map[string]any
	if err := json.Unmarshal(b, &val); err != nil {
		return nil, outbox.Permanent("encode SCIM request: %v", err)
	}
	ops := []map[string]any{{"op": "replace", "value": val}}
	for _, p := range absent {
		ops = append(ops, map[string]any{"op": "remove", "path": p})
	}
	return ops, nil
}

// notCleared are the attributes of wire.SCIMUser left out of absentPaths: the resource's own
// (schemas, id) and active, always sent.
var notCleared = map[string]bool{"schemas": true, "id": true, "active": true}

// absentPaths are the paths (RFC 7644 3.10) of the attributes of u the member has none of:
// derived from wire.SCIMUser's json tags, each omitempty attribute (and sub-attribute of a
// complex one that is sent) that is empty, but for notCleared. An extension sent not at all
// (the membership of an app that does not receive it) is never named: only its sub-attributes
// when it is sent, each as urn:...:User:attr.
func absentPaths(u wire.SCIMUser) []string {
	return appendAbsent(nil, "", reflect.ValueOf(u))
}

func appendAbsent(out []string, prefix string, v reflect.Value) []string {
	t := v.Type()
	for i := range t.NumField() {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" || notCleared[name] {
			continue
		}
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() && f.Elem().Kind() == reflect.Struct {
			sub := name + "."
			if strings.HasPrefix(name, "urn:") { // an extension: its attributes are urn:…:attr
				sub = name + ":"
			}
			out = appendAbsent(out, prefix+sub, f.Elem())
			continue
		}
		if !slices.Contains(strings.Split(opts, ","), "omitempty") || !f.IsZero() && !(f.Kind() == reflect.Slice && f.Len() == 0) {
			continue
		}
		if strings.HasPrefix(name, "urn:") {
			continue // an extension not sent: an app that does not receive it is never told of it
		}
		out = append(out, prefix+name)
	}
	return out
}

// refusesContent reports whether an HTTP status is the service provider refusing what the
// request carries (RFC 7644 3.12: 400 invalidValue and the like, 409 uniqueness), not its own
// state (404: gone; 5xx, 408, 429: busy).
func refusesContent(code int) bool {
	return code == http.StatusBadRequest || code == http.StatusConflict || code == http.StatusUnprocessableEntity
}

// deactivate sets the user's active attribute to false and nothing else (RFC 7644 3.5.2.3, a
// replace operation with a path).
func (c scimClient) deactivate(ctx context.Context, id string) error {
	resp, body, err := c.send(ctx, http.MethodPatch, c.url("/Users/"+url.PathEscape(id)), map[string]any{
		"schemas": []string{wire.SchemaPatchOp}, "Operations": []map[string]any{{"op": "replace", "path": "active", "value": false}},
	})
	if err != nil {
		return err
	}
	if err := outbox.Status("SCIM PATCH /Users active", resp, body); err != nil {
		return err
	}
	if stillActive(body) {
		// The app says the user is active after "active" was set to false: it will not
		// deactivate them this way; sending it again cannot change that.
		return outbox.Permanent("SCIM PATCH /Users active: answered with the user still active")
	}
	return nil
}

// stillActive reports whether a SCIM answer holds the user's "active" attribute as true. An
// answer without it (an empty 204, a resource without the attribute) says nothing and is not
// read as active.
func stillActive(body []byte) bool {
	var u struct {
		Active *bool `json:"active"`
	}
	return len(body) > 0 && json.Unmarshal(body, &u) == nil && u.Active != nil && *u.Active
}

// syncGroups adds the user to the group of each role (creating groups as needed) and removes
// them from the groups of removed roles. The groups of one name (two replicas may each have
// made one, or an administrator at the app) are one group here: the member is added to the one
// with the smallest id and removed from each.
func (c scimClient) syncGroups(ctx context.Context, userID string, roles, removed []string) error {
	member := func(op string, gid string) error {
		var ops map[string]any
		if op == "add" {
			ops = map[string]any{"op": "add", "path": "members", "value": []map[string]string{{"value": userID}}}
		} else {
			ops = map[string]any{"op": "remove", "path": "members[value eq " + scimString(userID) + "]"}
		}
		resp, body, err := c.send(ctx, http.MethodPatch, c.url("/Groups/"+url.PathEscape(gid)), map[string]any{
			"schemas": []string{wire.SchemaPatchOp}, "Operations": []any{ops}})
		if err != nil {
			return err
		}
		if op == "remove" && notThere(resp.StatusCode, body) {
			return nil // not in the group (removed at the app), or the group is gone: as wanted
		}
		return outbox.Status("SCIM PATCH /Groups", resp, body)
	}
	for _, role := range roles {
		if err := c.joinGroup(ctx, role, userID, member); err != nil {
			return err
		}
	}
	for _, role := range removed {
		gids, err := c.findAll(ctx, "Groups", "displayName eq "+scimString(role))
		if err != nil {
			return err
		}
		for _, gid := range gids {
			if err := member("remove", gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// notThere reports whether a SCIM answer to removing a group member says there was nothing to
// remove: the group is gone (404), or the filter matched no member (RFC 7644 3.5.2.2 and 3.12:
// 400 with scimType noTarget).
func notThere(code int, body []byte) bool {
	if code == http.StatusNotFound {
		return true
	}
	var e struct {
		SCIMType string `json:"scimType"`
	}
	return code == http.StatusBadRequest && json.Unmarshal(body, &e) == nil && e.SCIMType == "noTarget"
}

// joinGroup adds the user to the group named role, creating it when there is none; on this
// replica one delivery at a time looks a group name up and creates it. The lock is held from
// the look-up to the creation only: adding a member to a group found runs alongside others.
// A creation the server refuses with 409 (RFC 7644 3.3 uniqueness: another replica, or the
// app, made the group meanwhile) is followed by the look-up again and the member added there.
func (c scimClient) joinGroup(ctx context.Context, role, userID string, member func(op, gid string) error) error {
	unlock, err := c.groups.lock(ctx, role)
	if err != nil {
		return err
	}
	gids, err := c.findAll(ctx, "Groups", "displayName eq "+scimString(role))
	if err != nil || len(gids) > 0 {
		unlock()
		if err != nil {
			return err
		}
		return member("add", gids[0])
	}
	resp, body, err := c.send(ctx, http.MethodPost, c.url("/Groups"), map[string]any{
		"schemas": []string{wire.SchemaGroup}, "displayName": role,
		"members": []map[string]string{{"value": userID}}})
	unlock()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusConflict {
		return outbox.Status("SCIM POST /Groups", resp, body)
	}
	if gids, err = c.findAll(ctx, "Groups", "displayName eq "+scimString(role)); err != nil {
		return err
	}
	if len(gids) == 0 { // the group went again meanwhile: the next attempt creates it
		return outbox.Retry("SCIM POST /Groups %q: 409, and no group of that name found", role)
	}
	return member("add", gids[0])
}
