package consumer

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ssobridge/ssobridge/wire"
)

// scimResource is the User resource the app answers with, every attribute it keeps (the one a
// PATCH is applied to); its id is the subject.
func scimResource(u *User) wire.SCIMUser {
	w := wire.User{Subject: u.Subject, Active: u.Active, Login: u.Login, Email: u.Email, Name: u.Name,
		GivenName: u.GivenName, FamilyName: u.FamilyName, Picture: u.Picture, Roles: u.Roles}
	if len(u.Membership) > 0 {
		var m wire.Membership
		if json.Unmarshal(u.Membership, &m) == nil {
			w.Membership = &m
		}
	}
	r := wire.SCIMUserOf(w)
	r.ID = u.Subject
	return r
}

// storeSCIM upserts a received User resource.
func (c *Consumer) storeSCIM(ctx context.Context, in wire.SCIMUser) error {
	u, err := userOf(in.User())
	if err != nil {
		return err
	}
	return c.UpsertUser(ctx, u)
}

// SCIMHandler is a minimal SCIM 2.0 service provider for the bridge's pushes, mounted at the
// app's SCIM base (use http.StripPrefix): POST /Users, GET /Users?filter=externalId eq "...",
// GET, PUT, PATCH (add, replace and remove, with and without paths: scimpatch.go) and DELETE
// (deactivates) /Users/{id}; and /Groups, each group the users holding a role (scimgroups.go).
// The resource id is the subject. Requests must carry the configured bearer token.
func (c *Consumer) SCIMHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		authz := r.Header.Get("Authorization")
		scheme, tok, _ := strings.Cut(authz, " ")
		ok := strings.EqualFold(scheme, "Bearer") && tok != ""
		if c.cfg.SCIMToken == "" || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(c.cfg.SCIMToken)) != 1 {
			// RFC 6750 3: a 401 carries the Bearer challenge; with no credentials at all it
			// carries no error code (3.1), with a wrong or malformed one invalid_token.
			challenge := `Bearer realm="scim"`
			if authz != "" {
				challenge += `, error="invalid_token"`
			}
			w.Header().Set("WWW-Authenticate", challenge)
			scimError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/Groups"); ok && (rest == "" || rest[0] == '/') {
			c.serveGroups(w, r, rest)
			return
		}
		rest, ok := strings.CutPrefix(r.URL.Path, "/Users")
		if !ok {
			scimError(w, http.StatusNotFound, "only /Users and /Groups are served")
			return
		}
		id, _ := url.PathUnescape(strings.TrimPrefix(rest, "/"))
		var in wire.SCIMUser
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&in); err != nil || in.ExternalID == "" {
				scimError(w, http.StatusBadRequest, "a User with externalId is required")
				return
			}
		}
		switch {
		case r.Method == http.MethodGet && id == "":
			sub, err := externalIDFilter(r.URL.Query().Get("filter"))
			if err != nil {
				scimError(w, http.StatusBadRequest, err.Error())
				return
			}
			res := []any{}
			if u, err := c.User(ctx, sub); err == nil {
				res = append(res, scimResource(u))
			}
			writeSCIM(w, http.StatusOK, map[string]any{"schemas": []string{wire.SchemaListResp},
				"totalResults": len(res), "Resources": res})
		case r.Method == http.MethodGet:
			u, err := c.User(ctx, id)
			if err != nil {
				scimError(w, http.StatusNotFound, "no such user")
				return
			}
			writeSCIM(w, http.StatusOK, scimResource(u))
		case r.Method == http.MethodPost && id == "", r.Method == http.MethodPut && id != "":
			if id != "" && id != in.ExternalID {
				scimError(w, http.StatusBadRequest, "id and externalId differ")
				return
			}
			if err := c.storeSCIM(ctx, in); err != nil {
				scimError(w, http.StatusInternalServerError, "cannot store the user")
				return
			}
			u, _ := c.User(ctx, in.ExternalID)
			status := http.StatusOK
			if r.Method == http.MethodPost {
				status = http.StatusCreated
			}
			writeSCIM(w, status, scimResource(u))
		case r.Method == http.MethodPatch && id != "":
			// RFC 7644 3.5.2 (scimpatch.go): the operations applied in order to the stored
			// user, all or none; the answer is the resource as it now is.
			var p scimPatchRequest
			if err := json.NewDecoder(io.LimitReader(r.Body, 256<<10)).Decode(&p); err != nil {
				scimPatchError(w, perr("invalidSyntax", "the body is not a PatchOp request"))
				return
			}
			if !slices.Contains(p.Schemas, wire.SchemaPatchOp) {
				scimPatchError(w, perr("invalidSyntax", "schemas must name %s", wire.SchemaPatchOp))
				return
			}
			// Read, patched and written in one transaction (changeUser): a change made
			// meanwhile is neither read stale nor overwritten.
			u, err := c.changeUser(ctx, id, func(u *User) (User, error) {
				res := scimResource(u)
				if perr := patchUser(&res, p.Operations); perr != nil {
					return User{}, perr
				}
				res.ExternalID = id
				return userOf(res.User())
			})
			var perr *patchError
			switch {
			case errors.As(err, &perr):
				scimPatchError(w, perr)
			case errors.Is(err, ErrNotFound):
				scimError(w, http.StatusNotFound, "no such user")
			case err != nil:
				scimError(w, http.StatusInternalServerError, "cannot store the user")
			default:
				writeSCIM(w, http.StatusOK, scimResource(u))
			}
		case r.Method == http.MethodDelete && id != "":
			u, err := c.User(ctx, id)
			if err != nil {
				scimError(w, http.StatusNotFound, "no such user")
				return
			}
			u.Active, u.UpdatedAt = false, c.now()
			if err := c.UpsertUser(ctx, *u); err != nil {
				scimError(w, http.StatusInternalServerError, "cannot store the user")
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			scimError(w, http.StatusMethodNotAllowed, "not supported")
		}
	})
}

// externalIDFilter parses `externalId eq "..."`, the only filter supported.
func externalIDFilter(f string) (string, error) {
	v, ok := strings.CutPrefix(f, `externalId eq "`)
	if !ok || !strings.HasSuffix(v, `"`) {
		return "", errors.New(`only the filter externalId eq "..." is supported`)
	}
	return strings.NewReplacer(`\"`, `"`, `\\`, `\`).Replace(strings.TrimSuffix(v, `"`)), nil
}

func writeSCIM(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", wire.SCIMContentType)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// scimError answers an error (RFC 7644 3.12: status is the HTTP status code, as a string).
func scimError(w http.ResponseWriter, status int, detail string) {
	writeSCIM(w, status, map[string]any{"schemas": []string{wire.SchemaError},
		"status": strconv.Itoa(status), "detail": detail})
}
