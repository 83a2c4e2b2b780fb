package upstream

import (
	"strings"
	"testing"
)

// TestTrustedAMRRefusesTheBridgesOwn (review s18 X18-9): trusted_amr repeats an upstream's
// amr values after "fed" in the bridge session's amr, and refuses fed and pwd, the values the
// bridge writes for its own first factors. "ams" is the bridge's value for the AMS website's
// hand-off (mfa.AMRHandOff): an upstream allowed to pass it on would give a federated session
// amr ["fed", "ams"], which apps read as a hand-off, and which the login flow's re-authentication
// rule (sessionAnswers: any "ams") treats as one. It is refused as fed and pwd are.
func TestTrustedAMRRefusesTheBridgesOwn(t *testing.T) {
	c := ProviderConfig{Name: "corp", Issuer: "https://id.example.org", ClientID: "c", ClientSecret: "s",
		TrustedAMR: []string{"mfa", "ams"}}
	errs := Validate([]ProviderConfig{c})
	if len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "upstream_providers[0].trusted_amr[1]:") {
		t.Fatalf("trusted_amr [mfa ams]: %v, want trusted_amr[1] refused", errs)
	}
}
