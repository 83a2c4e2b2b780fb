package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// claimsPreviewer computes what a client would get for a member (admin.Previewer): the same
// policy, access decision, directory and subjects the sign-in uses.
type claimsPreviewer struct {
	clients interface {
		ClientConfig(ctx context.Context, id string) (*sso.ClientConfig, error)
	}
	members interface {
		MemberByLogin(ctx context.Context, login string) (*legacy.Member, error)
	}
	policy   *policy.Engine
	access   *access.Checker
	subjects interface{ Subject(memberKey string) string }
	now      func() time.Time
}

// ClaimsPreview computes the preview for a client and a member login. With no scopes, every
// scope the client may request is used.
func (p *claimsPreviewer) ClaimsPreview(ctx context.Context, clientID, login string, scopes []string) (*admin.ClaimsPreview, error) {
	client, err := p.clients.ClientConfig(ctx, clientID)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return nil, fmt.Errorf("no client %q", clientID)
		}
		return nil, err
	}
	m, err := p.members.MemberByLogin(ctx, login)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) {
			return nil, fmt.Errorf("no member with login %q in the directory", login)
		}
		return nil, err
	}
	if len(scopes) == 0 {
		for _, sc := range p.policy.SupportedScopes() {
			if slices.Contains([]string{"openid", "profile", "email", "phone", "address", "offline_access"}, sc) ||
				len(client.Scopes) == 0 || slices.Contains(client.Scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	now := p.now()
	sub := p.subjects.Subject(m.Key)
	pv, err := p.policy.Preview(m, sub, clientID, scopes, now)
	if err != nil {
		return nil, err
	}
	return &admin.ClaimsPreview{Client: clientID, Login: m.Login, Scopes: scopes, SignIn: p.access.Decide(ctx, m, sub, access.AnyClient, now).Reason, Preview: pv}, nil
}
