package saml

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

// TestRegisterAnotherSPsID (final read R3-4): an SP registered with the id of an SP registered
// already is refused with the message every other taken id gets (store.AppIDRefusal: whose id
// it is, one id names one app), not a message of its own. Before: `id "lms" is taken by
// https://lms.example.org/...`.
func TestRegisterAnotherSPsID(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := NewRegistry(config.SAMLConfig{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://lms.example.org"), time.Now()); err != nil {
		t.Fatal(err)
	}
	first, err := reg.ByID(ctx, "lms")
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Register(ctx, config.SAMLServiceProvider{ID: "lms"}, spMetadata(t, "https://other.example.org"), time.Now())
	want := `id "lms" is the id of SAML service provider ` + first.EntityID + ` already: one id names one app`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second SP with the id lms: %v, want %q", err, want)
	}
}
