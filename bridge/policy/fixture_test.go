package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// fixtureYAML is a configuration exercising every feature, as it would appear at the top level
// of the server's configuration file.
const fixtureYAML = `
scopes:
  chapter:
    title: Your chapter
    detail: The chapter and region you belong to.
    claims: [chapter, company]
    computed:
      region: 'member.extra["country"] in ["NO", "SE", "FI"] ? "nordic" : "other"'
  address:
    computed:
      address: '{"locality": member.extra["city"], "country": member.extra["country"]}'
  membership:
    claims: [title]
policies:
  portal:
    allowed_roles: [member, BOARD]
    rename: {member_type: membership_level}
    namespace:
      claim: https://portal.example.org/membership
      scope: membership
      claims: [member_id, paid_through, is_current, roles, is_staff, member_type]
    computed:
      is_staff: {scope: roles, expr: '"Staff" in member.roles'}
      renewal_due: {scope: membership, expr: 'member.paid_thru < now + duration("720h")'}
    access_rule: 'member.is_current || "Staff" in member.roles'
    id_token: [name, email, member_type, https://portal.example.org/membership]
  forum:
    allowed_roles: [Staff]
    userinfo: []
  staffonly:
    access_rule: '"Staff" in member.roles && client_id == "staffonly"'
  noroles:
    allowed_roles: []
`

var fixtureExtraColumns = []string{"title", "chapter", "city", "country"}

// fileConfig is how the server embeds Config.
type fileConfig struct {
	Listen string `yaml:"listen"`
	Config `yaml:",inline"`
}

func decodeConfig(t testing.TB, src string) Config {
	t.Helper()
	var fc fileConfig
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		t.Fatalf("decode: %v", err)
	}
	fc.ExtraColumns = fixtureExtraColumns
	return fc.Config
}

func fixtureEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := Compile(decodeConfig(t, fixtureYAML))
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return e
}

var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// ada is a current member with every field set.
func ada() *legacy.Member {
	return &legacy.Member{
		Key: "6F1D6C2E-0000-4000-8000-000000000001", MemberID: "10042", Login: "ada", Email: "ada@example.org",
		GivenName: "Ada", FamilyName: "Lovelace", FullName: "Ada Lovelace", Company: "Analytical Engines Ltd",
		MemberType: "REG", MemberRecord: true, Status: "A", JoinDate: day(2015, 5, 1), PaidThrough: day(2026, 3, 31),
		Roles: []string{"Staff", "Board", "Member"}, PictureURL: "https://example.org/ada.png",
		Extra:     map[string]string{"title": "Dr", "chapter": "North", "city": "Oslo", "country": "NO"},
		UpdatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

// lapsed is a member whose membership ran out last year.
func lapsed() *legacy.Member {
	return &legacy.Member{
		Key: "6F1D6C2E-0000-4000-8000-000000000002", MemberID: "10043", Login: "bob", Email: "bob@example.org",
		FullName: "Bob Lapsed", MemberType: "REG", MemberRecord: true, Status: "A", JoinDate: day(2010, 1, 1), PaidThrough: day(2025, 12, 31),
		Roles: []string{"Member"},
	}
}

// sparse has almost nothing: no dates, no roles, no extra columns.
func sparse() *legacy.Member {
	return &legacy.Member{Key: "K3", Login: "sparse"}
}

// canonicalScopes is the test's own statement of which scopes may release each claim of the
// fixture (the oracle for the "never an ungranted scope" tests), by the name clients see.
var canonicalScopes = map[string][]string{
	"name": {"profile"}, "given_name": {"profile"}, "family_name": {"profile"}, "preferred_username": {"profile"},
	"picture": {"profile"}, "updated_at": {"profile"},
	"email": {"email"}, "email_verified": {"email"},
	"member_id": {"membership"}, "member_type": {"membership"}, "contact_status": {"membership"}, "membership_status": {"membership"}, "membership_standing": {"membership"}, "staff": {"roles"},
	"company": {"membership", "chapter"}, "join_date": {"membership"}, "paid_through": {"membership"},
	"is_current": {"membership"}, "title": {"membership"},
	"roles":   {"roles"},
	"chapter": {"chapter"}, "region": {"chapter"},
	"address": {"address"},
}

// clientScopes adds each client's own claims (by the name it sees) to canonicalScopes.
func clientScopes(clientID string) map[string][]string {
	out := map[string][]string{}
	for k, v := range canonicalScopes {
		out[k] = v
	}
	if clientID == "portal" {
		delete(out, "member_type")
		out["membership_level"] = []string{"membership"}
		out["is_staff"] = []string{"roles"}
		out["renewal_due"] = []string{"membership"}
		out["https://portal.example.org/membership"] = []string{"membership"}
	}
	return out
}

var fixtureClients = []string{"portal", "forum", "staffonly", "noroles", "no-policy"}

var allTargets3 = []sso.ClaimTarget{sso.TargetIDToken, sso.TargetUserinfo, sso.TargetAccessToken}

// checkGranted fails when a claim of claims (or of the namespace object inside) is not
// released by one of the granted scopes according to the oracle.
func checkGranted(t testing.TB, clientID string, scopes []string, target sso.ClaimTarget, claims map[string]any) {
	t.Helper()
	if err := ungranted(clientID, scopes, target, claims); err != nil {
		t.Fatal(err)
	}
}

func ungranted(clientID string, scopes []string, target sso.ClaimTarget, claims map[string]any) error {
	oracle := clientScopes(clientID)
	for k, v := range claims {
		rel, ok := oracle[k]
		if !ok {
			return fmt.Errorf("%s %q %s: unexpected claim %q", clientID, scopes, target, k)
		}
		if !slices.ContainsFunc(rel, func(s string) bool { return slices.Contains(scopes, s) }) {
			return fmt.Errorf("%s %q %s: claim %q present but none of %v granted", clientID, scopes, target, k, rel)
		}
		if strings.HasPrefix(k, "https://") {
			obj, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s: namespace claim is %T", clientID, v)
			}
			if err := ungranted(clientID, scopes, target, obj); err != nil {
				return err
			}
		}
	}
	return nil
}

func yamlStrict(src string, v any) error {
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	return dec.Decode(v)
}
