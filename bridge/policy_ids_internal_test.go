package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// storedSPs is noSPs with records stored.
type storedSPs struct {
	noSPs
	recs []*store.SAMLServiceProvider
}

func (s storedSPs) SAMLServiceProviders(context.Context) ([]*store.SAMLServiceProvider, error) {
	return s.recs, nil
}

// TestPolicyIDsCheckParsesNoSP (final read RV2-5): start-up's policy-id check needs the SPs'
// ids alone, so it takes them from the configuration's entries and the stored records' app id
// without parsing any SP (the server's registry parses each once). A stored record whose
// metadata is no SP's still has its id checked: its policy starts, a client with its id is
// named. Before, the check built and loaded a registry of its own, parsing every SP a second
// time, and stopped at this record's metadata.
func TestPolicyIDsCheckParsesNoSP(t *testing.T) {
	ctx := t.Context()
	reg, err := sso.NewRegistry(ctx, memstore.New(), []sso.ClientConfig{{ID: "portal", Public: true,
		RedirectURIs: []string{"https://portal.example/cb"}}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	samlCfg := config.SAMLConfig{ServiceProviders: []config.SAMLServiceProvider{{ID: "cfg", Name: "cfg",
		EntityID: "https://cfg.example.org/sp", ACSURLs: []string{"https://cfg.example.org/acs"}}}}
	st := storedSPs{recs: []*store.SAMLServiceProvider{
		{EntityID: "https://lms.example.org/sp", ID: "lms", Settings: []byte(`{"id":"lms"}`), Metadata: []byte("<not metadata/>")},
		{EntityID: "https://dup.example.org/sp", ID: "portal", Settings: []byte(`{"id":"portal"}`), Metadata: []byte("<not metadata/>")},
	}}
	err = checkPolicyIDs(ctx, reg, samlCfg, st, map[string]policy.ClientPolicy{"lms": {}, "cfg": {}})
	want := `SAML service provider "portal" (added with ssobridge saml register): "portal" is also an OpenID client's id`
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "metadata") ||
		strings.Contains(err.Error(), "policies[lms]:") || strings.Contains(err.Error(), "policies[cfg]:") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("check: %v, want only %q", err, want)
	}
}
