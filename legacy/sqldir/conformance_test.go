package sqldir_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/password"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// lastFake and lastDB are the fake server and handle of the latest tdsDemoTarget (tests that
// need to change the data or watch requests).
var (
	lastFake *tdsfake.Server
	lastDB   *sql.DB
)

// tdsDemoTarget is the demo database copied into the fake TDS server, read by the SQL Server
// preset through go-mssqldb.
func tdsDemoTarget(t *testing.T, wrap func(*sqldir.Directory) *directorytest.Target) *directorytest.Target {
	return tdsDemoTargetWith(t, tdsfake.Config{}, nil, wrap)
}

// tdsDemoTargetWith is tdsDemoTarget with the fake server's configuration and a change to the
// directory's (nil: none).
func tdsDemoTargetWith(t *testing.T, fake tdsfake.Config, tune func(*sqldir.Config), wrap func(*sqldir.Directory) *directorytest.Target) *directorytest.Target {
	ctx := context.Background()
	src, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv, err := tdsfake.Start(fake)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	copySQLite(t, ctx, src, srv)
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := demo.SQLConfig()
	cfg.Driver, cfg.Preset = sqldir.DriverSQLServer, imis.PresetNameIMIS
	if tune != nil {
		tune(&cfg)
	}
	cv := &countingVerifier{next: password.Default()}
	d, err := sqldir.New(db, cfg, sqldir.WithVerifier(cv), sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	lastFake, lastDB = srv, db
	tg := wrap(d)
	tg.Members, tg.Refused = directorytest.DemoAccounts()
	// The work is the verifications and the member rows decoded (review s19 X19-5: a wrong
	// password decoded its row, an unknown login none).
	decodes := sqldir.CountDecodes(d)
	tg.Work = func() int64 { return cv.calls.Load() + decodes() }
	tg.SetDown = func(down bool) {
		if !down {
			srv.SetHook(nil)
			return
		}
		srv.SetHook(func(*tdsfake.Request) *tdsfake.Action {
			return &tdsfake.Action{Error: &tdsfake.ServerError{Number: 4060, Message: "Cannot open database \"iMIS\" requested by the login."}}
		})
	}
	tg.Touch = func(ctx context.Context, login string, at time.Time) error {
		return srv.Exec(`UPDATE dbo.UserMain SET UpdatedOn = @p1 WHERE ProviderKey = (SELECT LOWER(CAST(UserId AS nvarchar(100))) FROM dbo.aspnet_Users WHERE LoweredUserName = @p2)`,
			demo.AppTime(at), strings.ToLower(norm.NFC.String(login)))
	}
	tg.Expiry = directorytest.DemoExpiry(func(ctx context.Context, member, admin int) error {
		return srv.Exec(`UPDATE dbo.SystemConfig SET ParameterValue = CASE WHEN ParameterName = N'PCI.PasswordExpireDaysSysAdmin' THEN @p2 ELSE @p1 END
WHERE ParameterName IN (N'PCI.PasswordExpireDays', N'PCI.PasswordExpireDaysSysAdmin')`, fmt.Sprint(member), fmt.Sprint(admin))
	})
	return tg
}

// The SQL Server directory, through go-mssqldb and the fake TDS server, passes the directory
// contract on the demo data.
func TestSQLServerDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		return tdsDemoTarget(t, func(d *sqldir.Directory) *directorytest.Target { return &directorytest.Target{Dir: d} })
	})
}

// The cache decorator over it passes it too (unavailability included).
func TestCachedSQLServerDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		return tdsDemoTarget(t, func(d *sqldir.Directory) *directorytest.Target {
			return &directorytest.Target{Dir: cache.New(d, cache.Options{})}
		})
	})
}
