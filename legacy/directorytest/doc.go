// Package directorytest is the conformance suite of legacy.Directory: what every member
// directory (the SQL Server directory through go-mssqldb, the demo, the cache decorator and
// every fake that tests use) must do, so that a fake cannot behave differently from the real
// thing. Run it from a test of each implementation:
//
//	directorytest.Run(t, func(t *testing.T) *directorytest.Target { return &directorytest.Target{...} })
//
// It checks: sign-in of every given account with its roles; unknown login and wrong password
// indistinguishable (same error, same message, same verification work); status failures only
// after the right password, except the lockout and a missing approval (one answer and an
// unknown login's work for any password, as the AMS refuses them before comparing any); roles (non-nil, equal to the grants' roles) from every lookup that returns a
// member; ErrNotFound for unknown members; unavailability as its own error; ChangedSince
// ordering with ties kept together; and the ListMembers listing (ascending keys, every live
// member once, deleted contacts left out). Test-only.
package directorytest
