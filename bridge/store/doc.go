// Package store is the bridge's own persistence contract: everything sso.Store holds plus the
// bridge-level records (subjects, consents, audit log). Backends live in sub-packages
// (sqlite now; PostgreSQL later) and must all pass the conformance suite in storetest.
package store
