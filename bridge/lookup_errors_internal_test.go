package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// noSPs is a SAML SP store with none registered.
type noSPs struct{}

func (noSPs) CreateSAMLServiceProvider(context.Context, *store.SAMLServiceProvider) error { return nil }
func (noSPs) SAMLServiceProviders(context.Context) ([]*store.SAMLServiceProvider, error) {
	return nil, nil
}
func (noSPs) DeleteSAMLServiceProviderCounted(context.Context, string) (store.SAMLRemoval, error) {
	return store.SAMLRemoval{}, sso.ErrNotFound
}
func (noSPs) ReplaceSAMLServiceProvider(context.Context, *store.SAMLServiceProvider, []byte, []byte) error {
	return sso.ErrNotFound
}

// TestStartupChecksStoreFailure (closing note s15, L): when the store cannot say whether a
// provisioning target's, a policy's or a configured SAML SP's id is a client's, start-up stops
// with the store's error, not with "no client has the id" (which sends the operator to fix a
// correct id) and not silently (an SP whose id is also a client's passed); with the store back,
// an unknown id is named as before.
func TestStartupChecksStoreFailure(t *testing.T) {
	ctx := t.Context()
	st := &clientsDown{Store: memstore.New()}
	reg, err := sso.NewRegistry(ctx, st, nil, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	samlCfg := config.SAMLConfig{ServiceProviders: []config.SAMLServiceProvider{{ID: "lms", Name: "lms",
		EntityID: "https://lms.example.org/sp", ACSURLs: []string{"https://lms.example.org/acs"}}}}
	policies := map[string]policy.ClientPolicy{"portal": {}}
	checks := []struct {
		name    string
		check   func() error
		unknown string // the error naming the unknown id, with the store up
		down    []string
	}{
		{"provisioning", func() error {
			return checkProvisioningClients(ctx, reg, map[string]provisioning.Target{"portal": {}})
		}, `provisioning.portal: no client has the id "portal"`, []string{`provisioning.portal: looking up the client "portal" in the store`}},
		{"policy ids", func() error {
			return checkPolicyIDs(ctx, reg, samlCfg, noSPs{}, policies)
		}, `policies[portal]: no client and no SAML service provider has the id "portal"`, []string{
			`saml.service_providers[0].id: looking up a client "lms" in the store`,
			`policies[portal]: looking up the client "portal" in the store`,
		}},
	}
	for _, c := range checks {
		st.down.Store(true)
		err := c.check()
		if err == nil || strings.Contains(err.Error(), "no client") || !strings.Contains(err.Error(), "database is locked") {
			t.Errorf("%s with the store down: %v, want the store's error", c.name, err)
		}
		for _, want := range c.down {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s with the store down: %v, want %q", c.name, err, want)
			}
		}
		st.down.Store(false)
		if err := c.check(); err == nil || !strings.HasPrefix(err.Error(), c.unknown) {
			t.Errorf("%s with the store up: %v, want %q", c.name, err, c.unknown)
		}
	}
}
