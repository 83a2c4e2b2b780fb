package consumer_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/consumer"
)

// TestSCIMHandlerBearerChallenge: RFC 6750 section 3: a 401 of a resource server protected by
// a bearer token carries WWW-Authenticate with the Bearer scheme; with no credentials no error
// code (3.1), with a wrong token error="invalid_token". The scheme name is case-insensitive
// (RFC 7235 2.1), so "bearer <token>" is accepted.
func TestSCIMHandlerBearerChallenge(t *testing.T) {
	o := newOP(t)
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	c, err := consumer.New(ctx, consumer.Config{Issuer: o.srv.URL, ClientID: "app", DB: db, SCIMToken: "scim-secret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := c.SCIMHandler()
	for _, tc := range []struct {
		name, authz string
		status      int
		challenge   string // "" = no header expected
	}{
		{"none", "", http.StatusUnauthorized, `Bearer realm="scim"`},
		{"wrong token", "Bearer nope", http.StatusUnauthorized, `Bearer realm="scim", error="invalid_token"`},
		{"basic", "Basic c2NpbTpzY2lt", http.StatusUnauthorized, `Bearer realm="scim", error="invalid_token"`},
		{"empty bearer", "Bearer ", http.StatusUnauthorized, `Bearer realm="scim", error="invalid_token"`},
		{"right token", "Bearer scim-secret", http.StatusOK, ""},
		{"scheme case", "bearer scim-secret", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, `/Users?filter=externalId+eq+"sub-1"`, nil)
			if tc.authz != "" {
				r.Header.Set("Authorization", tc.authz)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			got := w.Header().Get("WWW-Authenticate")
			if got != tc.challenge {
				t.Fatalf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if tc.status == http.StatusUnauthorized && (!strings.Contains(w.Body.String(), "invalid token") ||
				!strings.Contains(w.Body.String(), `"status":"401"`)) {
				t.Fatalf("body %s", w.Body)
			}
		})
	}
}

// scimApp is a consumer on a fresh SQLite file with SCIM token scim-secret, and a function
// sending it one SCIM request.
func scimApp(t *testing.T) (*consumer.Consumer, func(method, path, body string) *httptest.ResponseRecorder) {
	o := newOP(t)
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "app.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	c, err := consumer.New(ctx, consumer.Config{Issuer: o.srv.URL, ClientID: "app", DB: db, SCIMToken: "scim-secret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := c.SCIMHandler()
	return c, func(method, path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer scim-secret")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
}

const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`

// TestSCIMHandlerPatch: PATCH /Users/{id} through the handler (RFC 7644 3.5.2): operations with
// paths change the stored user (roles, active, the email of a type, the given name) and the
// answer is the resource as it now is (200); a refused one is 400 with its scimType and changes
// nothing; a body without the PatchOp schema is invalidSyntax; an unknown user 404.
func TestSCIMHandlerPatch(t *testing.T) {
	c, do := scimApp(t)
	ctx := context.Background()
	if w := do(http.MethodPost, "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"externalId":"sub-1","userName":"alice",
		"name":{"givenName":"Alice","familyName":"Smith"},"emails":[{"value":"alice@example.org","type":"work","primary":true}],
		"active":true,"roles":[{"value":"Board"},{"value":"Member"}]}`); w.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	w := do(http.MethodPatch, "/Users/sub-1", `{`+patchOp+`,"Operations":[
		{"op":"remove","path":"roles[value eq \"Board\"]"},
		{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@new.example"},
		{"op":"replace","path":"name.givenName","value":"Alicia"},
		{"op":"replace","path":"active","value":false}]}`)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"active":false`) || !strings.Contains(w.Body.String(), `"a@new.example"`) {
		t.Fatalf("PATCH: %d %s", w.Code, w.Body)
	}
	u, err := c.User(ctx, "sub-1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Active || u.Email != "a@new.example" || u.GivenName != "Alicia" || u.FamilyName != "Smith" || strings.Join(u.Roles, ",") != "Member" {
		t.Fatalf("after the PATCH: %+v", u)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"unknown path", `{` + patchOp + `,"Operations":[{"op":"replace","path":"title","value":"x"}]}`, 400, `"scimType":"invalidPath"`},
		{"filter", `{` + patchOp + `,"Operations":[{"op":"remove","path":"roles[value sw \"M\"]"}]}`, 400, `"scimType":"invalidFilter"`},
		{"no target", `{` + patchOp + `,"Operations":[{"op":"remove","path":"roles[value eq \"Board\"]"}]}`, 400, `"scimType":"noTarget"`},
		{"no PatchOp schema", `{"Operations":[{"op":"replace","path":"active","value":true}]}`, 400, `"scimType":"invalidSyntax"`},
		{"not JSON", `active=true`, 400, `"scimType":"invalidSyntax"`},
		{"null value", `{` + patchOp + `,"Operations":[{"op":"replace","value":{"active":true,"emails":null}}]}`, 400, `"scimType":"invalidValue"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(http.MethodPatch, "/Users/sub-1", tc.body)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.want) || !strings.Contains(w.Body.String(), `"status":"400"`) {
				t.Fatalf("%d %s, want %d with %s", w.Code, w.Body, tc.status, tc.want)
			}
			if after, _ := c.User(ctx, "sub-1"); after.Active || strings.Join(after.Roles, ",") != "Member" {
				t.Fatalf("a refused PATCH changed the user: %+v", after)
			}
		})
	}
	// Removing active would leave it unassigned, read as active: refused, the member stays
	// deactivated (final read s18 R1-1).
	if w := do(http.MethodPatch, "/Users/sub-1", `{`+patchOp+`,"Operations":[{"op":"remove","path":"active"}]}`); w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "mutability") {
		t.Fatalf("PATCH remove active: %d %s, want 400 mutability", w.Code, w.Body)
	}
	if u, _ := c.User(ctx, "sub-1"); u.Active {
		t.Fatalf("active removed: %+v, want the deactivated member still inactive", u)
	}
	if w := do(http.MethodPatch, "/Users/sub-9", `{`+patchOp+`,"Operations":[{"op":"replace","path":"active","value":true}]}`); w.Code != http.StatusNotFound {
		t.Fatalf("PATCH of an unknown user: %d %s", w.Code, w.Body)
	}
}

// TestSCIMHandlerGroups: /Groups, a group being the users holding a role. The bridge's calls
// (find by displayName, create with a member, add a member, remove members[value eq "id"]) and
// Entra's remove by value give and take the role; a filter that selects nobody is noTarget
// (RFC 7644 3.5.2.2, 3.12), a remove by value of a non-member is not an error; a rename, an
// unknown path, another filter and a member who is no user here are refused, and change nothing.
func TestSCIMHandlerGroups(t *testing.T) {
	c, do := scimApp(t)
	ctx := context.Background()
	for _, sub := range []string{"sub-1", "sub-2"} {
		if w := do(http.MethodPost, "/Users", `{"externalId":"`+sub+`","userName":"`+sub+`","roles":[]}`); w.Code != http.StatusCreated {
			t.Fatalf("POST /Users: %d %s", w.Code, w.Body)
		}
	}
	roles := func(sub string) string {
		u, err := c.User(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(u.Roles, ",")
	}
	find := do(http.MethodGet, `/Groups?filter=displayName+eq+"Board"`, "")
	if find.Code != http.StatusOK || !strings.Contains(find.Body.String(), `"totalResults":0`) {
		t.Fatalf("find before: %d %s", find.Code, find.Body)
	}
	if w := do(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Board","members":[{"value":"sub-1"}]}`); w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"id":"Board"`) {
		t.Fatalf("POST /Groups: %d %s", w.Code, w.Body)
	}
	if find = do(http.MethodGet, `/Groups?filter=displayName+eq+"Board"`, ""); !strings.Contains(find.Body.String(), `"id":"Board"`) {
		t.Fatalf("find after: %s", find.Body)
	}
	// A POST of a group that exists is 409 uniqueness (RFC 7644 3.3), and adds nobody.
	if w := do(http.MethodPost, "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Board","members":[{"value":"sub-2"}]}`); w.Code != http.StatusConflict ||
		!strings.Contains(w.Body.String(), `"scimType":"uniqueness"`) || !strings.Contains(w.Body.String(), `"status":"409"`) {
		t.Fatalf("POST /Groups again: %d %s", w.Code, w.Body)
	}
	if r := roles("sub-2"); r != "" {
		t.Fatalf("a refused POST /Groups gave sub-2 the role: %q", r)
	}
	steps := []struct {
		name, body     string
		status         int
		want           string // in the body
		roles1, roles2 string // after
	}{
		{"add", `[{"op":"add","path":"members","value":[{"value":"sub-2"}]}]`, 200, `"sub-2"`, "Board", "Board"},
		{"remove by filter", `[{"op":"remove","path":"members[value eq \"sub-2\"]"}]`, 200, `"sub-1"`, "Board", ""},
		{"remove by filter, not a member", `[{"op":"remove","path":"members[value eq \"sub-2\"]"}]`, 400, `"noTarget"`, "Board", ""},
		{"remove by value, not a member", `[{"op":"Remove","path":"members","value":[{"value":"sub-2"}]}]`, 200, `"sub-1"`, "Board", ""},
		{"rename", `[{"op":"replace","path":"displayName","value":"Directors"}]`, 400, `"mutability"`, "Board", ""},
		{"unknown path", `[{"op":"replace","path":"owner","value":"x"}]`, 400, `"invalidPath"`, "Board", ""},
		{"other filter", `[{"op":"remove","path":"members[display eq \"x\"]"}]`, 400, `"invalidFilter"`, "Board", ""},
		{"no such user, all or none", `[{"op":"add","path":"members","value":[{"value":"sub-2"},{"value":"sub-9"}]}]`, 400, `"invalidValue"`, "Board", ""},
		{"last member leaves", `[{"op":"remove","path":"members","value":[{"value":"sub-1"}]}]`, 204, ``, "", ""},
		{"gone with its role", `[{"op":"add","path":"members","value":[{"value":"sub-2"}]}]`, 404, ``, "", ""},
	}
	for _, st := range steps {
		w := do(http.MethodPatch, "/Groups/Board", `{`+patchOp+`,"Operations":`+st.body+`}`)
		if w.Code != st.status || !strings.Contains(w.Body.String(), st.want) {
			t.Fatalf("%s: %d %s, want %d with %s", st.name, w.Code, w.Body, st.status, st.want)
		}
		if r1, r2 := roles("sub-1"), roles("sub-2"); r1 != st.roles1 || r2 != st.roles2 {
			t.Fatalf("%s: roles %q and %q, want %q and %q", st.name, r1, r2, st.roles1, st.roles2)
		}
	}
}

// TestSCIMHandlerPatchConcurrent: PATCHes of one user at the same time (an IdP that sends a
// user's changes in parallel; a push or a sign-in meanwhile) each apply to the user as the
// others left it: eight adds of eight roles leave the eight roles. A PATCH that read the user,
// applied its operations and wrote the result in separate steps lost the roles other PATCHes
// added between its read and its write.
func TestSCIMHandlerPatchConcurrent(t *testing.T) {
	c, do := scimApp(t)
	if w := do(http.MethodPost, "/Users", `{"externalId":"sub-1","userName":"alice","roles":[]}`); w.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s", w.Code, w.Body)
	}
	const n = 8
	var wg sync.WaitGroup
	codes := make(chan int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := do(http.MethodPatch, "/Users/sub-1", fmt.Sprintf(`{%s,"Operations":[{"op":"add","path":"roles","value":[{"value":"r%d"}]}]}`, patchOp, i))
			codes <- w.Code
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != http.StatusOK {
			t.Errorf("PATCH answered %d", code)
		}
	}
	u, err := c.User(context.Background(), "sub-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Roles) != n {
		t.Errorf("roles after %d concurrent adds: %q", n, u.Roles)
	}
}
