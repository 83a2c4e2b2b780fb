package sqldir_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// appWall renders an instant in an application clock of off minutes east of UTC.
func appWall(t time.Time, off int) string {
	return t.UTC().Add(time.Duration(off) * time.Minute).Format("2006-01-02T15:04:05")
}

func utcText(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05") }

// Through go-mssqldb and the fake TDS server: iMIS's own dates are read in the application
// clock (UTC + the SystemConfig offset), aspnet dates in UTC, whatever the offset, west or east
// of UTC. With one clock for every column (before issue 12), password_max_age and the account
// window were off by the offset.
func TestTwoClocksWestAndEast(t *testing.T) {
	tg := startFake(t)
	srv := tg.fake
	ctx := testCtx(t)
	now := time.Date(2025, 1, 15, 18, 0, 0, 0, time.UTC)
	exec := func(q string, args ...any) {
		t.Helper()
		if err := srv.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, off := range []int{-360, -300, 0, 60, 330, 600} {
		t.Run(fmt.Sprintf("offset %+d min", off), func(t *testing.T) {
			exec(`UPDATE dbo.SystemConfig SET ParameterValue = @p1 WHERE ParameterName = N'System.Database.TimeZoneOffset'`, fmt.Sprint(off))
			d, err := sqldir.New(tg.db, tdsConfig(), sqldir.WithClock(func() time.Time { return now }))
			if err != nil {
				t.Fatal(err)
			}
			clk, err := d.Clock(ctx)
			if err != nil || clk.OffsetMinutes != off || clk.Source != "SystemConfig" || !clk.App.Equal(now) {
				t.Fatalf("Clock = %+v, %v", clk, err)
			}
			if _, o := clk.App.Zone(); o != off*60 {
				t.Fatalf("app clock zone offset %d", o)
			}
			set := func(effective, expiration time.Time, pwChanged time.Time) {
				exec(`UPDATE dbo.UserMain SET EffectiveDate = @p1, ExpirationDate = @p2 WHERE UserKey = @p3`,
					appWall(effective, off), appWall(expiration, off), knownKey)
				exec(`UPDATE dbo.aspnet_Membership SET LastPasswordChangedDate = @p1 WHERE UserId = (SELECT au.UserId FROM dbo.aspnet_Users AS au WHERE au.LoweredUserName = N'jdoe')`,
					utcText(pwChanged))
			}
			for _, c := range []struct {
				name         string
				eff, exp, pw time.Time
				want         error
			}{
				{"inside the window, password young enough", now.Add(-time.Minute), now.Add(time.Minute), now.Add(-passwordAge + time.Minute), nil},
				{"expired a minute ago", now.Add(-time.Hour), now.Add(-time.Minute), now.Add(-time.Hour), legacy.ErrAccountExpired},
				{"effective in a minute", now.Add(time.Minute), now.Add(time.Hour), now.Add(-time.Hour), legacy.ErrAccountExpired},
				{"password a minute too old", now.Add(-time.Hour), now.Add(time.Hour), now.Add(-passwordAge - time.Minute), legacy.ErrPasswordExpired},
			} {
				set(c.eff, c.exp, c.pw)
				d, _ := sqldir.New(tg.db, tdsConfig(), sqldir.WithClock(func() time.Time { return now }))
				m, err := d.Authenticate(ctx, "jdoe", goodPass)
				if !errors.Is(err, c.want) || (c.want == nil && err != nil) {
					t.Errorf("%s: %v, want %v", c.name, err, c.want)
					continue
				}
				if err == nil && (!m.Standing.ExpirationDate.Equal(c.exp) || !m.Standing.PasswordChangedAt.Equal(c.pw)) {
					t.Errorf("%s: expiration %v (want %v), password changed %v (want %v)", c.name,
						m.Standing.ExpirationDate, c.exp, m.Standing.PasswordChangedAt, c.pw)
				}
			}
		})
	}
	// A fixed app_time_offset wins over SystemConfig.
	cfg := tdsConfig()
	cfg.AppTimeOffset = "+05:30"
	d, err := sqldir.New(tg.db, cfg, sqldir.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	if clk, _ := d.Clock(ctx); clk.OffsetMinutes != 330 || clk.Source != "app_time_offset" {
		t.Fatalf("fixed offset: %+v", clk)
	}
}

// The application clock is a fixed offset: across a daylight-saving change of the configured
// zone it does not move while SystemConfig holds an offset. Without the row, the zone's current
// offset is used (what iMIS's asi_GetAppDatetime falls back to), re-read every AppClockRefresh,
// so it follows the change.
func TestAppClockAcrossDaylightSaving(t *testing.T) {
	tg := startFake(t)
	ctx := testCtx(t)
	// America/Chicago switches from CST (-06:00) to CDT (-05:00) at 2025-03-09 08:00 UTC.
	before := time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC)
	after := before.Add(2 * time.Hour)
	clock := before
	d, err := sqldir.New(tg.db, tdsConfig(), sqldir.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{before, after, after.Add(sqldir.AppClockRefresh + time.Minute)} {
		clock = at
		if clk, err := d.Clock(ctx); err != nil || clk.OffsetMinutes != -360 || clk.Source != "SystemConfig" {
			t.Fatalf("at %v: %+v, %v (SystemConfig says -360, whatever daylight saving does)", at, clk, err)
		}
	}
	// jdoe's expiration in application time (-06:00) an hour after "after": valid at "after"
	// (a reader using the zone's new -05:00 would see it expire an hour early).
	if err := tg.fake.Exec(`UPDATE dbo.UserMain SET ExpirationDate = @p1, EffectiveDate = @p2 WHERE UserKey = @p3`,
		appWall(after.Add(30*time.Minute), -360), appWall(before.Add(-time.Hour), -360), knownKey); err != nil {
		t.Fatal(err)
	}
	if err := tg.fake.Exec(`UPDATE dbo.aspnet_Membership SET LastPasswordChangedDate = @p1`, utcText(before)); err != nil {
		t.Fatal(err)
	}
	clock = after
	if _, err := d.Authenticate(ctx, "jdoe", goodPass); err != nil {
		t.Fatalf("after the DST change: %v", err)
	}

	if err := tg.fake.Exec(`DELETE FROM dbo.SystemConfig WHERE ParameterName = N'System.Database.TimeZoneOffset'`); err != nil {
		t.Fatal(err)
	}
	clock = before
	d, err = sqldir.New(tg.db, tdsConfig(), sqldir.WithClock(func() time.Time { return clock }))
	if err != nil {
		t.Fatal(err)
	}
	if clk, _ := d.Clock(ctx); clk.OffsetMinutes != -360 || clk.Source != "timezone America/Chicago" {
		t.Fatalf("fallback before the change: %+v", clk)
	}
	clock = after
	if clk, _ := d.Clock(ctx); clk.OffsetMinutes != -300 {
		t.Fatalf("fallback after the change: %+v (want the zone's current -300)", clk)
	}
}

// The change watermark is UTC. West of UTC, a password change (aspnet, UTC) must not push the
// watermark past other members' later changes in application time: with one clock for both
// (before issue 12) the password change read six hours late, and a change made in between was
// skipped for good. East of UTC, the reverse mistake re-read changes.
func TestChangeWatermarkIsUTC(t *testing.T) {
	for _, off := range []int{-360, 330} {
		t.Run(fmt.Sprintf("offset %+d min", off), func(t *testing.T) {
			tg := startFake(t)
			ctx := testCtx(t)
			if err := tg.fake.Exec(`UPDATE dbo.SystemConfig SET ParameterValue = @p1 WHERE ParameterName = N'System.Database.TimeZoneOffset'`, fmt.Sprint(off)); err != nil {
				t.Fatal(err)
			}
			now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
			d, _ := sqldir.New(tg.db, tdsConfig(), sqldir.WithClock(func() time.Time { return now }))
			start := now.Add(-time.Minute)
			// jdoe changes the password at now (UTC column).
			if err := tg.fake.Exec(`UPDATE dbo.aspnet_Membership SET LastPasswordChangedDate = @p1 WHERE UserId = (SELECT UserId FROM dbo.aspnet_Users WHERE LoweredUserName = N'jdoe')`, utcText(now)); err != nil {
				t.Fatal(err)
			}
			ms, next, err := d.ChangedSince(ctx, start, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 1 || ms[0].Login != "jdoe" || !next.Equal(now) || !ms[0].UpdatedAt.Equal(now) {
				t.Fatalf("after the password change: %d members, next %v (want jdoe at %v)", len(ms), next, now)
			}
			// An hour later, admin's record changes (UserMain.UpdatedOn, application time).
			later := now.Add(time.Hour)
			if err := tg.fake.Exec(`UPDATE dbo.UserMain SET UpdatedOn = @p1 WHERE UserId = N'ADMIN'`, appWall(later, off)); err != nil {
				t.Fatal(err)
			}
			ms, next2, err := d.ChangedSince(ctx, next, 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != 1 || ms[0].Login != "admin" || !next2.Equal(later) {
				t.Fatalf("after admin's change: %d members (%v), next %v; want admin at %v", len(ms), ms, next2, later)
			}
			if ms, _, _ := d.ChangedSince(ctx, next2, 100); len(ms) != 0 {
				t.Fatalf("changes re-read after the watermark: %d", len(ms))
			}
		})
	}
}
