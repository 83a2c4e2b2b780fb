package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ssobridge/ssobridge/wire"
)

// This file is /Groups (RFC 7643 4.2, RFC 7644 3.5.2), for a bridge target with groups: true.
// A group here is a role: the group named R is the users holding role R in sso_user_roles, its
// id is R. So a group exists while someone holds its role (one created with no member is not
// kept), and being added to or removed from it gives or takes the role, which is what an app
// reads. Served: GET /Groups?filter=displayName eq "R", GET /Groups/{id}, POST /Groups (with
// members), PATCH /Groups/{id} adding or removing members (path "members" with values, or
// members[value eq "id"]; replace of "members" sets them all), DELETE /Groups/{id} (nobody holds
// the role any more). A group cannot be renamed (400 mutability): its name is the role's. A POST
// of a group that exists (someone holds the role) is 409 uniqueness (RFC 7644 3.3) and changes
// nothing: the client finds the group and adds its members with a PATCH.

type scimMember struct {
	Value string `json:"value"`
}

type scimGroup struct {
	Schemas     []string     `json:"schemas"`
	ID          string       `json:"id"`
	DisplayName string       `json:"displayName"`
	Members     []scimMember `json:"members"`
}

// holders lists the subjects holding role, sorted.
func (c *Consumer) holders(ctx context.Context, role string) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, c.q(`SELECT subject FROM sso_user_roles WHERE role = ? ORDER BY subject`), role)
	if err != nil {
		return nil, fmt.Errorf("consumer: group %q: %w", role, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, fmt.Errorf("consumer: group %q: %w", role, err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// groupChange is one membership change of a PATCH.
type groupChange struct {
	add     bool
	subject string
	// strict: a remove selected by a filter, noTarget when it selects nobody (one by value is
	// not: RFC 7644 3.5.2.2 removes the values given).
	strict bool
}

// changeGroup applies membership changes to role in one transaction: all or none. A member
// removed who does not hold the role is noTarget when the change is strict (a filter that
// selected nothing); a member added who is not a user here is invalidValue. create is a POST
// of the group: 409 uniqueness when someone holds the role already.
func (c *Consumer) changeGroup(ctx context.Context, role string, create, replaceAll bool, changes []groupChange) (*patchError, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("consumer: group %q: %w", role, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if create {
		// Two POSTs of one name at the same moment may both find none (PostgreSQL's read
		// committed): both members then hold the role, the one group a role is here.
		var n int
		if err := tx.QueryRowContext(ctx, c.q(`SELECT COUNT(*) FROM sso_user_roles WHERE role = ?`), role).Scan(&n); err != nil {
			return nil, fmt.Errorf("consumer: group %q: %w", role, err)
		}
		if n > 0 {
			return &patchError{scimType: "uniqueness", detail: fmt.Sprintf("a group named %q exists", role), status: http.StatusConflict}, nil
		}
	}
	if replaceAll {
		if _, err := tx.ExecContext(ctx, c.q(`DELETE FROM sso_user_roles WHERE role = ?`), role); err != nil {
			return nil, fmt.Errorf("consumer: group %q: %w", role, err)
		}
	}
	for _, ch := range changes {
		if ch.add {
			var n int
			if err := tx.QueryRowContext(ctx, c.q(`SELECT COUNT(*) FROM sso_users WHERE subject = ?`), ch.subject).Scan(&n); err != nil {
				return nil, fmt.Errorf("consumer: group %q: %w", role, err)
			}
			if n == 0 {
				return perr("invalidValue", "member %q is no user here", ch.subject), nil
			}
			if _, err := tx.ExecContext(ctx, c.q(`INSERT INTO sso_user_roles (subject, role) VALUES (?, ?)
				ON CONFLICT (subject, role) DO NOTHING`), ch.subject, role); err != nil {
				return nil, fmt.Errorf("consumer: group %q: %w", role, err)
			}
			continue
		}
		res, err := tx.ExecContext(ctx, c.q(`DELETE FROM sso_user_roles WHERE subject = ? AND role = ?`), ch.subject, role)
		if err != nil {
			return nil, fmt.Errorf("consumer: group %q: %w", role, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("consumer: group %q: %w", role, err)
		} else if n == 0 && ch.strict {
			return perr("noTarget", "%q is not a member", ch.subject), nil
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("consumer: group %q: %w", role, err)
	}
	return nil, nil
}

// groupResource is the group of role as it now is; nil when nobody holds the role.
func (c *Consumer) groupResource(ctx context.Context, role string) (*scimGroup, error) {
	subs, err := c.holders(ctx, role)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	g := &scimGroup{Schemas: []string{wire.SchemaGroup}, ID: role, DisplayName: role, Members: []scimMember{}}
	for _, s := range subs {
		g.Members = append(g.Members, scimMember{Value: s})
	}
	return g, nil
}

// groupPatch reads a PATCH of a group into membership changes: replaceAll when "members" is
// replaced as a whole.
func groupPatch(role string, ops []patchOp) (changes []groupChange, replaceAll bool, _ *patchError) {
	if len(ops) == 0 {
		return nil, false, perr("invalidSyntax", "no Operations")
	}
	members := func(raw json.RawMessage) ([]string, *patchError) {
		var ms []scimMember
		if json.Unmarshal(raw, &ms) != nil {
			var one scimMember
			if json.Unmarshal(raw, &one) != nil {
				return nil, perr("invalidValue", "members must be a list of {\"value\": id}")
			}
			ms = []scimMember{one}
		}
		out := make([]string, 0, len(ms))
		for _, m := range ms {
			if m.Value == "" {
				return nil, perr("invalidValue", "a member without a value")
			}
			out = append(out, m.Value)
		}
		return out, nil
	}
	for i, op := range ops {
		kind := strings.ToLower(op.Op)
		path := strings.TrimPrefix(op.Path, wire.SchemaGroup+":")
		var value json.RawMessage
		switch {
		case kind != "add" && kind != "replace" && kind != "remove":
			return nil, false, perr("invalidSyntax", "operation %d: op %q must be add, replace or remove", i, op.Op)
		case path == "" && kind == "remove":
			return nil, false, perr("noTarget", "operation %d: a remove needs a path", i)
		case path == "":
			m, err := decodeObject(op.Value, "the value of an operation without a path")
			if err != nil {
				return nil, false, err
			}
			if dn, ok := m["displayname"]; ok {
				if s, _ := decodeString(dn, "displayName"); s != role {
					return nil, false, perr("mutability", "operation %d: a group is a role: it cannot be renamed", i)
				}
			}
			value = m["members"]
			if value == nil {
				continue
			}
		case strings.EqualFold(path, "displayName"):
			if s, _ := decodeString(op.Value, "displayName"); kind == "remove" || s != role {
				return nil, false, perr("mutability", "operation %d: a group is a role: it cannot be renamed", i)
			}
			continue
		case strings.EqualFold(path, "members"):
			value = op.Value
		case len(path) > len("members[") && strings.EqualFold(path[:len("members[")], "members[") && strings.HasSuffix(path, "]"):
			terms, err := parseFilter(path[len("members[") : len(path)-1])
			if err != nil {
				return nil, false, err
			}
			if kind != "remove" || len(terms) != 1 || terms[0].attr != "value" {
				return nil, false, perr("invalidFilter", "operation %d: only remove of members[value eq \"id\"] is supported", i)
			}
			s, _ := terms[0].value.(string)
			changes = append(changes, groupChange{subject: s, strict: true})
			continue
		default:
			return nil, false, perr("invalidPath", "operation %d: %q names no attribute of a group here", i, op.Path)
		}
		if kind == "remove" && isNull(value) { // every member
			kind, value = "replace", json.RawMessage("[]")
		}
		subs, err := members(value)
		if err != nil {
			return nil, false, err
		}
		if kind == "replace" {
			if i != 0 {
				return nil, false, perr("invalidSyntax", "operation %d: a replace of members must come first", i)
			}
			replaceAll = true
		}
		for _, s := range subs {
			changes = append(changes, groupChange{add: kind != "remove", subject: s})
		}
	}
	return changes, replaceAll, nil
}

// serveGroups answers /Groups[/{id}] (rest is the path after /Groups).
func (c *Consumer) serveGroups(w http.ResponseWriter, r *http.Request, rest string) {
	ctx := r.Context()
	role, _ := url.PathUnescape(strings.TrimPrefix(rest, "/"))
	switch {
	case r.Method == http.MethodGet && role == "":
		name, ok := strings.CutPrefix(r.URL.Query().Get("filter"), "displayName eq ")
		var want string
		if ok && json.Unmarshal([]byte(name), &want) == nil {
			res := []any{}
			if g, err := c.groupResource(ctx, want); err != nil {
				scimError(w, http.StatusInternalServerError, "cannot read the group")
				return
			} else if g != nil {
				res = append(res, g)
			}
			writeSCIM(w, http.StatusOK, map[string]any{"schemas": []string{wire.SchemaListResp},
				"totalResults": len(res), "Resources": res})
			return
		}
		scimPatchError(w, perr("invalidFilter", `only the filter displayName eq "..." is supported`))
	case r.Method == http.MethodGet:
		c.answerGroup(w, r, role, http.StatusOK)
	case r.Method == http.MethodPost && role == "":
		var in scimGroup
		if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&in); err != nil || in.DisplayName == "" {
			scimPatchError(w, perr("invalidSyntax", "a Group with displayName is required"))
			return
		}
		var changes []groupChange
		for _, m := range in.Members {
			changes = append(changes, groupChange{add: true, subject: m.Value})
		}
		if perr, err := c.changeGroup(ctx, in.DisplayName, true, false, changes); err != nil {
			scimError(w, http.StatusInternalServerError, "cannot store the group")
			return
		} else if perr != nil {
			scimPatchError(w, perr)
			return
		}
		c.answerGroup(w, r, in.DisplayName, http.StatusCreated)
	case r.Method == http.MethodPatch && role != "":
		var p scimPatchRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&p); err != nil || !slices.Contains(p.Schemas, wire.SchemaPatchOp) {
			scimPatchError(w, perr("invalidSyntax", "the body is not a PatchOp request"))
			return
		}
		g, err := c.groupResource(ctx, role)
		if err != nil {
			scimError(w, http.StatusInternalServerError, "cannot read the group")
			return
		}
		if g == nil {
			scimError(w, http.StatusNotFound, "no such group")
			return
		}
		changes, all, perr := groupPatch(role, p.Operations)
		if perr == nil {
			perr, err = c.changeGroup(ctx, role, false, all, changes)
			if err != nil {
				scimError(w, http.StatusInternalServerError, "cannot store the group")
				return
			}
		}
		if perr != nil {
			scimPatchError(w, perr)
			return
		}
		if g, err = c.groupResource(ctx, role); err != nil {
			scimError(w, http.StatusInternalServerError, "cannot read the group")
			return
		}
		if g == nil { // the last member left: the group is gone with its role
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeSCIM(w, http.StatusOK, g)
	case r.Method == http.MethodDelete && role != "":
		if _, err := c.changeGroup(ctx, role, false, true, nil); err != nil {
			scimError(w, http.StatusInternalServerError, "cannot delete the group")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		scimError(w, http.StatusMethodNotAllowed, "not supported")
	}
}

func (c *Consumer) answerGroup(w http.ResponseWriter, r *http.Request, role string, status int) {
	g, err := c.groupResource(r.Context(), role)
	switch {
	case err != nil:
		scimError(w, http.StatusInternalServerError, "cannot read the group")
	case g == nil && status == http.StatusCreated:
		// Created without members: a group here is its role's holders, so it is not kept.
		writeSCIM(w, status, scimGroup{Schemas: []string{wire.SchemaGroup}, ID: role, DisplayName: role, Members: []scimMember{}})
	case g == nil:
		scimError(w, http.StatusNotFound, "no such group")
	default:
		writeSCIM(w, status, g)
	}
}
