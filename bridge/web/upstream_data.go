package web

// UpstreamButton is a login page button that signs in through an upstream provider.
type UpstreamButton struct {
	Name, Label string
}

// LinkedIdentity is an upstream identity linked to the member, as the account page lists it.
type LinkedIdentity struct {
	Provider, Email, Since string
	// Issuer and Subject identify the link in the unlink form.
	Issuer, Subject string
}
