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
	a.ok(http.MethodDelete, "/admin/clients/notes", nil)
	got, err := e.store.AuditEvents(e.ctx(), store.AuditFilter{Event: "admin.client_remove"})
	if err != nil || len(got) != 1 {
		t.Fatalf("audit: %v %v", got, err)
	}
	if !strings.Contains(got[0].Detail, "1 grants revoked") {
		t.Fatalf("the removal's audit row says %q; the client held one live grant, revoked by the removal", got[0].Detail)
	}
}
