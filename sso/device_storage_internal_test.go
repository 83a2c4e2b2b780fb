package sso

import (
	"testing"
)

// TestDeviceStorageNeverApproves (review s11 RV3): op's device token handler is not mounted,
// and its storage method answers an error even for an approved code, so op could never issue
// device tokens without the provider's member and sign-in policy checks.
func TestDeviceStorageNeverApproves(t *testing.T) {
	st, err := (&deviceStorage{}).GetDeviceAuthorizatonState(t.Context(), "tv", "code")
	if err == nil || st != nil {
		t.Fatalf("op's device state: %+v, %v; want an error", st, err)
	}
}
