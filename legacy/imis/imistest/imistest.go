package imistest

import (
	"fmt"

	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
)

// AMS is a fake iMIS database server.
type AMS struct {
	srv *tdsfake.Server
}

// Start starts the server on an ephemeral 127.0.0.1 port with the iMIS application row the
// ping query counts.
func Start() (*AMS, error) {
	srv, err := tdsfake.Start(tdsfake.Config{User: "ssobridge", Password: "read-only!", Database: "iMIS"})
	if err != nil {
		return nil, fmt.Errorf("imistest: %w", err)
	}
	for _, q := range []string{
		`CREATE TABLE [dbo].[aspnet_Applications] ([ApplicationName] nvarchar(256) NOT NULL,
			[LoweredApplicationName] nvarchar(256) NOT NULL, [ApplicationId] uniqueidentifier NOT NULL PRIMARY KEY,
			[Description] nvarchar(256) NULL)`,
		`INSERT INTO [dbo].[aspnet_Applications] (ApplicationName, LoweredApplicationName, ApplicationId, Description)
			VALUES (N'iMIS', N'imis', '0F8FAD5B-D9CB-469F-A165-70867728950E', NULL)`,
	} {
		if err := srv.Exec(q); err != nil {
			srv.Close()
			return nil, fmt.Errorf("imistest: %w", err)
		}
	}
	return &AMS{srv: srv}, nil
}

// DSN is the go-mssqldb URL of the database (encrypt=disable), with extra parameters such as
// "dial timeout=1".
func (a *AMS) DSN(extra ...string) string { return a.srv.DSN(extra...) }

// Stop makes the AMS unreachable: new connections are refused and open ones are dropped.
func (a *AMS) Stop() {
	a.srv.Refuse()
	a.srv.DropConnections()
}

// Resume makes the AMS reachable again on the same address.
func (a *AMS) Resume() error { return a.srv.Resume() }

// SetReadCommittedSnapshot turns the database's READ_COMMITTED_SNAPSHOT on or off (off as SQL
// Server creates databases), as ALTER DATABASE does: sys.databases shows it.
func (a *AMS) SetReadCommittedSnapshot(on bool) error { return a.srv.SetReadCommittedSnapshot(on) }

// Close stops the server for good.
func (a *AMS) Close() error { return a.srv.Close() }
