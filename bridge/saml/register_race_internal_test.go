package saml

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/sso"
)

// TestRegisterEntityIDOnceAcrossReplicas (closing note s15, S): Register's check that no SP has
// the entity id reads the registry's cached list, so two replicas (or the CLI and a replica)
// registering one entity id at once both passed it, and the store's upsert kept the last:
// the first was told it was registered and was gone. The store refuses the second now. B's
// registry has read the (empty) list before A registers; B's registration of the entity id
// under another id is refused, and A's SP stays as it was registered.
func TestRegisterEntityIDOnceAcrossReplicas(t *testing.T) {
	ctx := t.Context()
	st, regs := sqliteRegistries(t, 2)
	regA, regB := regs[0], regs[1]
	if _, err := regB.ByID(ctx, "lms"); !errors.Is(err, sso.ErrNotFound) { // B reads the list now
		t.Fatalf("B before the registrations: %v", err)
	}
	md := spMetadata(t, "https://lms.example.org")
	if _, err := regA.Register(ctx, config.SAMLServiceProvider{ID: "lms", Name: "Learning Portal"}, md, time.Now()); err != nil {
		t.Fatal(err)
	}
	_, err := regB.Register(ctx, config.SAMLServiceProvider{ID: "lms2", Name: "Learning Portal again"}, md, time.Now())
	if !errors.Is(err, sso.ErrConflict) || !strings.Contains(err.Error(), "is registered already") {
		t.Fatalf("B's registration of the entity id A registered: %v, want it refused as registered already", err)
	}
	sps, err := st.SAMLServiceProviders(ctx)
	if err != nil || len(sps) != 1 || sps[0].ID != "lms" {
		t.Fatalf("stored SPs after both registrations = %+v, %v; want A's lms alone", sps, err)
	}
}
