package admin

import (
	"context"
	"errors"
	"fmt"

	"github.com/ssobridge/ssobridge/sso"
)

// ClientInfo is a client as the admin sees it: never the secret or its hash.
type ClientInfo struct {
	sso.ClientConfig
	SecretHash string `json:"secret_hash,omitempty"` // hides the embedded field
	HasSecret  bool   `json:"has_secret"`
	Source     string `json:"source"` // config or store
}

func (a *Service) clientInfo(c *sso.ClientConfig) ClientInfo {
	src := "store"
	if a.Registry.IsStatic(c.ID) {
		src = "config"
	}
	return ClientInfo{ClientConfig: *c, HasSecret: c.SecretHash != "", Source: src}
}

// static lists the clients of the configuration file, sorted by id.
func (a *Service) static(ctx context.Context) []*sso.ClientConfig {
	var out []*sso.ClientConfig
	for _, c := range a.Registry.All(ctx) {
		if a.Registry.IsStatic(c.ID) {
			out = append(out, c)
		}
	}
	return out
}

// Clients lists every client: the static ones first, then the dynamic ones from the store,
// each group sorted by id.
func (a *Service) Clients(ctx context.Context, actor string) ([]ClientInfo, error) {
	out := []ClientInfo{}
	for _, c := range a.static(ctx) {
		out = append(out, a.clientInfo(c))
	}
	stored, err := a.Store.Clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("admin: clients: %w", err)
	}
	for _, sc := range stored {
		if a.Registry.IsStatic(sc.ID) {
			continue
		}
		c, err := sso.DecodeClient(sc)
		if err != nil {
			return nil, err
		}
		out = append(out, a.clientInfo(c))
	}
	a.record(ctx, actor, "admin.clients_list", "", "", fmt.Sprintf("(%d)", len(out)))
	return out, nil
}

// Client shows one client, static or dynamic.
func (a *Service) Client(ctx context.Context, actor, id string) (*ClientInfo, error) {
	a.record(ctx, actor, "admin.client_show", "", id, "")
	for _, c := range a.static(ctx) {
		if c.ID == id {
			ci := a.clientInfo(c)
			return &ci, nil
		}
	}
	sc, err := a.Store.Client(ctx, id)
	if errors.Is(err, sso.ErrNotFound) {
		return nil, fmt.Errorf("%w: no client %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("admin: client: %w", err)
	}
	c, err := sso.DecodeClient(sc)
	if err != nil {
		return nil, err
	}
	ci := a.clientInfo(c)
	return &ci, nil
}

// CreateClient registers a dynamic client and returns its secret (empty for a public client),
// which is never stored or shown again.
func (a *Service) CreateClient(ctx context.Context, actor string, c sso.ClientConfig) (*ClientInfo, string, error) {
	if a.Registry.IsStatic(c.ID) {
		return nil, "", fmt.Errorf("%w: clients[%s].id: already defined in the config file", ErrInvalid, c.ID)
	}
	c.Secret, c.SecretHash, c.Static = "", "", false
	secret := ""
	if !c.Public {
		secret = sso.RandomToken()
		c.Secret = secret
	}
	c.Normalize()
	if err := c.Validate(); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	sc, err := sso.EncodeClient(&c, a.now())
	if err != nil {
		return nil, "", err
	}
	if err := a.Store.CreateClient(ctx, sc); err != nil {
		if errors.Is(err, sso.ErrConflict) {
			return nil, "", fmt.Errorf("%w: a client with id %q exists already", ErrInvalid, c.ID)
		}
		return nil, "", fmt.Errorf("admin: create client: %w", err)
	}
	a.record(ctx, actor, "admin.client_add", "", c.ID, "")
	ci := a.clientInfo(&c)
	return &ci, secret, nil
}

// DeleteClient removes a dynamic client and revokes the grants issued to it.
func (a *Service) DeleteClient(ctx context.Context, actor, id string) error {
	if a.Registry.IsStatic(id) {
		return ErrStatic
	}
	if _, err := a.Store.Client(ctx, id); errors.Is(err, sso.ErrNotFound) {
		return fmt.Errorf("%w: no client %q", ErrNotFound, id)
	} else if err != nil {
		return fmt.Errorf("admin: client: %w", err)
	}
	if err := a.Store.DeleteClient(ctx, id); err != nil {
		return fmt.Errorf("admin: delete client: %w", err)
	}
	rts, err := a.Store.ListRefreshTokens(ctx, "", id)
	if err != nil {
		return fmt.Errorf("admin: revoke the client's tokens: %w", err)
	}
	for _, rt := range rts {
		if err := a.Store.RevokeFamily(ctx, rt.FamilyID); err != nil {
			return fmt.Errorf("admin: revoke the client's tokens: %w", err)
		}
	}
	a.record(ctx, actor, "admin.client_remove", "", id, fmt.Sprintf("%d grants revoked", len(rts)))
	return nil
}

// RotateSecret gives a dynamic confidential client a new secret and returns it (shown once).
func (a *Service) RotateSecret(ctx context.Context, actor, id string) (string, error) {
	if a.Registry.IsStatic(id) {
		return "", ErrStatic
	}
	sc, err := a.Store.Client(ctx, id)
	if errors.Is(err, sso.ErrNotFound) {
		return "", fmt.Errorf("%w: no client %q", ErrNotFound, id)
	}
	if err != nil {
		return "", fmt.Errorf("admin: client: %w", err)
	}
	c, err := sso.DecodeClient(sc)
	if err != nil {
		return "", err
	}
	if c.Public {
		return "", fmt.Errorf("%w: client %q is public and has no secret", ErrInvalid, id)
	}
	secret := sso.RandomToken()
	c.SecretHash = "sha256:" + sso.HashToken(secret)
	nsc, err := sso.EncodeClient(c, a.now())
	if err != nil {
		return "", err
	}
	nsc.CreatedAt = sc.CreatedAt
	if err := a.Store.UpdateClient(ctx, nsc); err != nil {
		return "", fmt.Errorf("admin: rotate secret: %w", err)
	}
	a.record(ctx, actor, "admin.client_rotate_secret", "", id, "")
	return secret, nil
}
