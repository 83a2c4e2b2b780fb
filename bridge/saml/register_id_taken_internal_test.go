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
	_, regs := sqliteRegistries(t, 1)
	reg := regs[0]
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

// sqliteRegistries is a SQLite store in a temporary file, closed with the test, and n
// registries without configured SPs on it (replicas, or the CLI and a replica).
func sqliteRegistries(t *testing.T, n int) (*sqlite.Store, []*Registry) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	regs := make([]*Registry, n)
	for i := range regs {
		if regs[i], err = NewRegistry(config.SAMLConfig{}, st, nil); err != nil {
			t.Fatal(err)
		}
	}
	return st, regs
}
