package sso

import (
	"encoding/json"
	"fmt"
	"time"
)

// clientRecord is the stored JSON of a dynamic client (StoredClient.Config). Its tags are the
// on-disk format: rows written by earlier versions (which marshalled ClientConfig itself) must
// keep loading, so a field is only ever added, never renamed. It has ClientConfig's fields in
// ClientConfig's order, so that each converts to the other (a field added to one and not the
// other does not compile).
type clientRecord struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	SecretHash             string   `json:"secret_hash,omitempty"`
	Public                 bool     `json:"public"`
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             []string `json:"grant_types,omitempty"`
	Scopes                 []string `json:"scopes,omitempty"`
	Trusted                bool     `json:"trusted"`
	IDTokenSigningAlg      string   `json:"id_token_signing_alg,omitempty"`
	OmitIDTokenOnRefresh   bool     `json:"omit_id_token_on_refresh,omitempty"`
	WebOrigins             []string `json:"web_origins,omitempty"`
	AccessTokenFormat      string   `json:"access_token_format,omitempty"`
	Audiences              []string `json:"audiences,omitempty"`
	BackchannelLogoutURI   string   `json:"backchannel_logout_uri,omitempty"`
	FrontchannelLogoutURI  string   `json:"frontchannel_logout_uri,omitempty"`
	InitiateLoginURI       string   `json:"initiate_login_uri,omitempty"`
	MFA                    string   `json:"mfa,omitempty"`
	AllowInternalTargets   bool     `json:"allow_internal_targets,omitempty"`
	// RegisteredAt is not stored in the JSON: it is the row's CreatedAt (DecodeClient).
	RegisteredAt time.Time `json:"-"`
}

// PredatesRegistration reports whether something dated t (an access token, a member's consent)
// was given to an earlier registration of the client's id, another app: t is before
// RegisteredAt. Never for a static client (no RegisteredAt).
func (c *ClientConfig) PredatesRegistration(t time.Time) bool {
	return !c.RegisteredAt.IsZero() && t.Before(c.RegisteredAt)
}

// issuedBeforeRegistration reports whether a request made at created (an authorization request
// its code answers, a device authorization) was made to an earlier registration of the client's
// id: another app, whose unredeemed code or pending device authorization the app registered
// again under its id must not redeem. The stores keep microseconds (PostgreSQL), so created is
// taken at the end of its microsecond, as access tokens' times are (ofCurrentRegistration).
// As there, replicas' clocks must agree: created is the clock of the replica that took the
// request, RegisteredAt that of the one that registered the client.
func issuedBeforeRegistration(cfg *ClientConfig, created time.Time) bool {
	return cfg.PredatesRegistration(created.Add(time.Microsecond - 1))
}

// DecodeClient reads a stored dynamic client.
func DecodeClient(sc *StoredClient) (*ClientConfig, error) {
	var r clientRecord
	if err := json.Unmarshal(sc.Config, &r); err != nil {
		return nil, fmt.Errorf("clients: decode %s: %w", sc.ID, err)
	}
	c := ClientConfig(r)
	c.ID, c.RegisteredAt = sc.ID, sc.CreatedAt
	return &c, nil
}

// EncodeClient prepares a dynamic client for the store.
func EncodeClient(c *ClientConfig, now time.Time) (*StoredClient, error) {
	b, err := json.Marshal(clientRecord(*c))
	if err != nil {
		return nil, err
	}
	return &StoredClient{ID: c.ID, Config: b, CreatedAt: now, UpdatedAt: now}, nil
}
