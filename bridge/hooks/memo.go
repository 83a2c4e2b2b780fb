package hooks

import (
	"context"
	"sync"

	"github.com/ssobridge/ssobridge/legacy"
)

// A protocol request looks its member up once: a refresh grant checks the grant
// (CheckGrant) and then builds the ID token's claims (Claims) for the same subject, and each
// lookup is a round trip to the AMS. The memo lives in the request's context only, so a
// member's change shows from the next request on.

// memberMemo keeps the members a request looked up by subject: the first in a slot of its own
// (a request asks about one subject), any other in a map.
type memberMemo struct {
	mu      sync.Mutex
	subject string
	member  *legacy.Member
	more    map[string]*legacy.Member
}

// protocolRequestKey is the context key of a protocolRequest.
type protocolRequestKey struct{}

// protocolRequest is what WithProtocolRequest puts in a protocol request's context: its client
// IP and its member memo, in one allocation that is the context itself (instead of two
// context values, the IP's boxed string and the memo).
type protocolRequest struct {
	context.Context
	ip   string
	memo memberMemo
	// clientKey is the client-authentication throttle's key for keyClient and ip
	// (Hooks.clientKey), under memo.mu.
	keyClient, clientKey string
}

func (r *protocolRequest) Value(key any) any {
	if key == (protocolRequestKey{}) {
		return r
	}
	return r.Context.Value(key)
}

// WithProtocolRequest returns ctx carrying the protocol request's client IP and a per-request
// memo of the members looked up by subject (only found members are kept: an error is looked
// up again): what the router gives every protocol request.
func WithProtocolRequest(ctx context.Context, ip string) context.Context {
	return &protocolRequest{Context: ctx, ip: ip}
}

// IsProtocolRequest reports whether ctx already carries WithProtocolRequest's values.
func IsProtocolRequest(ctx context.Context) bool { return protocolRequestFrom(ctx) != nil }

func protocolRequestFrom(ctx context.Context) *protocolRequest {
	r, _ := ctx.Value(protocolRequestKey{}).(*protocolRequest)
	return r
}

func memoFrom(ctx context.Context) *memberMemo {
	if r := protocolRequestFrom(ctx); r != nil {
		return &r.memo
	}
	return nil
}

func (m *memberMemo) get(subject string) *legacy.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.member != nil && m.subject == subject {
		return m.member
	}
	return m.more[subject]
}

func (m *memberMemo) put(subject string, mb *legacy.Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.member == nil || m.subject == subject {
		m.subject, m.member = subject, mb
		return
	}
	if m.more == nil {
		m.more = make(map[string]*legacy.Member, 1)
	}
	m.more[subject] = mb
}
