package bridge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestAdminDeleteClientAuditsGrantsRevoked (review s16 X): DELETE /admin/clients/{id} (`clients
// remove`, the console) revokes every grant of the client in the store's DeleteClient, then
// counts the client's live refresh-token families for the audit row, which the deletion has
// just revoked: the row says "0 grants revoked" however many the app held. The record is also
// written only after that listing, so a store error there leaves a removed client unaudited.
func TestAdminDeleteClientAuditsGrantsRevoked(t *testing.T) {
	e, a := adminEnv(t)
	created := a.ok(http.MethodPost, "/admin/clients", map[string]any{"id": "notes", "name": "Notes",
		"redirect_uris": []string{e.rp + "/notes"}, "trusted": true})
	secret, _ := created["client_secret"].(string)
	for i := 0; i < 40; i++ { // the registry reloads dynamic clients within 2 s
		if _, err := e.bridge.Registry().ClientConfig(e.ctx(), "notes"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	notes, _ := e.oauth("notes", secret, e.rp+"/notes", oauth2.AuthStyleInHeader)
	if _, err := notes.Exchange(e.ctx(), e.signIn(e.browser(), notes.AuthCodeURL("s"), "alice", "alice-password")); err != nil {
		t.Fatal(err)
	}
	if l := a.ok(http.MethodGet, "/admin/tokens?client=notes", nil)["tokens"].([]any); len(l) != 1 {
		t.Fatalf("notes's grants: %v", l)
	}
	// The answer and the audit row say what the removal deleted, as the store counted it in
	// the deletion (review s17 R2-5): alice's grant, and her session's participation (the
	// sign-in); no consent (trusted), no provisioning configured.
	removed := a.ok(http.MethodDelete, "/admin/clients/notes", nil)
	for k, want := range map[string]float64{"grants_revoked": 1, "session_participations_deleted": 1, "sign_in_requests_deleted": 1, "device_authorizations_deleted": 0, "consents_deleted": 0,
		"undelivered_events_deleted": 0, "provisioned_users_deleted": 0} {
		if removed[k] != want {
			t.Errorf("the removal's answer %v: %s, want %v", removed, k, want)
		}
	}
	got, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.client_remove"})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit: %v %v", got, err)
	}
	if want := "1 grants revoked; deleted: 0 consents, 0 undelivered events, 1 session participations, 0 provisioned users, 1 sign-in requests, 0 device authorizations"; !strings.HasSuffix(got[0].Detail, ": "+want) {
		t.Fatalf("the removal's audit row says %q, want %q", got[0].Detail, want)
	}
}
