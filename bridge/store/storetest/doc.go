// Package storetest is the conformance suite of store.Store, the bridge's whole store: it runs
// the sso.Store suite (sso/storetest) and adds the bridge-level records (subjects, consents, the
// audit log, the hand-off replay guard). Every backend runs Run from its tests and must pass it
// unchanged; like the sso suite, it uses only the interface and controls time only through the
// data it writes.
package storetest
