package wire

import "time"

// Event types.
const (
	TypeCreated     = "user.created"
	TypeUpdated     = "user.updated"
	TypeDeactivated = "user.deactivated"
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

// Event is the JSON body of a webhook push (and the stored payload of every provisioning
// event).
type Event struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	ClientID  string    `json:"client_id"`
	Data      User      `json:"data"`
	// RemovedRoles are roles the client saw before this change and no longer does.
	RemovedRoles []string `json:"removed_roles,omitempty"`
}
