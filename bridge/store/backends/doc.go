// Package backends is the registry of the bridge's store implementations, by the `type` of
// the configuration's store section. Adding a backend is one package implementing store.Store
// (and passing store/storetest) plus one line in Kinds.
package backends
