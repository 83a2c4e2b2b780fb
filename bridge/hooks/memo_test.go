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
// lookup within a request (WithMemberMemo); without the memo, and for a member not found, every
// call looks up again.
func TestMemberLookedUpOncePerRequest(t *testing.T) {
	for _, tt := range []struct {
		name    string
		memo    bool
		subject string
		want    int
	}{
		{"one request", true, "sub-K1", 1},
		{"no memo", false, "sub-K1", 2},
		{"not found is not kept", true, "sub-K9", 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHooks()
			cm := &countingMembers{members: h.Members.(members)}
			h.Members = cm
			ctx := context.Background()
			if tt.memo {
				ctx = hooks.WithMemberMemo(ctx)
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
	if err := h.CheckGrant(hooks.WithMemberMemo(context.Background()), "sub-K1", "web"); err != nil {
		t.Fatal(err)
	}
	cm.members["K1"] = &legacy.Member{Key: "K1", Login: "alice", Standing: legacy.Standing{Approved: true, LockedOut: true}}
	if err := h.CheckGrant(hooks.WithMemberMemo(context.Background()), "sub-K1", "web"); err == nil {
		t.Fatal("a locked-out member passed the next request's grant check")
	}
}
