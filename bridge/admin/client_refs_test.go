package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

// TestReferencedClientNotDeleted (end-of-session review s13 RV2-1): a dynamic client that a
// setting of the configuration file names (a provisioning target, ams.default_client) is not
// deleted through the administration (admin API, CLI and console all call DeleteClient): the
// next start-up would refuse the configuration on every replica (4db385f, f124052). The refusal
// names the setting; a client nothing names is deleted as before.
func TestReferencedClientNotDeleted(t *testing.T) {
	ctx := context.Background()
	for _, ref := range []string{"provisioning.dyn", "ams.default_client"} {
		f := newFixture(t)
		f.svc.ClientRefs = map[string]string{"dyn": ref}
		err := f.svc.DeleteClient(ctx, "tester", "dyn")
		if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), ref) {
			t.Errorf("deleting a client %s names: %v, want invalid naming %s", ref, err, ref)
		}
		if f.storedClient(t, "dyn") == nil {
			t.Errorf("the client %s names was deleted", ref)
		}
	}
	f := newFixture(t)
	f.svc.ClientRefs = map[string]string{"other": "provisioning.other"}
	if err := f.svc.DeleteClient(ctx, "tester", "dyn"); err != nil {
		t.Fatalf("deleting a client nothing names: %v", err)
	}
	if f.storedClient(t, "dyn") != nil {
		t.Error("a client nothing names was not deleted")
	}
}
