package bridge_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestAdminAPIClientSigningAlgNeedsAKey: the running server's admin API refuses a dynamic
// client whose id_token_signing_alg has no signing key (the harness keeps RS256 and ES256),
// naming the field, at creation and at an edit; before, it was stored and every token request
// then got server_error (review s12 W4).
func TestAdminAPIClientSigningAlgNeedsAKey(t *testing.T) {
	_, a := adminEnv(t)
	reg := map[string]any{"id": "ed", "name": "Ed", "redirect_uris": []string{"https://ed.example/cb"}, "id_token_signing_alg": "EdDSA"}
	status, _, body := a.do(http.MethodPost, "/admin/clients", adminToken, reg)
	if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error_description"]), "clients[ed].id_token_signing_alg") {
		t.Fatalf("create with EdDSA: %d %v", status, body)
	}
	reg["id_token_signing_alg"] = "ES256"
	a.ok(http.MethodPost, "/admin/clients", reg)
	reg["id_token_signing_alg"] = "EdDSA"
	status, _, body = a.do(http.MethodPut, "/admin/clients/ed", adminToken, reg)
	if status != http.StatusBadRequest || !strings.Contains(fmt.Sprint(body["error_description"]), "clients[ed].id_token_signing_alg") {
		t.Fatalf("edit to EdDSA: %d %v", status, body)
	}
}

// TestStoredClientWithoutKeyWarned: a dynamic client stored with an id_token_signing_alg the
// bridge keeps no key for (keys.algorithms narrowed since, or registered before the
// administration checked) is named by a start-up warning, its field and algorithm; the
// others are not.
func TestStoredClientWithoutKeyWarned(t *testing.T) {
	logged := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logged, nil))
	newEnvDeps(t, false, nil, envDeps{logger: log, store: func(t testing.TB) store.Store {
		st, err := sqlite.Open(t.Context(), sqlite.Memory)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		for id, alg := range map[string]string{"ed": "EdDSA", "ec": "ES256", "old": ""} {
			c := &sso.ClientConfig{ID: id, Name: id, SecretHash: sso.HashSecret("s"), IDTokenSigningAlg: alg,
				RedirectURIs: []string{"https://" + id + ".example/cb"}}
			if id == "old" { // stored before initiate_login_uri was checked (c24431f)
				c.InitiateLoginURI = "http://portal.example.org/login"
			}
			sc, err := sso.EncodeClient(c, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateClient(t.Context(), sc); err != nil {
				t.Fatal(err)
			}
		}
		return st
	}})
	out := logged.String()
	if !strings.Contains(out, `"field":"clients[ed].id_token_signing_alg"`) || !strings.Contains(out, `"alg":"EdDSA"`) {
		t.Fatalf("no warning for the EdDSA client (the harness keeps RS256 and ES256):\n%s", out)
	}
	if strings.Contains(out, "clients[ec]") || strings.Contains(out, "clients[other]") {
		t.Fatalf("a client with a key was warned about:\n%s", out)
	}
	// End-of-session review s13 RV2-2: a stored client that today's registration checks refuse
	// is named too, with the field; the valid ones are not.
	if !strings.Contains(out, `"client":"old"`) || !strings.Contains(out, "clients[old].initiate_login_uri") {
		t.Fatalf("no warning for the stored client with an http initiate_login_uri:\n%s", out)
	}
	for _, id := range []string{"ed", "ec"} {
		if strings.Contains(out, `"client":"`+id+`"`) {
			t.Fatalf("a valid stored client %s was warned about as invalid:\n%s", id, out)
		}
	}
}
