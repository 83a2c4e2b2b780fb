package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestPolicyAndSAMLIDsNameOneApp (review s13, noticed): a policies[<id>] entry that names no
// OIDC client and no SAML service provider stops start-up naming it (before, it started and
// the policy applied to nothing); so does a SAML SP whose id is also an OIDC client's (one
// policy, one access rule and one audit name would cover two apps), whether either comes from
// the configuration file or the store. Policies of a configured or stored client or SP start.
func TestPolicyAndSAMLIDsNameOneApp(t *testing.T) {
	sp := func(id string) config.SAMLServiceProvider {
		return config.SAMLServiceProvider{ID: id, Name: id, EntityID: "https://" + id + ".example.org/sp",
			ACSURLs: []string{"https://" + id + ".example.org/acs"}}
	}
	stored := `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://jobs.example.org/sp"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://jobs.example.org/acs" index="1"/></SPSSODescriptor></EntityDescriptor>`
	for _, tc := range []struct {
		name      string
		policies  []string
		sps       []config.SAMLServiceProvider
		storedSP  string // id of an SP registered in the store ("": none)
		storedCli string // id of a client added to the store
		want      []string
	}{
		{name: "all known", policies: []string{"portal", "dyn", "lms", "jobs"}, sps: []config.SAMLServiceProvider{sp("lms")},
			storedSP: "jobs", storedCli: "dyn"},
		{name: "no policies", sps: []config.SAMLServiceProvider{sp("lms")}},
		{name: "unknown policy", policies: []string{"portal", "portl", "lsm"}, sps: []config.SAMLServiceProvider{sp("lms")},
			want: []string{`policies[portl]: no client and no SAML service provider has the id "portl"`, `policies[lsm]: `}},
		{name: "policy of a removed stored client", policies: []string{"gone"},
			want: []string{`policies[gone]: no client`}},
		{name: "config SP is a config client", sps: []config.SAMLServiceProvider{sp("lms"), sp("portal")},
			want: []string{`saml.service_providers[1].id: "portal" is also an OpenID client's id`}},
		{name: "config SP is a stored client", sps: []config.SAMLServiceProvider{sp("dyn")}, storedCli: "dyn",
			want: []string{`saml.service_providers[0].id: "dyn" is also an OpenID client's id`}},
		{name: "stored SP is a config client", storedSP: "portal",
			want: []string{`SAML service provider "portal" (added with ssobridge saml register): "portal" is also an OpenID client's id`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := bridge.Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Clients = append(cfg.Clients, config.Client{ID: "portal", Name: "Portal", Secret: webSecret,
				RedirectURIs: []string{"https://portal.example.org/cb"}})
			cfg.SAML.ServiceProviders = tc.sps
			if tc.policies != nil {
				cfg.Policy.Policies = map[string]policy.ClientPolicy{}
				for _, id := range tc.policies {
					cfg.Policy.Policies[id] = policy.ClientPolicy{AccessRule: `member.is_current`}
				}
			}
			st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if tc.storedCli != "" {
				sc, err := sso.EncodeClient(&sso.ClientConfig{ID: tc.storedCli, Name: "Dynamic", SecretHash: sso.HashSecret("s"),
					RedirectURIs: []string{"https://dyn.example.org/cb"}}, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if err := st.CreateClient(ctx, sc); err != nil {
					t.Fatal(err)
				}
			}
			if tc.storedSP != "" {
				rec, err := saml.Record(config.SAMLServiceProvider{ID: tc.storedSP, Name: "Job Board"}, []byte(stored), "https://jobs.example.org/sp", time.Now())
				if err != nil {
					t.Fatal(err)
				}
				if err := st.CreateSAMLServiceProvider(ctx, rec); err != nil {
					t.Fatal(err)
				}
			}
			_, err = bridge.New(ctx, bridge.Deps{Config: cfg, Store: st, Directory: bridgetest.NewDirectory(),
				SigningKeyEncryption: make([]byte, 32), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("start-up: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("started, want %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("start-up: %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}
