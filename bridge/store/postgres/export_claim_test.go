package postgres

// SAMLClaimAt is PassMFAChallenge's selection of the SAML login claim at a step, for
// TestPassSAMLClaimUsesIndex.
const SAMLClaimAt = samlClaimAt
