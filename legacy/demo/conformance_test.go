package demo_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/password"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

type countingVerifier struct {
	next  *password.Verifier
	calls atomic.Int64
}

func (c *countingVerifier) Verify(format int, stored, salt, pw string) (bool, error) {
	c.calls.Add(1)
	return c.next.Verify(format, stored, salt, pw)
}

func demoTarget(t *testing.T, wrap func(*sqldir.Directory) *directorytest.Target) *directorytest.Target {
	cv := &countingVerifier{next: password.Default()}
	d, db, err := demo.OpenDirectory(context.Background(), "", sqldir.WithVerifier(cv), sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	tg := wrap(d)
	tg.Members, tg.Refused = directorytest.DemoAccounts()
	tg.Work = cv.calls.Load
	tg.Touch = func(ctx context.Context, login string, at time.Time) error {
		return demo.SetUpdatedAt(ctx, db, login, at)
	}
	tg.Expiry = directorytest.DemoExpiry(func(ctx context.Context, member, admin int) error {
		return demo.SetPasswordExpiry(ctx, db, member, admin)
	})
	return tg
}

// The demo directory (sqldir over the SQLite demo database) passes the directory contract.
func TestDemoDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		return demoTarget(t, func(d *sqldir.Directory) *directorytest.Target { return &directorytest.Target{Dir: d} })
	})
}

// The cache decorator over the demo directory passes it too.
func TestCachedDemoDirectoryConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		return demoTarget(t, func(d *sqldir.Directory) *directorytest.Target {
			return &directorytest.Target{Dir: cache.New(d, cache.Options{})}
		})
	})
}
