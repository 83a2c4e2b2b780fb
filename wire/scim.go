package wire

// SCIM schema URNs (RFC 7643, RFC 7644) and media type.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaListResp   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaError      = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaMembership = "urn:ssobridge:params:scim:schemas:extension:membership:1.0:User"
	SCIMContentType  = "application/scim+json"
)

// SCIMValue is a multi-valued attribute's value (emails, photos, roles).
type SCIMValue struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// SCIMName is the name attribute of a User.
type SCIMName struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

// SCIMMembership is the membership extension of a User (SchemaMembership).
type SCIMMembership struct {
	MemberID         string `json:"memberId,omitempty"`
	MemberType       string `json:"memberType,omitempty"`
	ContactStatus    string `json:"contactStatus,omitempty"`
	MembershipStatus string `json:"membershipStatus,omitempty"`
	Standing         string `json:"membershipStanding,omitempty"`
	Company          string `json:"company,omitempty"`
	JoinDate         string `json:"joinDate,omitempty"`
	PaidThrough      string `json:"paidThrough,omitempty"`
	IsCurrent        bool   `json:"isCurrent"`
}

// SCIMUser is the User resource the bridge pushes (RFC 7643 4.1), with the membership
// extension. The id is the service provider's; externalId is the bridge's subject.
type SCIMUser struct {
	Schemas     []string    `json:"schemas,omitempty"`
	ID          string      `json:"id,omitempty"`
	ExternalID  string      `json:"externalId"`
	UserName    string      `json:"userName"`
	Name        *SCIMName   `json:"name,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Emails      []SCIMValue `json:"emails,omitempty"`
	Photos      []SCIMValue `json:"photos,omitempty"`
	// Active is always sent; a resource received without it is active (RFC 7643 4.1.1).
	Active     *bool           `json:"active,omitempty"`
	Roles      []SCIMValue     `json:"roles"`
	Membership *SCIMMembership `json:"urn:ssobridge:params:scim:schemas:extension:membership:1.0:User,omitempty"`
}

// SCIMUserOf maps a User to its SCIM User resource: userName is the login (the subject when
// there is none), the email is the primary work email, roles are role values.
func SCIMUserOf(u User) SCIMUser {
	active := u.Active
	r := SCIMUser{Schemas: []string{SchemaUser}, ExternalID: u.Subject, UserName: u.Login, DisplayName: u.Name,
		Active: &active, Roles: []SCIMValue{}}
	if r.UserName == "" {
		r.UserName = u.Subject
	}
	if u.Name != "" || u.GivenName != "" || u.FamilyName != "" {
		r.Name = &SCIMName{Formatted: u.Name, GivenName: u.GivenName, FamilyName: u.FamilyName}
	}
	if u.Email != "" {
		r.Emails = []SCIMValue{{Value: u.Email, Type: "work", Primary: true}}
	}
	if u.Picture != "" {
		r.Photos = []SCIMValue{{Value: u.Picture, Type: "photo"}}
	}
	for _, role := range u.Roles {
		r.Roles = append(r.Roles, SCIMValue{Value: role})
	}
	if m := u.Membership; m != nil {
		r.Schemas = append(r.Schemas, SchemaMembership)
		sm := SCIMMembership(*m) // the same fields under SCIM's attribute names
		r.Membership = &sm
	}
	return r
}

// User maps a received SCIM User resource back to a User (the inverse of SCIMUserOf); of
// several emails it takes the primary one, else the first.
func (s SCIMUser) User() User {
	u := User{Subject: s.ExternalID, Login: s.UserName, Name: s.DisplayName, Active: s.Active == nil || *s.Active,
		Roles: []string{}}
	if s.Name != nil {
		u.GivenName, u.FamilyName = s.Name.GivenName, s.Name.FamilyName
		if u.Name == "" {
			u.Name = s.Name.Formatted
		}
	}
	if len(s.Emails) > 0 {
		// The primary email (RFC 7643 4.1.2: at most one value is primary), else the first.
		u.Email = s.Emails[0].Value
		for _, e := range s.Emails {
			if e.Primary {
				u.Email = e.Value
				break
			}
		}
	}
	if len(s.Photos) > 0 {
		u.Picture = s.Photos[0].Value
	}
	for _, r := range s.Roles {
		u.Roles = append(u.Roles, r.Value)
	}
	if m := s.Membership; m != nil {
		wm := Membership(*m)
		u.Membership = &wm
	}
	return u
}
