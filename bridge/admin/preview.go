package admin

import (
	"context"

	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
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

// Previewer computes a claims preview for a client and a member login; with no scopes, every
// scope the client may request.
type Previewer interface {
	ClaimsPreview(ctx context.Context, clientID, login string, scopes []string) (*ClaimsPreview, error)
}

// ClaimsPreview is what the client would get for the member (see Previewer). A preview is
// audited (admin.claims_preview: the actor, the client and the login; never the claims).
func (a *Service) ClaimsPreview(ctx context.Context, actor, clientID, login string, scopes []string) (*ClaimsPreview, error) {
	p, err := a.Previewer.ClaimsPreview(ctx, clientID, login, scopes)
	if err != nil {
		return nil, err
	}
	a.Audit(ctx, &store.AuditEvent{Time: a.now(), Event: "admin.claims_preview", Login: login, ClientID: clientID,
		Detail: "by " + actor})
	return p, nil
}
