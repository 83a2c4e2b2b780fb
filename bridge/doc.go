// Package bridge is the composition root of the product around the protocol: New builds every
// part once, in dependency order, from the checked configuration (secrets, clients and keys,
// the provider and its hooks, provisioning, admin, the AMS connector's capabilities), then
// builds the web side's parts (bridge/web: session, authflow, logout, account, playground,
// handoff, each a handler with explicit dependencies) and mounts them on one router. Run does
// the background work and waits for all of it.
//
// Imports point one way: bridge uses sso (the OpenID provider) and legacy (the AMS); neither
// of them imports bridge.
package bridge
