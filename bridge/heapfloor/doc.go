// Package heapfloor keeps the garbage collector from collecting a small heap more often than
// a floor allows. Go starts a collection when the heap has grown by GOGC percent over what the
// last one left live (plus the stacks and globals it scanned), and never below 4 MB x GOGC/100.
// The bridge's live heap is about 2 MB (templates, compiled expressions, regular expressions,
// the connections' buffers), so at GOGC 100 every collection starts at the 4 MB minimum, after
// only 2 MB of allocation: under discovery load one runs about every thousand requests, each
// marking the whole live heap again, and callgrind counts a fifth of the server's instructions
// per request in the collector.
//
// Start raises the collector's percentage after every collection to the value whose heap goal
// is the floor, while the goal that the configured percentage gives is below it: the heap
// grows to the floor before the next collection, whatever it holds live. Once the live heap is
// large enough for the configured percentage to reach the floor itself, the configured
// percentage stands: a collection then never starts later than it would without the floor.
// The goal is thus max(floor, the configured percentage's goal), the same rule as Go's own
// minimum (4 MB) with another figure; a memory limit (GOMEMLIMIT) still caps it.
//
// The percentage is set from the runtime's own figures of the last collection
// (runtime/metrics: the live heap, the stacks and globals it scanned) by a cleanup of a
// sentinel object that each collection frees: one read and one debug.SetGCPercent per
// collection, nothing per allocation or request.
//
// What the floor buys and costs, measured on 2026-12-06 (session 22) with the load run's
// configuration (scripts/loadtest), GOMAXPROCS=1. A discovery request allocates nothing of
// the bridge's (web's TestDocumentAllocatesNothing): its 17 objects and 2.3 KB (session 21's
// count) are net/http's, as for a plain net/http server, so the number of collections per
// request is set by the floor and the live heap (about 2 MB under that load), and each
// collection marks the live heap and the binary's globals and sweeps the heap: about 11
// million instructions (plain net/http's: 2.4 million). Callgrind, 20,000 discovery requests over 32 keep-alive connections,
// collections per 100,000 requests and the collector's instructions per request (of about
// 52,000 in all):
//
//	floor  6 MB: 65, 7.0k     floor  8 MB: 45, 4.9k
//	floor 10 MB: 30, 3.4k     floor 12 MB: 25, 2.9k
//	plain net/http (scripts/loadtest/floor -doc; 0.3 MB live, Go's 4 MB minimum): 70, 1.7k
//
// Peak RSS of the same binary, three rounds each on a host loaded by other work (load average
// 23 on two cores), refresh run (as scripts/loadtest/run.sh) / full logins then discovery and
// JWKS (as logins.sh):
//
//	floor  6 MB: 35.3, 38.0, 36.9 MB / 33.0, 31.6, 32.2 MB
//	floor  8 MB: 35.6, 35.3, 36.7 MB / 33.9, 33.9, 33.3 MB
//	floor 10 MB: 38.3, 38.0, 37.0 MB / 36.3, 36.1, 36.1 MB
//
// In the refresh run the live heap is large enough for the percentage's goal to pass 8 MB
// (361-377 collections in the run at 6 and at 8, 267-275 at 10).
package heapfloor
