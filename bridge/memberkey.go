package bridge

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
	"github.com/ssobridge/ssobridge/sso"
)

// Subjects are derived from the AMS member key (legacy.member_key), so the key an installation
// started with must never change under it: every subject its apps have stored would change. The
// key in use is recorded in the store on first start (sealed with the other installation
// values). A store that already holds subjects but no record was set up before the option
// existed, when the member key was always the contact key.

// secretMemberKey names the recorded member key in the secrets table.
const secretMemberKey = "legacy-member-key"

// memberKeyStore is what settleMemberKey needs of the store.
type memberKeyStore interface {
	sso.SecretStore
	SubjectsByKeyRange(ctx context.Context, after, through string, limit int) ([]*store.Subject, error)
}

// settleMemberKey returns the legacy configuration with the member key this installation's
// subjects were derived from. When legacy.member_key is not set, the recorded key is used
// (and said in the log if it is not the default); when it is set and differs from the
// recorded one, start-up is refused naming the field.
func settleMemberKey(ctx context.Context, st memberKeyStore, kek []byte, lc sqldir.Config, log *slog.Logger) (sqldir.Config, error) {
	configured := lc.MemberKey
	initial := configured
	if initial == "" {
		initial = imis.MemberKeyProvider
	}
	existing, err := st.SubjectsByKeyRange(ctx, "", "", 1)
	if err != nil {
		return lc, fmt.Errorf("legacy.member_key: read subjects: %w", err)
	}
	var recordedFirst bool
	stored, err := identity.EnsureSealed(ctx, st, kek, secretMemberKey, func() []byte {
		recordedFirst = true
		if len(existing) > 0 {
			// Subjects issued before the member key was recorded came from the contact key.
			return []byte(imis.MemberKeyContact)
		}
		return []byte(initial)
	})
	if err != nil {
		return lc, fmt.Errorf("legacy.member_key: %w", err)
	}
	recorded := string(stored)
	switch {
	case configured == "" && recorded != initial:
		log.Warn("legacy.member_key is not set: keeping the member key this installation's subjects were derived from",
			"member_key", recorded, "first_start", recordedFirst && len(existing) == 0)
		lc.MemberKey = recorded
	case configured != "" && configured != recorded:
		return lc, fmt.Errorf("legacy.member_key: %q, but this installation's subjects were derived from %q: "+
			"changing the member key would give every member a new subject in every app; set legacy.member_key: %s "+
			"(or remove it)", configured, recorded, recorded)
	}
	return lc, nil
}
