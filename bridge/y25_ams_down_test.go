package bridge_test

import (
	"net/http"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Review s25 Y-1 (Medium): token introspection (RFC 7662) while the AMS cannot be reached
// answers 200 {"active":true,...} WITHOUT the member's claims: SetIntrospectionFromToken sets
// resp.Active and the token's fields before it reads the claims (hooks.Claims -> the
// directory), and op's Introspect marshals the half-filled response as it is when the storage
// returns an error (zitadel op token_intospection.go: `if err != nil { MarshalJSON(w,
// response) }`). So a resource server that authorizes on the introspected claims (roles, member
// type, the policy's access-token claims) gets an authoritative-looking answer that lacks them,
// and decides on it (refuses a member for a server fault, or lets through what a claim would
// have restricted). opAPI's log line says "answered inactive", which is not what was sent. A
// server fault must be a 5xx, never an answer about the token. Fails on main: 200 active:true
// without the profile claims.
func TestY25IntrospectionWhileAMSDownIsAFault(t *testing.T) {
	e := newEnv(t)
	cfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, oidc.ScopeOpenID, "profile")
	tok, err := cfg.Exchange(e.ctx(), e.signIn(e.browser(), cfg.AuthCodeURL("s", oidc.Nonce("n")), "alice", "alice-password"))
	if err != nil {
		t.Fatal(err)
	}
	resp, in := introspect(t, e, tok.AccessToken, "web", webSecret)
	if resp.StatusCode != http.StatusOK || in["active"] != true || in["name"] == nil {
		t.Fatalf("introspection with the AMS up: %d %v (want active with the profile claims)", resp.StatusCode, in)
	}
	e.dir.Down = true
	resp, in = introspect(t, e, tok.AccessToken, "web", webSecret)
	e.dir.Down = false
	if resp.StatusCode < 500 {
		t.Errorf("introspection while the AMS is down: %d %v, want a 5xx (server_error / temporarily_unavailable), never a 200 (active true without claims, or active false)",
			resp.StatusCode, in)
	}
	if resp, in := introspect(t, e, tok.AccessToken, "web", webSecret); in["active"] != true {
		t.Errorf("introspection once the AMS is back: %d %v", resp.StatusCode, in)
	}
}
