package sso

import (
	"encoding/json"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// TestApplyClaims: the hooks' claims land in the typed fields of the userinfo (name, e-mail...)
// or as its extra claims, sub never from the hooks, email_verified always (a bool, false
// included), whether the userinfo had extra claims of its own or not; the JSON is the same as
// when every extra claim is appended one by one (oidc.UserInfo.AppendClaims).
func TestApplyClaims(t *testing.T) {
	claims := func() map[string]any {
		return map[string]any{"sub": "other", "name": "Alice Anders", "given_name": "Alice", "family_name": "Anders",
			"preferred_username": "alice", "email": "alice@example.org", "picture": "https://p.example/a.png",
			"email_verified": "yes", "updated_at": int64(1796406880), "member_id": "1001",
			"https://rp.example/m": map[string]any{"roles": []string{"Board"}}}
	}
	reference := func(own map[string]any) []byte {
		ui := oidc.UserInfo{Subject: "alice-sub"}
		for k, v := range own {
			ui.AppendClaims(k, v)
		}
		ui.Name, ui.GivenName, ui.FamilyName, ui.PreferredUsername = "Alice Anders", "Alice", "Anders", "alice"
		ui.Email, ui.Picture = "alice@example.org", "https://p.example/a.png"
		ui.AppendClaims("email_verified", false)
		ui.AppendClaims("updated_at", int64(1796406880))
		ui.AppendClaims("member_id", "1001")
		ui.AppendClaims("https://rp.example/m", map[string]any{"roles": []string{"Board"}})
		b, err := json.Marshal(&ui)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, own := range []map[string]any{nil, {"acr_x": "kept"}} {
		ui := oidc.UserInfo{Subject: "alice-sub"}
		for k, v := range own {
			ui.AppendClaims(k, v)
		}
		applyClaims(&ui, claims())
		got, err := json.Marshal(&ui)
		if err != nil {
			t.Fatal(err)
		}
		if want := reference(own); string(got) != string(want) {
			t.Errorf("own claims %v:\n got %s\nwant %s", own, got, want)
		}
		if _, ok := ui.Claims["sub"]; ok {
			t.Error("sub from the hooks kept as an extra claim")
		}
	}
	ui := oidc.UserInfo{}
	applyClaims(&ui, map[string]any{"name": "A", "sub": "x"})
	if ui.Claims != nil || ui.Name != "A" {
		t.Errorf("typed claims only: %+v", ui)
	}
}
