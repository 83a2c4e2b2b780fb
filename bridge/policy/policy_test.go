package policy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

var everyScope = []string{"openid", "profile", "email", "phone", "address", "offline_access", "membership", "roles", "chapter"}

func claimsOf(t *testing.T, e *Engine, m *legacy.Member, client string, scopes []string, target sso.ClaimTarget) map[string]any {
	t.Helper()
	c, err := e.Claims(m, "sub-1", client, scopes, target, testNow)
	if err != nil {
		t.Fatalf("Claims(%s, %v, %s): %v", client, scopes, target, err)
	}
	return c
}

func TestRolesPerClient(t *testing.T) {
	e := fixtureEngine(t)
	tests := []struct {
		client string
		scopes []string
		want   any // nil: no roles claim
	}{
		{"portal", []string{"openid", "roles"}, []string{"Board", "Member"}}, // Staff hidden, case-insensitive list
		{"forum", []string{"openid", "roles"}, []string{"Staff"}},            // only Staff visible
		{"no-policy", []string{"openid", "roles"}, []string{"Staff", "Board", "Member"}},
		{"noroles", []string{"openid", "roles"}, []string{}}, // allowed_roles: [] hides all
		{"forum", []string{"openid", "profile", "membership"}, nil},
		{"no-policy", []string{"openid"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.client+"/"+strings.Join(tt.scopes, "+"), func(t *testing.T) {
			for _, target := range allTargets3 {
				got, ok := claimsOf(t, e, ada(), tt.client, tt.scopes, target)["roles"]
				if (target == sso.TargetIDToken && tt.client == "portal") || (target == sso.TargetUserinfo && tt.client == "forum") {
					// portal's ID token allow-list leaves top-level roles out; forum has userinfo: [].
					if ok {
						t.Fatalf("%s %s has roles %v", tt.client, target, got)
					}
					continue
				}
				if tt.want == nil {
					if ok {
						t.Fatalf("%s: roles %v present without the roles scope", target, got)
					}
					continue
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("%s: roles = %#v, want %#v", target, got, tt.want)
				}
			}
		})
	}
	// The member's own slice is never handed out.
	m := ada()
	c := claimsOf(t, e, m, "no-policy", []string{"roles"}, sso.TargetUserinfo)
	c["roles"].([]string)[0] = "changed"
	if m.Roles[0] != "Staff" {
		t.Fatal("Claims returned the member's own roles slice")
	}
}

func TestAccessRule(t *testing.T) {
	e := fixtureEngine(t)
	staffLapsed := lapsed()
	staffLapsed.Roles = []string{"Staff"}
	tests := []struct {
		name   string
		m      *legacy.Member
		client string
		want   bool
	}{
		{"current member, members-only app", ada(), "portal", true},
		{"lapsed member, members-only app", lapsed(), "portal", false},
		{"lapsed staff, members-only app", staffLapsed, "portal", true},
		{"lapsed member, app without rule", lapsed(), "forum", true},
		{"lapsed member, client without policy", lapsed(), "no-policy", true},
		{"no dates at all, members-only app", sparse(), "portal", false},
		{"staff, staff-only app", ada(), "staffonly", true},
		{"member, staff-only app", lapsed(), "staffonly", false},
		{"paid through today (end of day)", func() *legacy.Member { m := lapsed(); m.PaidThrough = day(2026, 3, 10); return m }(), "portal", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.Allowed(tt.m, "sub-1", tt.client, testNow)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("Allowed = %v, want %v", got, tt.want)
			}
		})
	}
	if !e.HasAccessRule("portal") || e.HasAccessRule("forum") || e.HasAccessRule("no-policy") {
		t.Fatal("HasAccessRule is wrong")
	}
}

func TestAccessRuleRuntimeErrorRefuses(t *testing.T) {
	e, err := Compile(Config{Policies: map[string]ClientPolicy{"app": {AccessRule: `member.extra["missing"] == "x"`}}})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := e.Allowed(ada(), "s", "app", testNow)
	if ok || err == nil || !strings.Contains(err.Error(), "policies[app].access_rule") {
		t.Fatalf("Allowed = %v, %v; want false and an error naming the rule", ok, err)
	}
}

// TestNoUngrantedClaims checks every subset of the scopes (plus an unknown one) for every
// client and target of the fixture, for three members.
func TestNoUngrantedClaims(t *testing.T) {
	e := fixtureEngine(t)
	scopes := append(slices.Clone(everyScope), "bogus")
	members := []*legacy.Member{ada(), lapsed(), sparse()}
	n := 0
	for mask := 0; mask < 1<<len(scopes); mask++ {
		var granted []string
		for i, s := range scopes {
			if mask&(1<<i) != 0 {
				granted = append(granted, s)
			}
		}
		for _, client := range fixtureClients {
			for _, target := range allTargets3 {
				for _, m := range members {
					c, err := e.Claims(m, "sub-1", client, granted, target, testNow)
					if err != nil {
						t.Fatal(err)
					}
					checkGranted(t, client, granted, target, c)
					n++
				}
			}
		}
	}
	t.Logf("%d claim sets checked", n)
}

// TestDefaultsMatchFormerClaims pins the behaviour for clients without a policy to the former
// bridge.memberClaims, for every subset of the standard scopes.
func TestDefaultsMatchFormerClaims(t *testing.T) {
	e, err := Compile(Config{})
	if err != nil {
		t.Fatal(err)
	}
	std := everyScope[:8]
	for _, m := range []*legacy.Member{ada(), lapsed(), sparse()} {
		for mask := 0; mask < 1<<len(std); mask++ {
			var granted []string
			for i, s := range std {
				if mask&(1<<i) != 0 {
					granted = append(granted, s)
				}
			}
			want := formerMemberClaims(m, granted, testNow)
			for _, target := range allTargets3 {
				got := claimsOf(t, e, m, "any-client", granted, target)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%v %s:\n got %#v\nwant %#v", granted, target, got, want)
				}
			}
		}
	}
}

// formerMemberClaims is bridge.memberClaims as it was before policies.
func formerMemberClaims(m *legacy.Member, scopes []string, now time.Time) map[string]any {
	out := map[string]any{}
	has := func(s string) bool { return slices.Contains(scopes, s) }
	set := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	if has("profile") {
		set("name", m.FullName)
		set("given_name", m.GivenName)
		set("family_name", m.FamilyName)
		set("preferred_username", m.Login)
		set("picture", m.PictureURL)
		if !m.UpdatedAt.IsZero() {
			out["updated_at"] = m.UpdatedAt.Unix()
		}
	}
	if has("email") && m.Email != "" {
		out["email"] = m.Email
		out["email_verified"] = false
	}
	if has("membership") {
		set("member_id", m.MemberID)
		set("member_type", m.MemberType)
		set("contact_status", m.Status)
		set("membership_status", m.MemberStatus)
		set("company", m.Company)
		if !m.JoinDate.IsZero() {
			out["join_date"] = m.JoinDate.Format("2006-01-02")
		}
		if !m.PaidThrough.IsZero() {
			out["paid_through"] = m.PaidThrough.Format("2006-01-02")
		}
		out["is_current"] = m.IsCurrent(now)
		out["membership_standing"] = m.MembershipAt(now, 0).Standing
	}
	if has("roles") {
		roles := m.Roles
		if roles == nil {
			roles = []string{}
		}
		out["roles"] = roles
		out["staff"] = m.Staff
	}
	return out
}

func TestPortalPolicy(t *testing.T) {
	e := fixtureEngine(t)
	scopes := []string{"openid", "profile", "email", "membership", "roles"}
	const ns = "https://portal.example.org/membership"
	wantNS := map[string]any{
		"member_id": "10042", "paid_through": "2026-03-31", "is_current": true,
		"roles": []string{"Board", "Member"}, "is_staff": true, "membership_level": "REG",
	}
	tests := []struct {
		name   string
		target sso.ClaimTarget
		scopes []string
		want   map[string]any
	}{
		{"id token: allow-list, rename, namespace", sso.TargetIDToken, scopes, map[string]any{
			"name": "Ada Lovelace", "email": "ada@example.org", "membership_level": "REG", ns: wantNS,
		}},
		{"userinfo: everything granted, renamed", sso.TargetUserinfo, scopes, map[string]any{
			"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace", "preferred_username": "ada",
			"picture": "https://example.org/ada.png", "updated_at": int64(1767323045),
			"email": "ada@example.org", "email_verified": false,
			"member_id": "10042", "membership_level": "REG", "contact_status": "A", "company": "Analytical Engines Ltd",
			"join_date": "2015-05-01", "paid_through": "2026-03-31", "is_current": true, "membership_standing": "current", "title": "Dr",
			"roles": []string{"Board", "Member"}, "staff": false, "is_staff": true, "renewal_due": true, ns: wantNS,
		}},
		{"namespace without roles: roles and is_staff stay out", sso.TargetIDToken, []string{"openid", "membership"}, map[string]any{
			"membership_level": "REG",
			ns:                 map[string]any{"member_id": "10042", "paid_through": "2026-03-31", "is_current": true, "membership_level": "REG"},
		}},
		{"namespace needs its scope", sso.TargetUserinfo, []string{"openid", "roles"}, map[string]any{
			"roles": []string{"Board", "Member"}, "staff": false, "is_staff": true,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := claimsOf(t, e, ada(), "portal", tt.scopes, tt.target)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestComputedClaims(t *testing.T) {
	e := fixtureEngine(t)
	tests := []struct {
		name   string
		m      *legacy.Member
		client string
		scopes []string
		want   map[string]any // subset expected; nil value: must be absent
	}{
		{"renewal due within 30 days", ada(), "portal", []string{"membership"}, map[string]any{"renewal_due": true}},
		{"renewal not due", func() *legacy.Member { m := ada(); m.PaidThrough = day(2027, 1, 1); return m }(), "portal", []string{"membership"}, map[string]any{"renewal_due": false}},
		{"is_staff needs roles", ada(), "portal", []string{"membership"}, map[string]any{"is_staff": nil}},
		{"is_staff false", lapsed(), "portal", []string{"roles"}, map[string]any{"is_staff": false}},
		{"scope computed: region", ada(), "forum", []string{"chapter"}, map[string]any{"region": "nordic", "chapter": "North", "company": "Analytical Engines Ltd"}},
		{"map-valued address", ada(), "forum", []string{"address"}, map[string]any{"address": map[string]any{"locality": "Oslo", "country": "NO"}}},
		{"configured extra column missing reads as empty", sparse(), "forum", []string{"address", "chapter"}, map[string]any{
			"address": map[string]any{"locality": "", "country": ""}, "region": "other", "chapter": nil}},
		{"other clients do not get portal's computed claims", ada(), "forum", []string{"roles", "membership"}, map[string]any{"is_staff": nil, "renewal_due": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := claimsOf(t, e, tt.m, tt.client, tt.scopes, sso.TargetAccessToken)
			for k, want := range tt.want {
				v, ok := got[k]
				if want == nil {
					if ok {
						t.Fatalf("%s = %#v, want absent", k, v)
					}
					continue
				}
				if !reflect.DeepEqual(v, want) {
					t.Fatalf("%s = %#v, want %#v (all: %v)", k, v, want, got)
				}
			}
		})
	}
}

func TestComputedValueTypes(t *testing.T) {
	cfg := Config{Policies: map[string]ClientPolicy{"app": {Computed: map[string]Computed{
		"i":      {Scope: "openid", Expr: `size(member.roles)`},
		"u":      {Scope: "openid", Expr: `7u`},
		"d":      {Scope: "openid", Expr: `1.5`},
		"ts":     {Scope: "openid", Expr: `member.join_date`},
		"list":   {Scope: "openid", Expr: `member.roles.map(r, r.lowerAscii())`},
		"null":   {Scope: "openid", Expr: `null`},
		"empty":  {Scope: "openid", Expr: `member.company`},
		"opt":    {Scope: "openid", Expr: `member.extra.?nope.orValue("fallback")`},
		"has":    {Scope: "openid", Expr: `has(member.paid_thru)`},
		"dyn":    {Scope: "openid", Expr: `dyn(member).login`},
		"subj":   {Scope: "openid", Expr: `member.subject + "@" + client_id`},
		"failed": {Scope: "openid", Expr: `member.extra["nope"]`},
		"nested": {Scope: "openid", Expr: `{"a": [1, {"b": true}]}`},
		"whole":  {Scope: "openid", Expr: `[dyn(member)][0]`},
	}}}}
	var logs bytes.Buffer
	e, err := Compile(cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	m := ada()
	m.Company = ""
	got := claimsOf(t, e, m, "app", []string{"openid"}, sso.TargetAccessToken)
	want := map[string]any{
		"i": int64(3), "u": uint64(7), "d": 1.5, "ts": "2015-05-01T00:00:00Z",
		"list": []any{"staff", "board", "member"}, "opt": "fallback", "has": true, "dyn": "ada", "subj": "sub-1@app",
		"nested": map[string]any{"a": []any{int64(1), map[string]any{"b": true}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %#v\nwant %#v", got, want)
	}
	if !strings.Contains(logs.String(), "claim=failed") || !strings.Contains(logs.String(), "client=app") {
		t.Fatalf("evaluation failure not logged: %q", logs.String())
	}
	if _, err := json.Marshal(got); err != nil {
		t.Fatal(err)
	}
}

func TestCustomScopes(t *testing.T) {
	e := fixtureEngine(t)
	got := claimsOf(t, e, ada(), "no-policy", []string{"openid", "chapter"}, sso.TargetIDToken)
	want := map[string]any{"chapter": "North", "company": "Analytical Engines Ltd", "region": "nordic"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("chapter scope: got %v, want %v", got, want)
	}
	// An extra column added to a standard scope.
	got = claimsOf(t, e, ada(), "no-policy", []string{"membership"}, sso.TargetIDToken)
	if got["title"] != "Dr" {
		t.Fatalf("membership scope lacks title: %v", got)
	}
	// Extra columns not released by any scope never appear.
	got = claimsOf(t, e, ada(), "no-policy", everyScope, sso.TargetUserinfo)
	if _, ok := got["city"]; ok {
		t.Fatalf("unreleased extra column present: %v", got)
	}
}

func TestTargetAllowLists(t *testing.T) {
	e := fixtureEngine(t)
	if got := claimsOf(t, e, ada(), "forum", everyScope, sso.TargetUserinfo); len(got) != 0 {
		t.Fatalf("forum has userinfo: [] but got %v", got)
	}
	if got := claimsOf(t, e, ada(), "forum", everyScope, sso.TargetIDToken); got["email"] != "ada@example.org" {
		t.Fatalf("forum id token: %v", got)
	}
	if _, err := e.Claims(ada(), "s", "forum", everyScope, sso.ClaimTarget("logout_token"), testNow); err == nil {
		t.Fatal("unknown target accepted")
	}
	if _, err := e.Claims(nil, "s", "forum", everyScope, sso.TargetIDToken, testNow); err == nil {
		t.Fatal("nil member accepted")
	}
}

func TestCompileErrors(t *testing.T) {
	portal := func(p ClientPolicy) Config {
		return Config{ExtraColumns: fixtureExtraColumns, Policies: map[string]ClientPolicy{"portal": p}}
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // every fragment must be in the error
	}{
		{"syntax error", portal(ClientPolicy{AccessRule: `member.is_current ||`}),
			[]string{"policies[portal].access_rule: ", "ERROR: <input>:1:"}},
		{"undeclared variable", portal(ClientPolicy{AccessRule: `membr.is_current`}),
			[]string{"policies[portal].access_rule: ", "undeclared reference to 'membr'"}},
		{"unknown field", portal(ClientPolicy{AccessRule: `member.key == "x"`}),
			[]string{"policies[portal].access_rule: ", "undefined field 'key'"}},
		{"non-bool access rule", portal(ClientPolicy{AccessRule: `member.member_type`}),
			[]string{"policies[portal].access_rule: ", "must be of type bool, not string"}},
		{"type error", portal(ClientPolicy{AccessRule: `member.paid_thru < 3`}),
			[]string{"policies[portal].access_rule: ", "no matching overload"}},
		{"computed without scope", portal(ClientPolicy{Computed: map[string]Computed{"x": {Expr: `true`}}}),
			[]string{"policies[portal].computed[x].scope: required"}},
		{"computed unknown scope", portal(ClientPolicy{Computed: map[string]Computed{"x": {Scope: "nope", Expr: `true`}}}),
			[]string{"policies[portal].computed[x].scope: unknown scope \"nope\""}},
		{"computed syntax error", portal(ClientPolicy{Computed: map[string]Computed{"x": {Scope: "roles", Expr: `"Staff" in`}}}),
			[]string{"policies[portal].computed[x].expr: ERROR: <input>:1:"}},
		{"computed duration", portal(ClientPolicy{Computed: map[string]Computed{"x": {Scope: "roles", Expr: `duration("1h")`}}}),
			[]string{"policies[portal].computed[x].expr: a claim cannot be a duration"}},
		{"computed optional", portal(ClientPolicy{Computed: map[string]Computed{"x": {Scope: "roles", Expr: `member.extra.?title`}}}),
			[]string{"policies[portal].computed[x].expr: a claim cannot be an optional"}},
		{"computed whole member", portal(ClientPolicy{Computed: map[string]Computed{"x": {Scope: "roles", Expr: `member`}}}),
			[]string{"policies[portal].computed[x].expr: a claim cannot be of type ssobridge.Member"}},
		{"roles in another scope", Config{Scopes: map[string]Scope{"chapter": {Claims: []string{"roles"}}}},
			[]string{"scopes[chapter].claims[0]: the roles claim is only ever released by the roles scope"}},
		{"computed empty", portal(ClientPolicy{Computed: map[string]Computed{"x": {Scope: "roles"}}}),
			[]string{"policies[portal].computed[x].expr: empty expression"}},
		{"computed shadows member claim", portal(ClientPolicy{Computed: map[string]Computed{"email": {Scope: "roles", Expr: `"x"`}}}),
			[]string{"policies[portal].computed[email]: claim \"email\" is already defined"}},
		{"reserved claim", portal(ClientPolicy{Computed: map[string]Computed{"sub": {Scope: "roles", Expr: `"x"`}}}),
			[]string{"policies[portal].computed[sub]: ", "protocol claim"}},
		{"rename unknown", portal(ClientPolicy{Rename: map[string]string{"nope": "x"}}),
			[]string{"policies[portal].rename[nope]: unknown claim"}},
		{"rename collision", portal(ClientPolicy{Rename: map[string]string{"member_type": "email"}}),
			[]string{"policies[portal].rename: ", "would both be named \"email\""}},
		{"rename to reserved", portal(ClientPolicy{Rename: map[string]string{"email": "iss"}}),
			[]string{"policies[portal].rename[email]: ", "protocol claim"}},
		{"namespace unknown claim", portal(ClientPolicy{Namespace: &Namespace{Claim: "https://x", Scope: "membership", Claims: []string{"nope"}}}),
			[]string{"policies[portal].namespace.claims[0]: unknown claim \"nope\""}},
		{"namespace without scope", portal(ClientPolicy{Namespace: &Namespace{Claim: "https://x", Claims: []string{"email"}}}),
			[]string{"policies[portal].namespace.scope: required"}},
		{"namespace collides", portal(ClientPolicy{Namespace: &Namespace{Claim: "email", Scope: "email", Claims: []string{"email"}}}),
			[]string{"policies[portal].namespace.claim: \"email\" is already the name"}},
		{"allow-list unknown claim", portal(ClientPolicy{IDToken: []string{"emial"}}),
			[]string{"policies[portal].id_token[0]: unknown claim \"emial\""}},
		{"allow-list uses renamed name", portal(ClientPolicy{Rename: map[string]string{"member_type": "level"}, Userinfo: []string{"level"}}),
			[]string{"policies[portal].userinfo[0]: unknown claim \"level\""}},
		{"empty role", portal(ClientPolicy{AllowedRoles: []string{" "}}),
			[]string{"policies[portal].allowed_roles[0]: empty role name"}},
		{"scope claim unknown", Config{Scopes: map[string]Scope{"chapter": {Claims: []string{"chaptr"}}}, ExtraColumns: fixtureExtraColumns},
			[]string{"scopes[chapter].claims[0]: unknown claim \"chaptr\""}},
		{"scope computed broken", Config{Scopes: map[string]Scope{"chapter": {Computed: map[string]string{"c": `member.chapter`}}}},
			[]string{"scopes[chapter].computed[c]: ", "undefined field 'chapter'"}},
		{"openid cannot release claims", Config{Scopes: map[string]Scope{"openid": {Claims: []string{"email"}}}},
			[]string{"scopes[openid]: the openid scope cannot release claims"}},
		{"bad scope name", Config{Scopes: map[string]Scope{"two words": {Claims: []string{"email"}}}},
			[]string{"scopes[two words]: "}},
		{"computed defined twice", Config{Scopes: map[string]Scope{"a": {Computed: map[string]string{"c": `"1"`}}, "b": {Computed: map[string]string{"c": `"2"`}}}},
			[]string{"scopes[b].computed[c]: claim \"c\" is already defined (scopes[a].computed[c])"}},
		{"empty client id", Config{Policies: map[string]ClientPolicy{"": {}}},
			[]string{"policies[\"\"]: a client id"}},
		{"several errors are all reported", Config{Policies: map[string]ClientPolicy{
			"a": {AccessRule: `nope`}, "b": {AccessRule: `"x"`}}},
			[]string{"policies[a].access_rule: ", "policies[b].access_rule: must be of type bool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Compile(tt.cfg)
			if err == nil {
				t.Fatalf("Compile succeeded (%v)", e)
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

func TestYAMLComputedShorthand(t *testing.T) {
	cfg := decodeConfig(t, `
policies:
  portal:
    computed:
      is_staff: '"Staff" in member.roles'
`)
	_, err := Compile(cfg)
	if err == nil || !strings.Contains(err.Error(), "policies[portal].computed[is_staff].scope: required") {
		t.Fatalf("err = %v", err)
	}
	var fc fileConfig
	if err := yamlStrict(`
policies:
  portal:
    computed:
      is_staff: {scope: roles, exp: x}
`, &fc); err == nil || !strings.Contains(err.Error(), "field exp not found") {
		t.Fatalf("unknown key in computed claim: err = %v", err)
	}
	if err := yamlStrict("policies: {portal: {acces_rule: x}}", &fc); err == nil {
		t.Fatal("unknown policy field accepted")
	}
}

func TestSupportedScopesAndClaims(t *testing.T) {
	def, err := Compile(Config{})
	if err != nil {
		t.Fatal(err)
	}
	wantScopes := []string{"openid", "profile", "email", "offline_access", "membership", "roles"}
	if got := def.SupportedScopes(); !slices.Equal(got, wantScopes) {
		t.Fatalf("default scopes = %v, want %v (phone and address have no claims)", got, wantScopes)
	}
	wantClaims := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "sid", "azp", "amr",
		"company", "contact_status", "email", "email_verified", "family_name", "given_name", "is_current", "join_date", "member_id",
		"member_type", "membership_standing", "membership_status", "name", "paid_through", "picture", "preferred_username", "roles", "staff", "updated_at"}
	if got := def.SupportedClaims(); !slices.Equal(got, wantClaims) {
		t.Fatalf("default claims = %v\nwant %v", got, wantClaims)
	}

	e := fixtureEngine(t)
	wantScopes = []string{"openid", "profile", "email", "address", "offline_access", "membership", "roles", "chapter"}
	if got := e.SupportedScopes(); !slices.Equal(got, wantScopes) {
		t.Fatalf("fixture scopes = %v, want %v", got, wantScopes)
	}
	got := e.SupportedClaims()
	for _, c := range []string{"address", "chapter", "region", "title", "membership_level", "is_staff", "renewal_due", "https://portal.example.org/membership", "member_type"} {
		if !slices.Contains(got, c) {
			t.Errorf("claims_supported lacks %q: %v", c, got)
		}
	}
	for _, c := range []string{"city", "country", "key"} {
		if slices.Contains(got, c) {
			t.Errorf("claims_supported has %q, which nothing releases", c)
		}
	}
	// Every claim any client can receive is advertised.
	for _, client := range fixtureClients {
		for _, target := range allTargets3 {
			for k := range claimsOf(t, e, ada(), client, everyScope, target) {
				if !slices.Contains(got, k) {
					t.Errorf("%s receives unadvertised claim %q", client, k)
				}
			}
		}
	}
	// A custom scope released only by a client's computed claim is supported too.
	e2, err := Compile(Config{Scopes: map[string]Scope{"badge": {Title: "Your badge"}},
		Policies: map[string]ClientPolicy{"app": {Computed: map[string]Computed{"badge": {Scope: "badge", Expr: `member.member_id`}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(e2.SupportedScopes(), "badge") {
		t.Fatalf("badge not supported: %v", e2.SupportedScopes())
	}
	if got := e.PolicyClients(); !slices.Equal(got, []string{"forum", "noroles", "portal", "staffonly"}) {
		t.Fatalf("PolicyClients = %v", got)
	}
}

func TestScopeDescriptions(t *testing.T) {
	e := fixtureEngine(t)
	all := e.ScopeDescriptions()
	if len(all) != len(e.SupportedScopes()) {
		t.Fatalf("%d descriptions for %d scopes", len(all), len(e.SupportedScopes()))
	}
	byScope := map[string]ScopeDescription{}
	for _, d := range all {
		byScope[d.Scope] = d
	}
	if d := byScope["chapter"]; d.Title != "Your chapter" || d.Detail != "The chapter and region you belong to." || !slices.Equal(d.Claims, []string{"company", "chapter", "region"}) {
		t.Fatalf("chapter: %+v", d)
	}
	if d := byScope["address"]; d.Title != "Your postal address" || !slices.Equal(d.Claims, []string{"address"}) {
		t.Fatalf("address: %+v", d)
	}

	got := e.DescribeScopes("portal", []string{"openid", "membership", "roles", "membership", "x-unknown"})
	if len(got) != 4 {
		t.Fatalf("DescribeScopes = %+v", got)
	}
	if got[1].Scope != "membership" || !slices.Contains(got[1].Claims, "membership_level") || !slices.Contains(got[1].Claims, "renewal_due") ||
		!slices.Contains(got[1].Claims, "https://portal.example.org/membership") || slices.Contains(got[1].Claims, "member_type") {
		t.Fatalf("portal membership: %+v", got[1])
	}
	if !slices.Equal(got[2].Claims, []string{"roles", "staff", "is_staff"}) {
		t.Fatalf("portal roles: %+v", got[2])
	}
	if got[3].Known || !strings.Contains(got[3].Detail, "x-unknown") {
		t.Fatalf("unknown scope: %+v", got[3])
	}
	// Defaults for a custom scope without wording.
	e2, err := Compile(Config{Scopes: map[string]Scope{"chapter": {Claims: []string{"chapter"}}}, ExtraColumns: []string{"chapter"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := e2.DescribeScopes("x", []string{"chapter"})[0]; d.Title != "chapter" || d.Detail != "From your member record: chapter." {
		t.Fatalf("default wording: %+v", d)
	}
}

func TestPreview(t *testing.T) {
	e, err := Compile(Config{ExtraColumns: fixtureExtraColumns, Policies: map[string]ClientPolicy{"app": {
		AccessRule: `member.is_current`,
		IDToken:    []string{"email"},
		Computed:   map[string]Computed{"bad": {Scope: "email", Expr: `member.extra["nope"]`}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	pv, err := e.Preview(lapsed(), "sub-1", "app", []string{"openid", "email", "email", "x-unknown"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !pv.Policy || pv.Access.Allowed || pv.Access.Rule != "member.is_current" || pv.Access.Error != "" {
		t.Fatalf("preview access: %+v", pv)
	}
	if !slices.Equal(pv.Scopes, []string{"openid", "email"}) || !slices.Equal(pv.Unknown, []string{"x-unknown"}) {
		t.Fatalf("preview scopes: %v / %v", pv.Scopes, pv.Unknown)
	}
	if !maps.Equal(pv.IDToken, map[string]any{"email": "bob@example.org"}) || pv.Userinfo["email_verified"] != false || len(pv.AccessToken) != 2 {
		t.Fatalf("preview claims: %+v", pv)
	}
	if len(pv.Errors) != 1 || !strings.Contains(pv.Errors[0], "policies[app].computed[bad]") {
		t.Fatalf("preview errors: %v", pv.Errors)
	}
	if _, err := json.Marshal(pv); err != nil {
		t.Fatal(err)
	}
	pv, _ = e.Preview(ada(), "sub-1", "other", []string{"openid"}, testNow)
	if pv.Policy || !pv.Access.Allowed || pv.Access.Rule != "" {
		t.Fatalf("preview without policy: %+v", pv)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := fixtureEngine(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			m := []*legacy.Member{ada(), lapsed(), sparse()}[g%3]
			for i := range 200 {
				client := fixtureClients[i%len(fixtureClients)]
				c, err := e.Claims(m, "s", client, everyScope, allTargets3[i%3], testNow)
				if err != nil {
					t.Error(err)
					return
				}
				if err := ungranted(client, everyScope, allTargets3[i%3], c); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.Allowed(m, "s", client, testNow); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDocExample compiles the configuration example of doc.go.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var y strings.Builder
	in := false
	for line := range strings.Lines(string(src)) {
		switch {
		case strings.HasPrefix(line, "//\tscopes:"):
			in = true
		case in && !strings.HasPrefix(line, "//\t") && strings.TrimSpace(line) != "//":
			in = false
		}
		if in {
			y.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "//"), "\t"))
		}
	}
	if !strings.Contains(y.String(), "access_rule:") {
		t.Fatalf("example not found in doc.go:\n%s", y.String())
	}
	e, err := Compile(decodeConfig(t, y.String()))
	if err != nil {
		t.Fatalf("doc example: %v\n%s", err, y.String())
	}
	c := claimsOf(t, e, ada(), "portal", []string{"openid", "membership", "roles"}, sso.TargetIDToken)
	ns, _ := c["https://portal.example.org/membership"].(map[string]any)
	if c["membership_level"] != "REG" || ns["is_staff"] != true {
		t.Fatalf("doc example claims: %v", c)
	}
}

// TestRefreshClaimsAllocations: the claims of a refresh grant's ID token (openid and
// offline_access, which release no member claim) cost the call and a map sized for what the
// grant releases. It failed at 6 allocations (1,416 bytes) when the map was sized for every
// claim of the policy and each call built a logging closure.
func TestRefreshClaimsAllocations(t *testing.T) {
	e := fixtureEngine(t)
	m := ada()
	scopes := []string{"openid", "offline_access"}
	for _, client := range []string{"no-policy", "portal"} {
		n := testing.AllocsPerRun(100, func() {
			if _, err := e.Claims(m, "sub-1", client, scopes, sso.TargetIDToken, testNow); err != nil {
				t.Fatal(err)
			}
		})
		if n > 2 {
			t.Errorf("%s: Claims for a refresh allocates %.0f objects, want at most 2", client, n)
		}
	}
}
