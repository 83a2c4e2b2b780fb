package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestLegacyType: the legacy: section is opened by its type through the registry; without a
// type, a dsn means imis (configuration files from before legacy.type) and none means demo.
// The iMIS website still comes from the top-level ams: section, validated by its connector.
func TestLegacyType(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		wantType   string
		wantErr    string
	}{
		{"no legacy section", "", "demo", ""},
		{"no dsn", "legacy:\n  membership_grace: 720h\n", "demo", ""},
		{"dsn without type", "legacy:\n  driver: sqlserver\n  dsn: sqlserver://u:p@db:1433?database=iMIS\n", "imis", ""},
		{"type imis", "legacy:\n  type: imis\n  driver: sqlserver\n  dsn: sqlserver://u:p@db:1433?database=iMIS\n", "imis", ""},
		{"type demo", "legacy:\n  type: demo\n", "demo", ""},
		{"unknown type", "legacy:\n  type: oracle\n", "", "legacy.type: unknown type \"oracle\" (want demo, imis, sql)"},
		{"unknown field", "legacy:\n  type: imis\n  dsn: x\n  driver: sqlserver\n  colour: red\n", "", "field colour not found"},
		{"imis without dsn", "legacy:\n  type: imis\n  driver: sqlserver\n", "", "legacy.dsn: required"},
		{"imis: every bad field", "legacy:\n  type: imis\n  driver: oracle\n  dsn: x\n  query_timeout: -1s\n", "",
			"2 problems in the configuration:\n  legacy.driver: unknown driver \"oracle\" (want sqlserver or sqlite)\n  legacy.query_timeout: must be positive"},
		{"type sql needs every query", "legacy:\n  type: sql\n  driver: sqlserver\n  dsn: x\n", "", "legacy.queries.member_by_login: required with preset \"none\""},
		{"type sql takes no preset", "legacy:\n  type: sql\n  driver: sqlserver\n  dsn: x\n  preset: imis\n", "", "legacy.preset: type sql takes no preset"},
		{"type sql and the iMIS website", "legacy:\n  type: sql\n  preset: none\nams:\n  base_url: https://members.example.org\n", "", "legacy.type sql takes none"},
		{"ams website validated by the connector", "ams:\n  base_url: https://members.example.org\n  client_id: c\n  client_secret: s\n", "demo",
			"ams.sso_url: required"},
		{"ams website with imis", "legacy:\n  dsn: x\n  driver: sqlserver\nams:\n  base_url: https://members.example.org\n  client_id: c\n  client_secret: s\n  sso_url: https://members.example.org/sso\n", "imis", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(path)
			if err == nil {
				err = cfg.Validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := cfg.Directory()
			if err != nil {
				t.Fatal(err)
			}
			switch d := d.(type) {
			case *imis.Config:
				if tc.wantType != "imis" || d.AMS.BaseURL != cfg.AMS.BaseURL {
					t.Fatalf("imis config %+v, want type %s with ams %q", d, tc.wantType, cfg.AMS.BaseURL)
				}
			case *demo.Config:
				if tc.wantType != "demo" {
					t.Fatalf("demo config, want %s", tc.wantType)
				}
			case *sqldir.Generic:
				if tc.wantType != "sql" {
					t.Fatalf("sql config, want %s", tc.wantType)
				}
			default:
				t.Fatalf("config %T", d)
			}
		})
	}
}

// TestLegacyMemberRules: the policy engine reads the grace period and standing rule from the
// connector's configuration (the demo's 30 days unless legacy.membership_grace is set).
func TestLegacyMemberRules(t *testing.T) {
	cfg := Defaults()
	if got := cfg.PolicyConfig().MembershipGrace; got != demo.MembershipGrace {
		t.Fatalf("demo grace %s, want %s", got, demo.MembershipGrace)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("legacy:\n  membership_grace: 48h\n  standing_rule: member.staff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.PolicyConfig(); p.MembershipGrace != 48*time.Hour || p.StandingRule != "member.staff" || len(p.ExtraColumns) == 0 {
		t.Fatalf("policy %+v", p)
	}
}
