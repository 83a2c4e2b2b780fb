package scim_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/wire"
)

// activeKeptOnReplace is strictSCIM where a PUT, or a PATCH replacing the whole resource, keeps
// the user's "active" as it was (an app that takes it only through its own path, or holds it
// readOnly in a full replace: RFC 7644 3.5.1 "readOnly ... values provided SHALL be ignored")
// and answers with the resource as it now is, "active" included (RFC 7644 3.5.1: a successful
// PUT "returns ... the entire resource").
type activeKeptOnReplace struct{ *strictSCIM }

func (a activeKeptOnReplace) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/scim/v2/Users/")
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	a.mu.Lock()
	u := a.users[id]
	var was bool
	if u != nil {
		was = u.Active
	}
	a.mu.Unlock()
	replace := u != nil && (r.Method == http.MethodPut || (r.Method == http.MethodPatch && !strings.Contains(string(body), `"path":"active"`)))
	rec := httptest.NewRecorder()
	a.strictSCIM.ServeHTTP(rec, r)
	if replace && rec.Code == http.StatusOK {
		a.mu.Lock()
		a.users[id].Active = was
		a.mu.Unlock()
	}
	a.mu.Lock()
	if u := a.users[id]; u != nil && rec.Code == http.StatusOK {
		rec.Body.Reset()
		_, _ = fmt.Fprintf(rec.Body, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":%q,"userName":%q,"active":%t}`, id, u.UserName, u.Active)
	}
	a.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// TestSCIMDeactivationAnsweredStillActive (review s16 X; "fail closed"; RFC 7644 3.5.1): a
// deactivation's PUT (or whole-resource PATCH) that the app answers 200 with the user still
// "active": true did not deactivate them. The deliverer took any 2xx as done, so the member,
// disabled in the AMS, stayed active at the app with the event marked delivered. It must go on
// to "active" replaced alone (the fallback RFC 7644 3.5.2.3 gives, which this app honours), and
// only a deactivation the app confirms (or does not contradict) is delivered.
func TestSCIMDeactivationAnsweredStillActive(t *testing.T) {
	for _, update := range []string{"put", "patch"} {
		t.Run(update, func(t *testing.T) {
			f := &strictSCIM{users: map[string]*scimUser{}}
			deliver, events := strictTarget(t, activeKeptOnReplace{f}, update)
			alice := wire.User{Subject: "sub-alice", Active: true, Login: "alice", Email: "alice@example.org"}
			deliver(wire.TypeCreated, alice)
			alice.Active = false
			deliver(wire.TypeDeactivated, alice)
			f.mu.Lock()
			defer f.mu.Unlock()
			for id, u := range f.users {
				if u.Active {
					for _, e := range events() {
						t.Logf("%s %s %s %q", e.ID, e.Type, e.State, e.LastError)
					}
					t.Fatalf("user %s is still active at the app after the deactivation was delivered", id)
				}
			}
		})
	}
}
