package hooks_test

import (
	"context"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// countingMembers counts directory lookups.
type countingMembers struct {
	members
	n int
}

func (c *countingMembers) MemberByKey(ctx context.Context, key string) (*legacy.Member, error) {
	c.n++
	return c.members.MemberByKey(ctx, key)
}

// TestMemberLookedUpOncePerRequest: a refresh's grant check and its claims share one directory
// lookup within a request (WithProtocolRequest); without the memo, and for a member not found, every
// call looks up again.
func TestMemberLookedUpOncePerRequest(t *testing.T) {
	for _, tt := range []struct {
		name    string
		ctx     func(context.Context) context.Context
		subject string
		want    int
	}{
		{"one protocol request", protoCtx, "sub-K1", 1},
		{"no memo", nil, "sub-K1", 2},
		{"not found is not kept (protocol request)", protoCtx, "sub-K9", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHooks()
			cm := &countingMembers{members: h.Members.(members)}
			h.Members = cm
			ctx := context.Background()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			_ = h.CheckGrant(ctx, tt.subject, "web")
			_, _ = h.Claims(ctx, tt.subject, "web", []string{"openid"}, sso.TargetIDToken)
			if cm.n != tt.want {
				t.Fatalf("lookups = %d, want %d", cm.n, tt.want)
			}
		})
	}
}

// TestMemberMemoIsPerRequest: a second request (a fresh context) sees the directory's change.
func TestMemberMemoIsPerRequest(t *testing.T) {
	h, _ := newHooks()
	cm := &countingMembers{members: members{"K1": {Key: "K1", Login: "alice", Standing: legacy.Standing{Approved: true}}}}
	h.Members = cm
	if err := h.CheckGrant(hooks.WithProtocolRequest(context.Background(), ""), "sub-K1", "web"); err != nil {
		t.Fatal(err)
	}
	cm.members["K1"] = &legacy.Member{Key: "K1", Login: "alice", Standing: legacy.Standing{Approved: true, LockedOut: true}}
	if err := h.CheckGrant(hooks.WithProtocolRequest(context.Background(), ""), "sub-K1", "web"); err == nil {
		t.Fatal("a locked-out member passed the next request's grant check")
	}
}

// protoCtx is ctx as the router gives it to a protocol request.
func protoCtx(ctx context.Context) context.Context {
	return hooks.WithProtocolRequest(ctx, "192.0.2.7")
}

// TestProtocolRequestMemoAndIP: WithProtocolRequest's context carries the client IP and a memo
// that keeps every subject looked up (the first in its slot, the others beside it) apart, and
// hands on the values of the context it wraps.
func TestProtocolRequestMemoAndIP(t *testing.T) {
	type outer struct{}
	h, _ := newHooks()
	cm := &countingMembers{members: members{
		"K1": {Key: "K1", Login: "alice", Standing: legacy.Standing{Approved: true}},
		"K3": {Key: "K3", Login: "carol", Standing: legacy.Standing{Approved: true}},
	}}
	h.Members = cm
	ctx := hooks.WithProtocolRequest(context.WithValue(context.Background(), outer{}, "kept"), "192.0.2.7")
	if got := hooks.ClientIP(ctx); got != "192.0.2.7" {
		t.Errorf("ClientIP = %q", got)
	}
	if got := ctx.Value(outer{}); got != "kept" {
		t.Errorf("the wrapped context's value = %v", got)
	}
	for range 2 {
		for _, sub := range []string{"sub-K1", "sub-K3"} {
			c, err := h.Claims(ctx, sub, "web", []string{"openid"}, sso.TargetIDToken)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]string{"sub-K1": "alice", "sub-K3": "carol"}[sub]; c["preferred_username"] != want {
				t.Errorf("%s: preferred_username = %v, want %s", sub, c["preferred_username"], want)
			}
		}
	}
	if cm.n != 2 {
		t.Errorf("lookups = %d, want 2 (one per subject)", cm.n)
	}
	if got := hooks.ClientIP(hooks.WithProtocolRequest(context.Background(), "")); got != "" {
		t.Errorf("ClientIP without an IP = %q", got)
	}
}
