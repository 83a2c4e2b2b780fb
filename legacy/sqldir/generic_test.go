package sqldir_test

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
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// openGeneric opens the sql connector type as the bridge does (its Config.Open, with the
// profile cache in front) over a demo database file, with the iMIS-on-SQLite queries and iMIS's
// built-in accounts (type sql knows no AMS's built-in accounts: legacy.refused_logins names
// them).
func openGeneric(t *testing.T) legacy.Connector {
	conn, _ := openGenericAt(t)
	return conn
}

// openGenericAt is openGeneric, with the demo database file's path.
func openGenericAt(t *testing.T) (legacy.Connector, string) {
	t.Helper()
	return openGenericWith(t, nil, slog.New(slog.DiscardHandler))
}

// openGenericWith is openGenericAt with the connector's configuration changed by edit (nil:
// none) and its log written to log.
func openGenericWith(t *testing.T, edit func(*sqldir.Config), log *slog.Logger) (legacy.Connector, string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ams.db")
	db, err := demo.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := demo.SQLConfig()
	c.DSN, c.Preset, c.Queries = path, "", imis.PresetIMISSQLite()
	c.RefusedLogins = imis.DefaultRefusedLogins()
	if edit != nil {
		edit(&c)
	}
	g := sqldir.Generic{Config: c}
	if err := g.Validate(); err != nil {
		t.Fatal(err)
	}
	conn, err := g.Open(ctx, legacy.OpenOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, path
}

// The sql connector type (no preset, every query from legacy.queries) passes the directory
// contract on the demo data (openGeneric).
func TestGenericConnectorConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		conn, path := openGenericAt(t)
		tg := &directorytest.Target{Dir: conn.Directory(), Expiry: directorytest.DemoFileExpiry(path)}
		tg.Members, tg.Refused = directorytest.DemoAccounts()
		return tg
	})
}

// The diagnosis of a directory without presets speaks of the AMS, not of iMIS: its two clocks
// follow the column contract's rule.
func TestGenericDiagnosisNamesNoAMS(t *testing.T) {
	ctx := context.Background()
	conn := openGeneric(t)
	var out strings.Builder
	if err := conn.(legacy.Diagnoser).Diagnose(ctx, "alice", &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"AMS app time:", "(columns ending in _utc are read in UTC)", "; every other date column)"} {
		if !strings.Contains(text, want) {
			t.Errorf("diagnosis lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "iMIS") {
		t.Errorf("the generic diagnosis names iMIS:\n%s", text)
	}
}
