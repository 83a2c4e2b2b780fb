package bridge_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
)

// TestDemoMembersTokensCarryRolesAndStanding signs every demo member that can sign in in
// through the real login page over the demo AMS (sqldir, iMIS preset on SQLite, behind the
// member cache, as the bridge runs it), and reads the roles, staff flag and membership
// standing from the ID token and from userinfo: they are what demo.Logins (and the README's
// demo table) say. Regression test of issue 11 item 1: the claims path loaded members with
// MemberByKey, which never loaded roles, so every app got roles: [].
func TestDemoMembersTokensCarryRolesAndStanding(t *testing.T) {
	t.Run("behind the member cache", func(t *testing.T) { testDemoTokens(t, true) })
	t.Run("without the cache", func(t *testing.T) { testDemoTokens(t, false) })
}

func testDemoTokens(t *testing.T, cached bool) {
	d, _, err := demo.OpenDirectory(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	var dir legacy.Directory = d
	if cached {
		dir = cache.Wrap(d, cache.Options{})
	}
	e := newEnvDir(t, true, dir)
	p, err := oidc.NewProvider(e.ctx(), e.issuer)
	if err != nil {
		t.Fatal(err)
	}
	web, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader,
		oidc.ScopeOpenID, "profile", "membership", "roles")
	type tokenClaims struct {
		Roles    []string `json:"roles"`
		Staff    *bool    `json:"staff"`
		Standing string   `json:"membership_standing"`
		Current  *bool    `json:"is_current"`
		Type     string   `json:"member_type"`
	}
	signedIn := 0
	for _, l := range demo.Logins() {
		if l.Outcome != "ok" {
			continue
		}
		signedIn++
		t.Run(l.Login, func(t *testing.T) {
			code := e.signIn(e.browser(), web.AuthCodeURL("state-1"), l.Login, l.Password)
			tok, err := web.Exchange(e.ctx(), code)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(e.ctx(), raw)
			if err != nil {
				t.Fatal(err)
			}
			var inID, inUserinfo tokenClaims
			if err := idt.Claims(&inID); err != nil {
				t.Fatal(err)
			}
			ui, err := p.UserInfo(e.ctx(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatal(err)
			}
			if err := ui.Claims(&inUserinfo); err != nil {
				t.Fatal(err)
			}
			for where, c := range map[string]tokenClaims{"ID token": inID, "userinfo": inUserinfo} {
				if !slices.Equal(c.Roles, l.Roles) {
					t.Errorf("%s roles %q, want %q", where, c.Roles, l.Roles)
				}
				if c.Staff == nil || *c.Staff != l.Staff {
					t.Errorf("%s staff %v, want %v", where, c.Staff, l.Staff)
				}
				current := l.Standing == "current" || l.Standing == "grace"
				if c.Standing != l.Standing || c.Current == nil || *c.Current != current {
					t.Errorf("%s membership_standing %q is_current %v, want %q %v", where, c.Standing, c.Current, l.Standing, current)
				}
			}
			t.Logf("%-6s roles %q staff %v standing %s (member type %s)", l.Login, inID.Roles, *inID.Staff, inID.Standing, inID.Type)
		})
	}
	if signedIn < 8 {
		t.Fatalf("only %d demo members sign in", signedIn)
	}
}

// TestREADMEDemoTable checks the README's demo table against the demo data whose tokens
// TestDemoMembersTokensCarryRolesAndStanding reads: each member's roles, staff flag and standing.
func TestREADMEDemoTable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 7 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows[strings.Trim(cells[1], "`")] = cells[2:6]
	}
	for _, l := range demo.Logins() {
		row, ok := rows[l.Login]
		if !ok {
			t.Errorf("README's demo table lacks %s", l.Login)
			continue
		}
		if row[0] != "`"+l.Password+"`" {
			t.Errorf("%s: password %s, want %s", l.Login, row[0], l.Password)
		}
		roles, standing := "—", "—"
		if l.Outcome == "ok" {
			roles, standing = strings.Join(l.Roles, ", "), "`"+l.Standing+"`"
			if l.Staff {
				roles += "; `staff: true`"
			}
		}
		if row[1] != roles || row[2] != standing {
			t.Errorf("%s: README says roles %q standing %s; the tokens carry %q %s", l.Login, row[1], row[2], roles, standing)
		}
	}
}
