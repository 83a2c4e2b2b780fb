package bridge_test

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSAMLMessagesOnceAcrossReplicas (brief s21 M3 item 4; SAML profiles 4.1.4.5, 4.4.4.1): an
// SP's AuthnRequest and LogoutRequest are each accepted once by the whole deployment, not once
// per replica: the message id is used up in the shared store. The same AuthnRequest sent to
// two replicas one after the other is refused by the second ("already used", 409), and sent to
// both at once is accepted by exactly one; a signed LogoutRequest accepted by one replica is
// refused by the other.
func TestSAMLMessagesOnceAcrossReplicas(t *testing.T) {
	a, b, st, _ := twoReplicas(t)
	ctx := t.Context()
	const issuer = "http://127.0.0.1:9" // twoReplicas's
	key := newSAMLSP(t)                 // its key and certificate; nothing is served there
	serve := func(s *bridge.Server, u string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, u, nil))
		return rec
	}
	rec := serve(a, issuer+saml.PathMetadata)
	var idpMD crewjam.EntityDescriptor
	if err := xml.Unmarshal(rec.Body.Bytes(), &idpMD); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("IdP metadata: %d %v", rec.Code, err)
	}
	base, _ := url.Parse("http://127.0.0.1:1") // an SP on this machine (loopback http)
	sp := &crewjam.ServiceProvider{Key: key.key, Certificate: key.cert, MetadataURL: *base.JoinPath("saml/metadata"),
		AcsURL: *base.JoinPath("saml/acs"), SloURL: *base.JoinPath("saml/slo"), IDPMetadata: &idpMD,
		SignatureMethod: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", LogoutBindings: []string{crewjam.HTTPRedirectBinding}}
	raw, err := xml.Marshal(sp.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	rec2, err := saml.Record(config.SAMLServiceProvider{ID: "lms", Name: "LMS"}, raw, sp.MetadataURL.String(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec2); err != nil {
		t.Fatal(err)
	}
	authn := func() string {
		t.Helper()
		req, err := sp.MakeAuthenticationRequest(issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
		if err != nil {
			t.Fatal(err)
		}
		u, err := req.Redirect("r", sp)
		if err != nil {
			t.Fatal(err)
		}
		return u.String()
	}
	accepted := func(rec *httptest.ResponseRecorder) bool {
		return rec.Code == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), saml.PathContinue+"?id=")
	}
	refusedAsUsed := func(rec *httptest.ResponseRecorder) bool {
		return rec.Code == http.StatusConflict && strings.Contains(rec.Body.String(), "already used")
	}

	// One after the other, each way round.
	for _, order := range [][2]*bridge.Server{{a, b}, {b, a}} {
		u := authn()
		if first := serve(order[0], u); !accepted(first) {
			t.Fatalf("the AuthnRequest at the first replica: %d %s %.300s", first.Code, first.Header().Get("Location"), first.Body.String())
		}
		if second := serve(order[1], u); !refusedAsUsed(second) {
			t.Fatalf("the same AuthnRequest at the other replica: %d %.300s; want 409 already used", second.Code, second.Body.String())
		}
	}
	// At once: one of them.
	for range 5 {
		u := authn()
		var recs [2]*httptest.ResponseRecorder
		var wg sync.WaitGroup
		for i, s := range []*bridge.Server{a, b} {
			wg.Go(func() { recs[i] = serve(s, u) })
		}
		wg.Wait()
		if n := btoi(accepted(recs[0])) + btoi(accepted(recs[1])); n != 1 || !(refusedAsUsed(recs[0]) || refusedAsUsed(recs[1])) {
			t.Fatalf("one AuthnRequest at both replicas at once: %d and %d, accepted %d times; want once", recs[0].Code, recs[1].Code, n)
		}
	}

	// A signed LogoutRequest (no session in this browser: answered as signed off).
	lr, err := sp.MakeRedirectLogoutRequest("someone", "r")
	if err != nil {
		t.Fatal(err)
	}
	if first := serve(a, lr.String()); first.Code == http.StatusBadRequest {
		t.Fatalf("the LogoutRequest at the first replica: %d %.300s", first.Code, first.Body.String())
	}
	if second := serve(b, lr.String()); second.Code != http.StatusBadRequest || !strings.Contains(second.Body.String(), "cannot be used") {
		t.Fatalf("the same LogoutRequest at the other replica: %d %.300s; want it refused", second.Code, second.Body.String())
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
