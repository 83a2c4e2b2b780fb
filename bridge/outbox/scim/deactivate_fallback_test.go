package scim_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/wire"
)

// activePatchAnswer is strictSCIM with the PATCH that replaces "active" alone (the deactivation
// fallback) answered with a fixed status instead.
type activePatchAnswer struct {
	*strictSCIM
	status int
}

func (a activePatchAnswer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPatch {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), `"path":"active"`) {
			w.Header().Set("Content-Type", wire.SCIMContentType)
			w.WriteHeader(a.status)
			_, _ = fmt.Fprintf(w, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"%d","detail":"patch answer"}`, a.status)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
	}
	a.strictSCIM.ServeHTTP(w, r)
}

// TestSCIMDeactivationFallbackFailure: when the app refuses a deactivated member's profile and
// the PATCH of "active" alone fails too, the PATCH's failure decides the event's fate, not the
// profile's refusal. A profile refused with 400 (permanent) and a PATCH answered 503 (the app
// busy) is retried, not dead at once with the member still active at the app; a profile refused
// with 409 (retried) and a PATCH refused with 400 is dead, and the error says the PATCH's status.
func TestSCIMDeactivationFallbackFailure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		change    func(u *wire.User)
		patch     int
		wantState string
		wantErr   []string
	}{
		{"profile 400, patch 503", func(u *wire.User) { u.Email = "alice at example.org" }, http.StatusServiceUnavailable,
			store.OutboxPending, []string{"PATCH /Users active: HTTP 503", "HTTP 400"}},
		{"profile 409, patch 400", func(u *wire.User) { u.Login = "bob" }, http.StatusBadRequest,
			store.OutboxDead, []string{"PATCH /Users active: HTTP 400", "HTTP 409"}},
		{"profile 409, patch 503", func(u *wire.User) { u.Login = "bob" }, http.StatusServiceUnavailable,
			store.OutboxPending, []string{"PATCH /Users active: HTTP 503", "HTTP 409"}},
		{"profile 400, patch 400", func(u *wire.User) { u.Email = "alice at example.org" }, http.StatusBadRequest,
			store.OutboxDead, []string{"PATCH /Users active: HTTP 400", "HTTP 400"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &strictSCIM{users: map[string]*scimUser{}}
			deliver, events := strictTarget(t, activePatchAnswer{f, tc.patch}, "put")
			alice := wire.User{Subject: "sub-alice", Active: true, Login: "alice", Email: "alice@example.org"}
			deliver(wire.TypeCreated, alice)
			deliver(wire.TypeCreated, wire.User{Subject: "sub-bob", Active: true, Login: "bob", Email: "bob@example.org"})
			gone := alice
			tc.change(&gone)
			gone.Active = false
			id := deliver(wire.TypeDeactivated, gone)
			var e *store.OutboxEvent
			for _, x := range events() {
				if x.ID == id {
					e = x
				}
			}
			if e == nil {
				t.Fatalf("event %s not in the outbox", id)
			}
			if e.State != tc.wantState {
				t.Errorf("deactivation: state %s after %d attempts (err %q), want %s", e.State, e.Attempts, e.LastError, tc.wantState)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(e.LastError, w) {
					t.Errorf("deactivation: last error %q does not say %q", e.LastError, w)
				}
			}
		})
	}
}
