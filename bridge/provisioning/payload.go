package provisioning

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// Event types.
const (
	TypeCreated     = "user.created"
	TypeUpdated     = "user.updated"
	TypeDeactivated = "user.deactivated"
	TypeLogout      = "logout.backchannel"
)

// Channels.
const (
	ChannelSCIM        = "scim"
	ChannelWebhook     = "webhook"
	ChannelBackchannel = "backchannel"
)

// User is the member as one client may see them: the payload of provisioning events.
type User struct {
	Subject    string      `json:"subject"`
	Active     bool        `json:"active"`
	Login      string      `json:"login,omitempty"`
	Email      string      `json:"email,omitempty"`
	Name       string      `json:"name,omitempty"`
	GivenName  string      `json:"given_name,omitempty"`
	FamilyName string      `json:"family_name,omitempty"`
	Picture    string      `json:"picture,omitempty"`
	Roles      []string    `json:"roles"`
	Membership *Membership `json:"membership,omitempty"`
}

// Membership holds the membership fields the client may see.
type Membership struct {
	MemberID   string `json:"member_id,omitempty"`
	MemberType string `json:"member_type,omitempty"`
	// ContactStatus is iMIS Name.STATUS, MembershipStatus Name.MEMBER_STATUS (two fields).
	ContactStatus    string `json:"contact_status,omitempty"`
	MembershipStatus string `json:"membership_status,omitempty"`
	Standing         string `json:"membership_standing,omitempty"`
	Company          string `json:"company,omitempty"`
	JoinDate         string `json:"join_date,omitempty"`
	PaidThrough      string `json:"paid_through,omitempty"`
	IsCurrent        bool   `json:"is_current"`
}

// Event is the JSON body of a webhook (and the stored payload of every provisioning event).
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	ClientID  string    `json:"client_id"`
	Data      User      `json:"data"`
	// RemovedRoles are roles the client saw before this change and no longer does.
	RemovedRoles []string `json:"removed_roles,omitempty"`
}

// logoutPayload is the stored payload of a back-channel logout event; the token is signed
// at delivery so that a retry carries a fresh one.
type logoutPayload struct {
	ClientID  string `json:"client_id"`
	Subject   string `json:"sub,omitempty"`
	SessionID string `json:"sid,omitempty"`
}

// userFromClaims builds the payload from the claims the client may see (its claim policy has
// been applied: what the policy withholds is not sent).
func userFromClaims(subject string, active bool, c map[string]any) User {
	str := func(k string) string { s, _ := c[k].(string); return s }
	u := User{Subject: subject, Active: active, Login: str("preferred_username"), Email: str("email"), Name: str("name"),
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
	m := Membership{MemberID: str("member_id"), MemberType: str("member_type"), ContactStatus: str("contact_status"),
		MembershipStatus: str("membership_status"), Standing: str("membership_standing"),
		Company: str("company"), JoinDate: str("join_date"), PaidThrough: str("paid_through")}
	m.IsCurrent, _ = c["is_current"].(bool)
	if _, ok := c["is_current"]; ok || m != (Membership{}) {
		u.Membership = &m
	}
	return u
}

// digest is the SHA-256 of the payload data: equal digests mean nothing the client sees changed.
func digest(u User) (string, []byte, error) {
	b, err := json.Marshal(u)
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), b, nil
}

// removedRoles returns the roles of the previous view (JSON of a User) missing from now.
func removedRoles(prev []byte, now []string) []string {
	var p User
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

// SignWebhook returns the webhook-signature header value for a Standard Webhooks message:
// "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)).
func SignWebhook(key []byte, id string, timestamp time.Time, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(timestamp.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func newEventID() string { return "evt_" + sso.RandomToken()[:32] }

func eventKey(channel, clientID, subject string) string {
	return channel + "|" + clientID + "|" + subject
}
