package provisioning

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	"github.com/ssobridge/ssobridge/wire"
)

// userFromClaims builds the payload from the claims the client may see (its claim policy has
// been applied: what the policy withholds is not sent).
func userFromClaims(subject string, active bool, c map[string]any) wire.User {
	str := func(k string) string { s, _ := c[k].(string); return s }
	u := wire.User{Subject: subject, Active: active, Login: str("preferred_username"), Email: str("email"), Name: str("name"),
		GivenName: str("given_name"), FamilyName: str("family_name"), Picture: str("picture"), Roles: []string{}}
	switch r := c["roles"].(type) {
	case []string:
		u.Roles = append(u.Roles, r...)
	case []any:
		for _, v := range r {
			if s, ok := v.(string); ok {
				u.Roles = append(u.Roles, s)
			}
		}
	}
	slices.Sort(u.Roles)
	u.Roles = slices.Compact(u.Roles)
	m := wire.Membership{MemberID: str("member_id"), MemberType: str("member_type"), ContactStatus: str("contact_status"),
		MembershipStatus: str("membership_status"), Standing: str("membership_standing"),
		Company: str("company"), JoinDate: str("join_date"), PaidThrough: str("paid_through")}
	m.IsCurrent, _ = c["is_current"].(bool)
	if _, ok := c["is_current"]; ok || m != (wire.Membership{}) {
		u.Membership = &m
	}
	return u
}

// digest is the SHA-256 of the payload data: equal digests mean nothing the client sees changed.
func digest(u wire.User) (string, []byte, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}

// removedRoles returns the roles of the previous view (JSON of a User) missing from now.
func removedRoles(prev []byte, now []string) []string {
	var p wire.User
	if len(prev) == 0 || json.Unmarshal(prev, &p) != nil {
		return nil
	}
	var out []string
	for _, r := range p.Roles {
		if !slices.Contains(now, r) {
			out = append(out, r)
		}
	}
	return out
}
