package bridge_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
)

// TestRemovedClientsLogoutNeverReachesNewApp (session 17): a back-channel logout queued for an
// app and not yet delivered dies with the app when it is removed through the admin API; an app
// registered afterwards under the same client id (another app, with its own logout URI) is never
// sent it. Before, the event stayed pending under the id and went to the new app's URI.
func TestRemovedClientsLogoutNeverReachesNewApp(t *testing.T) {
	e, a := adminEnv(t)
	receiver := func() (*httptest.Server, chan string) {
		got := make(chan string, 4)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/bcl" {
				got <- r.URL.Path
			}
		}))
		t.Cleanup(srv.Close)
		return srv, got
	}
	oldApp, _ := receiver()
	newApp, newGot := receiver()
	register := func(bcl string) string {
		created := a.ok(http.MethodPost, "/admin/clients", map[string]any{"id": "notes", "name": "Notes",
			"redirect_uris": []string{e.rp + "/notes"}, "trusted": true, "backchannel_logout_uri": bcl, "allow_internal_targets": true})
		return created["client_secret"].(string)
	}
	waitFor := func(bcl string) {
		t.Helper()
		for range 40 { // the registry reloads dynamic clients within 2 s
			if c, err := e.bridge.Registry().ClientConfig(e.ctx(), "notes"); err == nil && c.BackchannelLogoutURI == bcl {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("client notes with back-channel logout URI %s not loaded", bcl)
	}
	secret := register(oldApp.URL + "/bcl")
	waitFor(oldApp.URL + "/bcl")
	notes, _ := e.oauth("notes", secret, e.rp+"/notes", oauth2.AuthStyleInHeader)
	if _, err := notes.Exchange(e.ctx(), e.signIn(e.browser(), notes.AuthCodeURL("s"), "alice", "alice-password")); err != nil {
		t.Fatal(err)
	}
	// alice is disabled in the AMS: her session ends and a logout is queued for notes.
	e.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	if _, err := e.bridge.Shadow().Poll(e.ctx()); err != nil {
		t.Fatal(err)
	}
	if l, err := e.store.OutboxEvents(e.ctx(), store.OutboxFilter{State: store.OutboxPending, ClientID: "notes"}); err != nil || len(l) != 1 {
		t.Fatalf("pending events of notes: %d, %v; want the logout", len(l), err)
	}
	a.ok(http.MethodDelete, "/admin/clients/notes", nil)
	register(newApp.URL + "/bcl")
	waitFor(newApp.URL + "/bcl")
	if n, err := e.bridge.Shadow().DeliverDue(e.ctx()); err != nil || n != 0 {
		t.Fatalf("DeliverDue = %d, %v; want nothing: the logout was the removed app's", n, err)
	}
	select {
	case <-newGot:
		t.Fatal("the removed app's logout was sent to the app registered later under its id")
	default:
	}
	if l, err := e.store.OutboxEvents(e.ctx(), store.OutboxFilter{ClientID: "notes"}); err != nil || len(l) != 0 {
		t.Fatalf("events of notes after its removal: %d, %v", len(l), err)
	}
}
