package bridge

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// Subjects are derived from the AMS member key (legacy.member_key, when the connector has modes:
// legacy.MemberKeyChooser), so the key an installation started with must never change under it:
// every subject its apps have stored would change. The key in use is recorded in the store on
// first start (sealed with the other installation values). A store that already holds subjects
// but no record was set up before the option existed, with the connector's Unrecorded mode
// (iMIS: the contact key).

// secretMemberKey names the recorded member key in the secrets table.
const secretMemberKey = "legacy-member-key"

// memberKeyStore is what settleMemberKey needs of the store.
type memberKeyStore interface {
	sso.SecretStore
	SubjectsByKeyRange(ctx context.Context, after, through string, limit int) ([]*store.Subject, error)
}

// settleMemberKey returns the member key mode to open the connector with: the configured one
// ("" when not set and the recorded one is the default). When legacy.member_key is not set,
// the recorded mode is used (and said in the log if it is not the default); when it is set and
// differs from the recorded one, start-up is refused naming the field.
func settleMemberKey(ctx context.Context, st memberKeyStore, kek []byte, modes legacy.MemberKeyModes, log *slog.Logger) (string, error) {
	configured := modes.Configured
	initial := configured
	if initial == "" {
		initial = modes.Default
	}
	existing, err := st.SubjectsByKeyRange(ctx, "", "", 1)
	if err != nil {
		return configured, fmt.Errorf("legacy.member_key: read subjects: %w", err)
	}
	var recordedFirst bool
	stored, err := identity.EnsureSealed(ctx, st, kek, secretMemberKey, func() []byte {
		recordedFirst = true
		if len(existing) > 0 {
			// Subjects issued before the member key was recorded came from the connector's
			// Unrecorded mode (iMIS: the contact key).
			return []byte(modes.Unrecorded)
		}
		return []byte(initial)
	})
	if err != nil {
		return configured, fmt.Errorf("legacy.member_key: %w", err)
	}
	recorded := string(stored)
	switch {
	case configured == "" && recorded != initial:
		log.Warn("legacy.member_key is not set: keeping the member key this installation's subjects were derived from",
			"member_key", recorded, "first_start", recordedFirst && len(existing) == 0)
		return recorded, nil
	case configured != "" && configured != recorded:
		return configured, fmt.Errorf("legacy.member_key: %q, but this installation's subjects were derived from %q: "+
			"changing the member key would give every member a new subject in every app; set legacy.member_key: %s "+
			"(or remove it)", configured, recorded, recorded)
	}
	return configured, nil
}
