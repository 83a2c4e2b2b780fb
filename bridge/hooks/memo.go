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

type memberMemoKey struct{}

type memberMemo struct {
	mu      sync.Mutex
	members map[string]*legacy.Member
}

// WithMemberMemo returns ctx carrying a per-request memo of the members looked up by subject
// (only found members are kept: an error is looked up again).
func WithMemberMemo(ctx context.Context) context.Context {
	return context.WithValue(ctx, memberMemoKey{}, &memberMemo{})
}

func memoFrom(ctx context.Context) *memberMemo {
	m, _ := ctx.Value(memberMemoKey{}).(*memberMemo)
	return m
}

func (m *memberMemo) get(subject string) *legacy.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.members[subject]
}

func (m *memberMemo) put(subject string, mb *legacy.Member) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.members == nil {
		m.members = make(map[string]*legacy.Member, 1)
	}
	m.members[subject] = mb
}
