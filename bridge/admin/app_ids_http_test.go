package admin_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestAdminAPIOneIDOneApp (closing note s15, S): POST /admin/clients with the id of a SAML SP,
// stored or in the configuration file, is refused with 400 naming the SP (one id names one
// app: policies[<id>], the audit's client name), and nothing is stored; once the stored SP is
// removed the client is created, and then the store refuses an SP with that id in turn.
func TestAdminAPIOneIDOneApp(t *testing.T) {
	ctx := t.Context()
	f := newFixture(t)
	st, err := sqlite.Open(ctx, sqlite.Memory)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.svc.Store = st
	f.svc.ConfigSAMLIDs = map[string]string{"cfgsp": "saml.service_providers[0].id"}
	sp := &store.SAMLServiceProvider{EntityID: "https://lms.example/sp", ID: "lms", Settings: []byte(`{"id":"lms"}`), Metadata: []byte("<md/>")}
	if err := st.CreateSAMLServiceProvider(ctx, sp); err != nil {
		t.Fatal(err)
	}
	post := func(id string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/admin/clients",
			strings.NewReader(`{"id":"`+id+`","public":true,"redirect_uris":["https://`+id+`.example/cb"]}`))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		f.svc.Handler(token).ServeHTTP(rec, req)
		return rec
	}
	for id, other := range map[string]string{"lms": "SAML service provider https://lms.example/sp", "cfgsp": "saml.service_providers[0].id"} {
		rec := post(id)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `client id \"`+id+`\" is the id of `+other+` already`) {
			t.Errorf("POST /admin/clients %s: %d %s; want 400 naming %s", id, rec.Code, rec.Body, other)
		}
		if _, err := st.Client(ctx, id); err == nil {
			t.Errorf("client %s stored after the refusal", id)
		}
	}

	if err := st.DeleteSAMLServiceProvider(ctx, sp.EntityID); err != nil {
		t.Fatal(err)
	}
	if rec := post("lms"); rec.Code != http.StatusCreated {
		t.Fatalf("POST /admin/clients lms after the SP is removed: %d %s", rec.Code, rec.Body)
	}
	if err := st.CreateSAMLServiceProvider(ctx, sp); !errors.Is(err, store.ErrAppIDTaken) {
		t.Fatalf("the SP registered again with the client's id: %v, want ErrAppIDTaken", err)
	}
}
