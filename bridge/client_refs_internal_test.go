package bridge

import (
	"maps"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
)

// TestClientReferences: the settings that name a client, per id, are the provisioning targets
// ams.default_client and the policies (what the administration refuses to delete: TestReferencedClientNotDeleted).
func TestClientReferences(t *testing.T) {
	var cfg config.Config
	cfg.Provisioning = map[string]provisioning.Target{"lms": {}, "portal": {}}
	cfg.AMS.DefaultClient = "home"
	cfg.Policy.Policies = map[string]policy.ClientPolicy{"lms": {}, "journal": {}}
	want := map[string]string{"lms": "provisioning.lms", "portal": "provisioning.portal", "home": "ams.default_client",
		"journal": "policies[journal]"}
	if got := clientReferences(cfg); !maps.Equal(got, want) {
		t.Fatalf("clientReferences = %v, want %v", got, want)
	}
}
