package bridge_test

import (
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestRemovedClientsCodeNotRedeemedByNewApp (review s18 X18-1): DeleteClient takes the removed
// app's consents, grants, outbox events, session places and provisioned users along, so an app
// registered later under the same id starts with nothing of the old one's; its access tokens
// are refused by date (PredatesRegistration). A code issued to the old app and not yet
// redeemed is neither deleted (auth_requests keeps it) nor dated: the new registration
// redeems it and gets tokens for the member who signed in to the removed app.
func TestRemovedClientsCodeNotRedeemedByNewApp(t *testing.T) {
	e, a := adminEnv(t)
	register := func() string {
		created := a.ok(http.MethodPost, "/admin/clients", map[string]any{"id": "notes", "name": "Notes",
			"redirect_uris": []string{e.rp + "/notes"}, "trusted": true})
		return created["client_secret"].(string)
	}
	waitSecret := func(secret string) {
		t.Helper()
		for range 40 { // the registry reloads dynamic clients within 2 s
			if c, err := e.bridge.Registry().ClientConfig(e.ctx(), "notes"); err == nil && !c.RegisteredAt.IsZero() {
				cfg, _ := e.oauth("notes", secret, e.rp+"/notes", oauth2.AuthStyleInHeader)
				tok, err := cfg.Exchange(e.ctx(), "probe")
				if err == nil || oauthErrCode(err) != "invalid_client" {
					_ = tok
					return // the secret is this registration's: the probe code is refused, not the client
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal("client notes not loaded")
	}
	oldSecret := register()
	waitSecret(oldSecret)
	old, _ := e.oauth("notes", oldSecret, e.rp+"/notes", oauth2.AuthStyleInHeader)
	code := e.signIn(e.browser(), old.AuthCodeURL("s"), "alice", "alice-password")
	if code == "" {
		t.Fatal("no code")
	}
	a.ok(http.MethodDelete, "/admin/clients/notes", nil)
	newSecret := register()
	waitSecret(newSecret)
	fresh, _ := e.oauth("notes", newSecret, e.rp+"/notes", oauth2.AuthStyleInHeader)
	if tok, err := fresh.Exchange(e.ctx(), code); err == nil {
		t.Fatalf("the app registered again under the removed app's id redeemed its code: access token %.12s...", tok.AccessToken)
	} else if c := oauthErrCode(err); c != "invalid_grant" {
		t.Fatalf("old code at the new registration: %v, want invalid_grant", err)
	}
}

func oauthErrCode(err error) string {
	if re, ok := err.(*oauth2.RetrieveError); ok {
		return re.ErrorCode
	}
	return ""
}
