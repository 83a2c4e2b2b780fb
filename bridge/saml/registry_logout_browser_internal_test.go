package saml

import (
	"encoding/xml"
	"errors"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestRegistryForLogoutBrowserSLO (brief s21 M3 item 1): a stored SP refused for sign-ins
// because its endpoints are plain http on another host (registered before the rule) is still
// found for single logout with its browser single logout service, http as published: the
// LogoutRequest the browser takes there carries no credential, and leaving the member signed in
// there is the greater risk. Its sign-ins stay refused.
func TestRegistryForLogoutBrowserSLO(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 1)
	reg := regs[0]
	const base = "http://old.example.org"
	var md crewjam.EntityDescriptor
	if err := xml.Unmarshal(spMetadata(t, base), &md); err != nil {
		t.Fatal(err)
	}
	md.SPSSODescriptors[0].SingleLogoutServices = []crewjam.Endpoint{{Binding: crewjam.HTTPRedirectBinding, Location: base + "/saml/slo"}}
	raw, err := xml.Marshal(&md)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := Record(config.SAMLServiceProvider{ID: "old"}, raw, md.EntityID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ByEntityID(ctx, md.EntityID); !errors.Is(err, ErrUnusable) {
		t.Fatalf("sign-in lookup of the http SP: %v; want ErrUnusable", err)
	}
	sp, err := reg.ForLogout(ctx, md.EntityID)
	if err != nil {
		t.Fatalf("ForLogout: %v", err)
	}
	if ep := browserSLO(sp); ep == nil || ep.Location != base+"/saml/slo" || ep.Binding != crewjam.HTTPRedirectBinding {
		t.Fatalf("its browser single logout service: %+v", ep)
	}
}
