// Package memstore is an in-memory sso.Store (and sso.DeviceStore): every row in maps behind one
// mutex, so each method is one atomic step with the same compare-and-set semantics as the SQLite
// store. It passes the same conformance suite (sso/storetest) and serves the protocol tests in
// sso and anyone who needs a provider without a database. Nothing survives the process.
package memstore
