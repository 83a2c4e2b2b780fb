package directories_test

import (
	"testing"

	"github.com/ssobridge/ssobridge/bridge/directories"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Resolve hands the top-level ams: website to every type that takes one (WebsiteTaker), on a
// copy: the section it came from is not changed.
func TestResolveHandsTheWebsiteOnACopy(t *testing.T) {
	site := imis.WebsiteConfig{Config: token.Config{BaseURL: "https://ams.example.org", ClientID: "c"}, SSOURL: "https://ams.example.org/sso"}
	for _, tc := range []struct {
		name    string
		l       directories.LegacyConfig
		website func(directories.Config) imis.WebsiteConfig // nil: takes none
	}{
		{"imis", directories.LegacyConfig{Type: "imis", Config: &imis.Config{Config: sqldir.Config{DSN: "x"}}},
			func(c directories.Config) imis.WebsiteConfig { return c.(*imis.Config).AMS }},
		{"demo", directories.LegacyConfig{Type: "demo", Config: &demo.Config{}},
			func(c directories.Config) imis.WebsiteConfig { return c.(*demo.Config).AMS }},
		{"zero value: demo", directories.LegacyConfig{},
			func(c directories.Config) imis.WebsiteConfig { return c.(*demo.Config).AMS }},
		{"sql", directories.LegacyConfig{Type: "sql", Config: &sqldir.Generic{}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := tc.l.Resolve(site)
			if tc.website == nil {
				if err == nil {
					t.Fatal("a website accepted by a type that takes none")
				}
				if d, err := tc.l.Resolve(imis.WebsiteConfig{}); err != nil || d == nil {
					t.Fatalf("without a website: %v, %v", d, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.website(d); got.BaseURL != site.BaseURL || got.SSOURL != site.SSOURL {
				t.Fatalf("website %+v", got)
			}
			if tc.l.Config != nil && tc.website(tc.l.Config).Enabled() {
				t.Fatal("Resolve changed the section it came from")
			}
		})
	}
}

// Clone copies the configuration: a capability's setter on the copy leaves the original.
func TestCloneDoesNotAlias(t *testing.T) {
	orig := directories.LegacyConfig{Type: "imis", Config: &imis.Config{Config: sqldir.Config{DSN: "x"}}}
	c := orig.Clone()
	mk, ok := c.Config.(legacy.MemberKeyChooser)
	if !ok {
		t.Fatal("the imis configuration has no member key modes")
	}
	mk.SetMemberKey(imis.MemberKeyContact)
	if got := orig.Config.(*imis.Config).MemberKey; got != "" {
		t.Fatalf("original member key %q", got)
	}
	if got := c.Config.(*imis.Config).MemberKey; got != imis.MemberKeyContact || c.Type != "imis" {
		t.Fatalf("clone %+v", c)
	}
	if (directories.LegacyConfig{}).Clone().Config != nil {
		t.Fatal("zero value cloned into a configuration")
	}
}

// Only connector types with member key modes or an AMS token endpoint have those capabilities.
func TestCapabilitiesByType(t *testing.T) {
	for typ, mk := range directories.Types() {
		c := mk()
		_, keyed := c.(legacy.MemberKeyChooser)
		_, token := c.(legacy.TokenChecker)
		if keyed != (typ == "imis") || token != (typ == "imis" || typ == "demo") {
			t.Errorf("type %s: member key modes %v, token checker %v", typ, keyed, token)
		}
	}
}
