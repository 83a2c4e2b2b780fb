package bridge_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// Review s25 W-2 (Low): 68e84e8 answers a passive AuthnRequest (SAML core 3.4.1) with the
// status Responder only when the member read fails. With the profile cache in front of the
// directory (as production runs every SQL directory) the member is read from the cache while
// the AMS is down, and an SP whose NameID is the e-mail address then has the bridge ask the
// AMS (MembersByEmail, uncached) whether the address is the member's alone: that failure
// still renders the HTML "membership system unavailable" page to a request that may show none.
func TestW25SAMLPassiveEmailNameIDWhileAMSDownAnswersTheSP(t *testing.T) {
	lms, events := newSAMLSP(t), newSAMLSP(t)
	e := newEnvDeps(t, false, nil, envDeps{profileCache: true}, withSAMLLMS(lms), func(c *bridge.Config) {
		c.Policy.EmailVerified = true
	})
	lms.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	events.start(t, e, crewjam.HTTPPostBinding, "events_token")
	raw, err := xml.Marshal(events.mw.ServiceProvider.Metadata())
	if err != nil {
		t.Fatal(err)
	}
	reg, err := saml.NewRegistry(config.SAMLConfig{}, e.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.EmailVerified = true
	if _, err := reg.Register(t.Context(), config.SAMLServiceProvider{ID: "events", Name: "Events Hub", NameIDFormat: "email"}, raw, time.Now()); err != nil {
		t.Fatalf("register events SP: %v", err)
	}

	c := samlPasswordSignIn(t, e, events)
	// A second sign-in from the session reads the member through the cache (and warms it).
	passive := true
	if body := samlAuthn(t, e, events, c, &passive, nil); !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("passive request with the AMS up: %.300s", body)
	}

	e.dir.Down = true
	body := samlAuthn(t, e, events, c, &passive, nil)
	e.dir.Down = false
	if !strings.Contains(body, `name="SAMLResponse"`) {
		t.Fatalf("passive request to an e-mail NameID SP while the AMS is down: no SAML response to the SP: %.300s", body)
	}
	doc, err := base64.StdEncoding.DecodeString(formFields(body).Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(crewjam.StatusResponder)) || bytes.Contains(doc, []byte("Assertion")) {
		t.Fatalf("passive request while the AMS is down: %.800s, want the status Responder and no assertion", doc)
	}
}
