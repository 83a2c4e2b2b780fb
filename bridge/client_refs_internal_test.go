package bridge

import (
	"maps"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
)

// TestClientReferences: the settings that name a client, per id, are the provisioning targets
// and ams.default_client (what the administration refuses to delete: TestReferencedClientNotDeleted).
func TestClientReferences(t *testing.T) {
	var cfg config.Config
	cfg.Provisioning = map[string]provisioning.Target{"lms": {}, "portal": {}}
	cfg.AMS.DefaultClient = "home"
	want := map[string]string{"lms": "provisioning.lms", "portal": "provisioning.portal", "home": "ams.default_client"}
	if got := clientReferences(cfg); !maps.Equal(got, want) {
		t.Fatalf("clientReferences = %v, want %v", got, want)
	}
}
