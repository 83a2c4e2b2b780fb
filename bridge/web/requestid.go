package web

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
	"unsafe"
)

// requestIDs names requests for their log lines and X-Request-Id: 16 base64url characters,
// a prefix drawn at random once per router (the ids of two processes, or of one process
// before and after a restart, differ there) and a 48-bit sequence number mixed by a bijection
// (an odd multiplier and an offset, also drawn once), so that ids are unique within a process
// for 2^48 requests without being a plain request count. They correlate a response with its
// log line and are no secret: one draw at start instead of a crypto/rand read (and three
// allocations) per request.
type requestIDs struct {
	// head is the prefix's 8 characters (6 bytes in base64url: whole groups of 3, so the
	// characters after them depend on the sequence number only).
	head     [8]byte
	mul, add uint64
	n        atomic.Uint64
	// block holds the ids of the latest idsPerBlock sequence numbers.
	block atomic.Pointer[idBlock]
}

// idBlock holds the ids (and their X-Request-Id values) of the idsPerBlock sequence numbers
// from first, made in one allocation for that many requests instead of one each. Each slot is
// written once, by the request that drew its number; the block lives as long as any of its
// ids is referenced (2 KB).
type idBlock struct {
	first uint64
	ids   [idsPerBlock]newID
}

// idsPerBlock: 63 ids of 32 bytes and first fill an allocation of 2,048 bytes (a size class
// of Go's allocator) to within 24 bytes; 64 would take the next class (2,304 bytes).
const idsPerBlock = 63

const seqMask = 1<<48 - 1

func newRequestIDs() *requestIDs {
	var seed [22]byte
	if _, err := rand.Read(seed[:]); err != nil {
		panic("web: crypto/rand failed: " + err.Error()) // rand.Read never fails on supported platforms
	}
	g := &requestIDs{}
	base64.RawURLEncoding.Encode(g.head[:], seed[:6])
	g.mul = binary.BigEndian.Uint64(seed[6:14])&seqMask | 1 // odd: a bijection modulo 2^48
	g.add = binary.BigEndian.Uint64(seed[14:22]) & seqMask
	return g
}

// base64URL is the base64url alphabet (RFC 4648 section 5).
const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// requestIDLen is the length of a request id the router makes.
const requestIDLen = 16

// newID holds a new request id and the X-Request-Id header value naming it, side by side
// (instead of an allocation for the string and one for the value slice).
type newID struct {
	value [1]string
	text  [requestIDLen]byte
}

// next is a new request id as an X-Request-Id header value: a slice of length and capacity 1
// (Header.Add copies it on append) whose string is the id. The string's bytes are never
// written after it is made.
func (g *requestIDs) next() []string {
	n := g.n.Add(1)
	var id *newID
	if b := g.block.Load(); b != nil && n-b.first < idsPerBlock { // (n < b.first wraps around: false)
		id = &b.ids[n-b.first]
	} else if n%idsPerBlock == 0 {
		// The first number of a block makes it. A request that draws a later number of the
		// block before it is stored, or an earlier block's number after, allocates its own id.
		b = &idBlock{first: n}
		g.block.Store(b)
		id = &b.ids[0]
	} else {
		id = new(newID)
	}
	seq := (n*g.mul + g.add) & seqMask
	// The id is base64url of the prefix and seq's 6 bytes (big-endian): the prefix's
	// characters, then seq's 48 bits 6 at a time from the top (what base64.Encoding.Encode
	// would write, without its general loop: a sixth of the frame's own instructions).
	copy(id.text[:8], g.head[:])
	for i := range 8 {
		id.text[8+i] = base64URL[seq>>(42-6*i)&63]
	}
	id.value[0] = unsafe.String(&id.text[0], requestIDLen)
	return id.value[:]
}

// maxCallerRequestID bounds a caller's (a proxy's) X-Request-Id that is kept.
const maxCallerRequestID = 64

// callerRequestID reports whether a caller's X-Request-Id is kept: 1 to 64 characters of
// letters, digits and "-_.:" (UUIDs, the ids of common proxies and load balancers). Anything
// else is replaced by a new id, so that a caller cannot make every response and log line carry
// kilobytes of its own text, or characters that would split or forge a log line.
func callerRequestID(s string) bool {
	if len(s) == 0 || len(s) > maxCallerRequestID {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
