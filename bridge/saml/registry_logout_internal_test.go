package saml

import (
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/sso"
)

// TestRegistryForLogout (brief s20 M2 item 3): a stored SP refused for sign-ins by a rule
// added since its registration (an e-mail NameID without email_verified) is still found for
// single logout, with its settings and its SOAP single logout service, while every sign-in
// lookup refuses it; a record whose metadata does not read is not found for logout either;
// an SP never registered is sso.ErrNotFound, a served one is itself.
func TestRegistryForLogout(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 1)
	reg := regs[0]
	const (
		mail   = "https://mail.example.org"
		broken = "https://broken.example.org"
		lms    = "https://lms.example.org/saml/metadata"
	)
	rec, err := Record(config.SAMLServiceProvider{ID: "mail", NameIDFormat: config.SAMLNameIDEmail, AllowInsecureSOAPSLO: true},
		spMetadataWithSOAP(t, mail, "http://127.0.0.1:1/soap"), mail, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if rec, err = Record(config.SAMLServiceProvider{ID: "broken"}, []byte("<EntityDescriptor"), broken, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatal(err)
	}

	if _, err := reg.ByEntityID(ctx, mail); !errors.Is(err, ErrUnusable) {
		t.Fatalf("sign-in lookup of the e-mail NameID SP without email_verified: %v; want ErrUnusable", err)
	}
	sp, err := reg.ForLogout(ctx, mail)
	if err != nil || sp.Settings.ID != "mail" || sp.EntityID != mail || soapSLO(sp) != "http://127.0.0.1:1/soap" || len(signingCerts(sp.Metadata)) != 1 {
		t.Fatalf("ForLogout of the refused SP: %+v, %v", sp, err)
	}
	if _, err := reg.ForLogout(ctx, broken); !errors.Is(err, ErrUnusable) {
		t.Fatalf("ForLogout of a record that does not read: %v; want ErrUnusable", err)
	}
	if sp, err := reg.ForLogout(ctx, lms); err != nil || sp.Settings.ID != "lms" {
		t.Fatalf("ForLogout of a served SP: %v", err)
	}
	if _, err := reg.ForLogout(ctx, "https://nobody.example.org"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("ForLogout of an unknown SP: %v", err)
	}
}
