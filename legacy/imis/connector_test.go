package imis_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
)

// openDemoFile opens the imis connector type over a demo database file (the iMIS preset's
// SQLite variant), as the bridge opens legacy.type imis.
func openDemoFile(t *testing.T, website imis.WebsiteConfig) legacy.Connector {
	conn, _ := openDemoFileAt(t, website)
	return conn
}

// openDemoFileAt is openDemoFile, with the demo database file's path.
func openDemoFileAt(t *testing.T, website imis.WebsiteConfig) (legacy.Connector, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ams.db")
	db, err := demo.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := imis.Config{Config: demo.SQLConfig(), AMS: website}
	c.DSN = path
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, err := c.Open(ctx, legacy.OpenOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, path
}

// The imis connector's directory passes the directory contract.
func TestConnectorConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		conn, path := openDemoFileAt(t, imis.WebsiteConfig{})
		tg := &directorytest.Target{Dir: conn.Directory()}
		tg.Members, tg.Refused = directorytest.DemoAccounts()
		tg.Expiry = directorytest.DemoFileExpiry(path)
		return tg
	})
}

// The hand-off and single sign-off are capabilities only with the website configured.
func TestConnectorCapabilities(t *testing.T) {
	conn := openDemoFile(t, imis.WebsiteConfig{})
	if _, ok := conn.(legacy.HandoffExchanger); ok {
		t.Fatal("hand-off without a website")
	}
	if _, ok := conn.(legacy.Diagnoser); !ok {
		t.Fatal("no diagnosis")
	}
	conn = openDemoFile(t, imis.WebsiteConfig{Config: token.Config{BaseURL: "https://members.example.org", ClientID: "c", ClientSecret: "s"},
		SSOURL: "https://members.example.org/SSO", LogoutURL: "https://members.example.org/logout.aspx"})
	if _, ok := conn.(legacy.HandoffExchanger); !ok {
		t.Fatal("no hand-off with a website")
	}
	if _, ok := conn.(legacy.LogoutURLer); !ok {
		t.Fatal("no sign-off with a website")
	}
	if _, ok := conn.(legacy.Diagnoser); !ok {
		t.Fatal("no diagnosis with a website")
	}
}

// The imis configuration's member key modes: provider_key for a new installation, contact_key
// for one whose subjects predate the record; SetMemberKey sets legacy.member_key.
func TestMemberKeyModes(t *testing.T) {
	c := &imis.Config{}
	if m := c.MemberKeyModes(); m != (legacy.MemberKeyModes{Default: imis.MemberKeyProvider, Unrecorded: imis.MemberKeyContact}) {
		t.Fatalf("modes %+v", m)
	}
	c.SetMemberKey(imis.MemberKeyContact)
	if m := c.MemberKeyModes(); m.Configured != imis.MemberKeyContact || c.MemberKey != imis.MemberKeyContact {
		t.Fatalf("after SetMemberKey: %+v", m)
	}
}

// legacy check --token without a website names ams.base_url and sends nothing.
func TestCheckTokenWithoutWebsite(t *testing.T) {
	var out strings.Builder
	err := (&imis.Config{}).CheckToken(context.Background(), &out)
	if err == nil || !strings.Contains(err.Error(), "ams.base_url is not set") || out.Len() != 0 {
		t.Fatalf("err %v, output %q", err, out.String())
	}
}
