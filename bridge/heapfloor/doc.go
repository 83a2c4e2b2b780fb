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
package heapfloor
