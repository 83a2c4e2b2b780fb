// Package storetest is the conformance suite of sso.Store, in the style of Dex's
// storage/conformance: every backend (SQLite now, PostgreSQL later) runs Run from its own tests
// and must pass it unchanged.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) sso.Store {
//			s := openEmptyStore(t)
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The suite uses only the sso.Store interface. It never controls the store's clock: rows are made
// live or expired by the times written into them (an ExpiresAt in the past is expired now), and
// refresh-token rotation uses Rotation.Now. Times are written with millisecond precision, so a
// backend must keep at least that much. The suite starts goroutines (concurrent code exchange,
// concurrent rotation retries); a backend must be safe for concurrent use.
//
// Beyond the documented contract the suite pins down these behaviours, which every backend must
// share: deleting, revoking or ending an unknown or already deleted row is not an error; SaveCode
// on a request that is not done fails; AddSessionClient on an ended or expired session returns
// ErrNotFound; a unique code hash, access id, refresh hash, session id, key id and client id
// collision is ErrConflict; an expired or unknown code in IssueTokens is ErrNotFound; and any
// failure of IssueTokens other than ErrRefreshReused writes nothing.
package storetest
