package sqlite

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPassSAMLClaimSearchesIndex (closing s19, noticed by S3): PassMFAChallenge's mark of the
// SAML login claim at the step that passed (passSAMLClaim) searches the claims by their step
// (mfa_challenges_saml_claim, migration 31) instead of scanning every live challenge.
func TestPassSAMLClaimSearchesIndex(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "s.db"))
	rows, err := s.r.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+passSAMLClaim, []byte("step-hash"))
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	rows.Close()
	if slices.ContainsFunc(plan, func(d string) bool { return strings.HasPrefix(d, "SCAN mfa_challenges") }) ||
		!slices.ContainsFunc(plan, func(d string) bool {
			return strings.HasPrefix(d, "SEARCH mfa_challenges USING INDEX mfa_challenges_saml_claim (data=?)")
		}) {
		t.Errorf("the claim's mark does not search mfa_challenges_saml_claim:\n%s\nplan: %q", passSAMLClaim, plan)
	}
}
