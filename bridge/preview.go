package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// ClaimsPreview is exactly what a client would get for a member: the ID token, userinfo and
// access-token claims, and whether the member may sign in and the access rule lets them in.
type ClaimsPreview struct {
	Client string   `json:"client"`
	Login  string   `json:"login"`
	Scopes []string `json:"scopes"`
	SignIn string   `json:"sign_in"` // "ok" or the status failure (locked_out, ...)
	*policy.Preview
}

// ClaimsPreview computes the preview for a client and a member login. With no scopes, every
// scope the client may request is used.
func (s *Server) ClaimsPreview(ctx context.Context, clientID, login string, scopes []string) (*ClaimsPreview, error) {
	client, err := s.provider.Client(ctx, clientID)
	if err != nil {
		if errors.Is(err, sso.ErrNotFound) {
			return nil, fmt.Errorf("no client %q", clientID)
		}
		return nil, err
	}
	m, err := s.dir.MemberByLogin(ctx, login)
	if err != nil {
		if errors.Is(err, legacy.ErrNotFound) {
			return nil, fmt.Errorf("no member with login %q in the directory", login)
		}
		return nil, err
	}
	if len(scopes) == 0 {
		for _, sc := range s.policy.SupportedScopes() {
			if slices.Contains([]string{"openid", "profile", "email", "phone", "address", "offline_access"}, sc) ||
				len(client.Scopes) == 0 || slices.Contains(client.Scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	sub := s.subjects.Subject(m.Key)
	p, err := s.policy.Preview(m, sub, clientID, scopes, s.now())
	if err != nil {
		return nil, err
	}
	return &ClaimsPreview{Client: clientID, Login: m.Login, Scopes: scopes, SignIn: s.access.Decide(ctx, m, sub, access.AnyClient, s.now()).Reason, Preview: p}, nil
}
