// Package cache is a member-profile cache in front of a legacy.Directory: members (by key,
// login and member id) and role lists are kept for a configurable TTL in bounded LRU indexes,
// and concurrent misses for the same member share one fetch.
//
// Passwords are never checked from the cache: Authenticate always asks the AMS (and, when the
// wrapped directory is a RolelessAuthenticator such as sqldir.Directory, takes the roles from
// the cache to save the second round trip), then fills the cache. ChangedSince is never
// cached; the members it returns refresh the cache. Errors are never cached.
//
// Wiring: cache.Wrap(dir, cache.Options{TTL: cfg.CacheTTL, Size: cfg.CacheSize}) with the
// sqldir configuration's cache_ttl and cache_size (a negative size disables the cache).
package cache
