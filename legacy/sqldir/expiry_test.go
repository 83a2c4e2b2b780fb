package sqldir_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

const expiryDay = 24 * time.Hour

// expiryDemo is the demo database (its SystemConfig says PCI.PasswordExpireDays 365 and
// PCI.PasswordExpireDaysSysAdmin 0) under a directory with cfg changed by edit, on a clock
// the test moves.
func expiryDemo(t *testing.T, edit func(*sqldir.Config)) (*sqldir.Directory, *sql.DB, *movingClock) {
	t.Helper()
	db, err := demo.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cfg := demo.SQLConfig()
	if edit != nil {
		edit(&cfg)
	}
	clk := &movingClock{t: time.Now()}
	d, err := sqldir.New(db, cfg, sqldir.WithClock(clk.now), sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	return d, db, clk
}

type movingClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movingClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movingClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// setConfig writes one SystemConfig value of the demo database as it is (no check).
func setConfig(t *testing.T, db *sql.DB, name, value string) {
	t.Helper()
	if _, err := db.Exec(`UPDATE SystemConfig SET ParameterValue = ?1 WHERE ParameterName = ?2`, value, name); err != nil {
		t.Fatal(err)
	}
}

// Each maximum age comes from the configuration when set there (zero included: never) and
// from the AMS otherwise; with both configured the AMS is not read at all.
func TestPasswordExpirySources(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name           string
		members, admin *time.Duration
		amsAdmin       string // PCI.PasswordExpireDaysSysAdmin in the AMS
		want           legacy.PasswordExpiry
	}{
		{"both from the AMS", nil, nil, "7", legacy.PasswordExpiry{MaxAge: 365 * expiryDay, SysAdminMaxAge: 7 * expiryDay}},
		{"members configured", new(10 * expiryDay), nil, "7", legacy.PasswordExpiry{MaxAge: 10 * expiryDay, SysAdminMaxAge: 7 * expiryDay}},
		{"system administrators configured never", nil, new(time.Duration(0)), "7", legacy.PasswordExpiry{MaxAge: 365 * expiryDay}},
		{"both configured: the AMS is not read", new(time.Duration(0)), new(3 * expiryDay), "not a number", legacy.PasswordExpiry{SysAdminMaxAge: 3 * expiryDay}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, db, _ := expiryDemo(t, func(c *sqldir.Config) { c.PasswordMaxAge, c.PasswordMaxAgeSysAdmin = tc.members, tc.admin })
			setConfig(t, db, "PCI.PasswordExpireDaysSysAdmin", tc.amsAdmin)
			got, err := d.PasswordExpiry(ctx)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	t.Run("preset none without password_expiry: never", func(t *testing.T) {
		d, _, _ := expiryDemo(t, func(c *sqldir.Config) {
			q := imis.PresetIMISSQLite()
			delete(q, sqldir.QueryPasswordExpiry)
			c.Preset, c.Queries = sqldir.PresetNameNone, q
		})
		if got, err := d.PasswordExpiry(ctx); err != nil || got != (legacy.PasswordExpiry{}) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

// Settings that cannot be read or make no sense fail the sign-in (legacy.ErrUnavailable, the
// message naming the setting) once the password verified: passwords are not checked against a
// guess. A wrong password is still just a wrong password; a blank value is iMIS's default 0.
func TestPasswordExpiryFailsClosed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name, setting, value, want string
	}{
		{"not a number", "PCI.PasswordExpireDaysSysAdmin", "ninety", `PCI.PasswordExpireDaysSysAdmin is "ninety"`},
		{"negative", "PCI.PasswordExpireDays", "-1", `PCI.PasswordExpireDays is "-1"`},
		{"too large", "PCI.PasswordExpireDays", "1000000", `PCI.PasswordExpireDays is "1000000"`},
		{"stored twice, differently", "", "", "PCI.PasswordExpireDays is stored twice with different values (365 and 90 days)"},
		{"blank: never", "PCI.PasswordExpireDaysSysAdmin", " ", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db, _ := expiryDemo(t, nil)
			if tc.setting != "" {
				setConfig(t, db, tc.setting, tc.value)
			} else if _, err := db.Exec(`INSERT INTO SystemConfig (SystemConfigKey, ParameterName, ParameterValue, CreatedOn, UpdatedOn, OrganizationKey)
				VALUES ('6B1D0A40-0000-4000-8000-0000000000FF', 'PCI.PasswordExpireDays', '90', '2020-01-01', '2020-01-01', '6B1D0A40-0000-4000-8000-000000000001')`); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Authenticate(ctx, "alice", "wrong-password-1"); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Fatalf("wrong password: %v", err)
			}
			_, err := d.Authenticate(ctx, "alice", "alice-demo-1")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("sign-in: %v", err)
				}
				return
			}
			if !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, sqldir.ErrContract) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("sign-in: %v, want unavailable naming %q", err, tc.want)
			}
			if _, err := d.PasswordExpiry(ctx); err == nil {
				t.Fatal("PasswordExpiry answers")
			}
		})
	}
}

// The settings are read again every AppClockRefresh, not on every sign-in; a failed read is
// not kept (the next sign-in reads again).
func TestPasswordExpiryRefresh(t *testing.T) {
	ctx := context.Background()
	d, db, clk := expiryDemo(t, nil)
	sign := func() string { _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); return legacy.Reason(err) }
	if got := sign(); got != "ok" {
		t.Fatalf("first sign-in: %s", got)
	}
	setConfig(t, db, "PCI.PasswordExpireDays", "10") // alice's password is 30 days old
	clk.add(sqldir.AppClockRefresh - time.Second)
	if got := sign(); got != "ok" {
		t.Fatalf("before the refresh: %s, want the settings read first (ok)", got)
	}
	clk.add(2 * time.Second)
	if got := sign(); got != "password_expired" {
		t.Fatalf("after the refresh: %s, want password_expired", got)
	}
	setConfig(t, db, "PCI.PasswordExpireDays", "x")
	clk.add(sqldir.AppClockRefresh + time.Second)
	if got := sign(); got != "ams_unavailable" {
		t.Fatalf("unreadable after the refresh: %s", got)
	}
	setConfig(t, db, "PCI.PasswordExpireDays", "0")
	if got := sign(); got != "ok" {
		t.Fatalf("readable again: %s, want the settings read again (ok)", got)
	}
}

// holdFirstExpiry is a query observer that holds the first password_expiry read (after the
// query ran, before its result is kept) until release is closed, and counts those reads.
type holdFirstExpiry struct {
	mu       sync.Mutex
	n        int
	started  chan struct{}
	release  chan struct{}
	releaser sync.Once
}

func (h *holdFirstExpiry) ObserveQuery(name string, _ time.Duration, _ error) {
	if name != sqldir.QueryPasswordExpiry {
		return
	}
	h.mu.Lock()
	h.n++
	first := h.n == 1
	h.mu.Unlock()
	if first {
		close(h.started)
		<-h.release
	}
}

// TestPasswordExpiryFirstReadShared (end-of-session review s12 RV3): before the settings were
// ever read, concurrent sign-ins share one read of them (as the application clock's callers
// do) instead of each running its own query against the AMS.
func TestPasswordExpiryFirstReadShared(t *testing.T) {
	h := &holdFirstExpiry{started: make(chan struct{}), release: make(chan struct{})}
	db, err := demo.Open(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	d, err := sqldir.New(db, demo.SQLConfig(), sqldir.WithQueryObserver(h), sqldir.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	const callers = 8
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	call := func() {
		defer wg.Done()
		if _, err := d.PasswordExpiry(context.Background()); err != nil {
			errs <- err
		}
	}
	wg.Add(1)
	go call()
	<-h.started
	wg.Add(callers - 1)
	for range callers - 1 {
		go call()
	}
	time.Sleep(50 * time.Millisecond) // the others reach the read under way (or, later, find its result kept)
	close(h.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if h.n != 1 {
		t.Fatalf("%d password_expiry reads for %d concurrent first callers, want 1 shared", h.n, callers)
	}
}
