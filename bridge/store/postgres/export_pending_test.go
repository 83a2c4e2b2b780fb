package postgres

// ClosePendingGrantsSQL is RevokeGrants' closing of the grants not yet redeemed (tokens.go).
var ClosePendingGrantsSQL = closePendingGrantsSQL
