package saml

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// TestRegistryDescribe (brief s25 S6 1): Describe finds a registered SP by id and by entity id
// with its metadata's certificates (and their expiry, read from the certificate), and one whose
// stored records do not read (settings, metadata) is described all the same with why, not
// refused as an error (the admin API would answer 500); an unknown one is sso.ErrNotFound.
func TestRegistryDescribe(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 1)
	reg := regs[0]
	const lms = "https://lms.example.org/saml/metadata"
	if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "lms", Name: "Learning Portal"}, spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, rec := range []*store.SAMLServiceProvider{
		{EntityID: "https://nosettings.example.org", ID: "nosettings", Settings: []byte("{"), Metadata: spMetadata(t, "https://nosettings.example.org")},
		{EntityID: "https://nomd.example.org", ID: "nomd", Settings: []byte(`{"id":"nomd"}`), Metadata: []byte("<EntityDescriptor")},
	} {
		rec.CreatedAt = time.Now()
		if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	for _, which := range []string{"lms", lms} {
		d, err := reg.Describe(ctx, which)
		if err != nil || d.ID != "lms" || d.EntityID != lms || d.Unusable != nil || d.FromConfig || d.Summary == nil || d.Settings.NameIDFormat != "persistent" {
			t.Fatalf("Describe(%s): %+v, %v", which, d, err)
		}
		if len(d.Certificates) == 0 || d.Certificates[0].NotAfter.IsZero() || len(d.Certificates[0].SHA256) != 64 || d.Certificates[0].Err != nil {
			t.Fatalf("Describe(%s) certificates %+v", which, d.Certificates)
		}
	}
	for id, why := range map[string]string{"nosettings": "stored settings do not read", "nomd": "metadata"} {
		d, err := reg.Describe(ctx, id)
		if err != nil || d.ID != id || d.Unusable == nil || !strings.Contains(d.Unusable.Error(), why) {
			t.Fatalf("Describe(%s): %+v, %v; want it described as unusable (%s)", id, d, err, why)
		}
	}
	if _, err := reg.Describe(ctx, "nope"); !errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("Describe(nope): %v, want ErrNotFound", err)
	}
}
