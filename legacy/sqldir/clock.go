package sqldir

import (
	"context"
	"fmt"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// AppClockRefresh is how often the directory re-reads the AMS's application clock offset.
const AppClockRefresh = 10 * time.Minute

// Clock describes the AMS's two clocks as the directory reads them.
type Clock struct {
	// OffsetMinutes is the application clock's offset east of UTC: application time = UTC +
	// offset (iMIS SystemConfig System.Database.TimeZoneOffset).
	OffsetMinutes int
	// Source says where the offset comes from: "app_time_offset" (configured), "SystemConfig"
	// (read from the AMS), or "timezone <zone>" (the AMS stores none: the server zone's
	// current offset, as iMIS's asi_GetAppDatetime falls back to).
	Source string
	// UTC is now; App is now in application time.
	UTC, App time.Time
}

// Clock returns the AMS's clocks now, reading the offset from the AMS if due.
func (d *Directory) Clock(ctx context.Context) (Clock, error) {
	off, src, err := d.appClock(ctx)
	if err != nil {
		return Clock{}, err
	}
	source := "SystemConfig"
	switch src {
	case clockFixed:
		source = "app_time_offset"
	case clockZone:
		source = "timezone " + d.loc.String()
	}
	now := d.now()
	return Clock{OffsetMinutes: off, Source: source, UTC: now.UTC(), App: now.In(appZone(off))}, nil
}

// DatabaseNow reads the AMS database's own clock (legacy.ClockReader) with QueryDBClock: its
// column now_utc (UTC), or now (the application clock, converted to UTC with the offset that
// changed_since's times are converted with, so that the two are in one frame).
// legacy.ErrNoClock when the query is not configured.
func (d *Directory) DatabaseNow(ctx context.Context) (time.Time, error) {
	if _, ok := d.queries[QueryDBClock]; !ok {
		return time.Time{}, legacy.ErrNoClock
	}
	rs, err := d.run(ctx, QueryDBClock, 2)
	if err != nil {
		return time.Time{}, err
	}
	if len(rs.rows) != 1 {
		return time.Time{}, contractErr(QueryDBClock, "want one row, got %d", len(rs.rows))
	}
	loc := time.UTC
	i, ok := rs.cols["now"+utcSuffix]
	if !ok {
		if i, ok = rs.cols["now"]; !ok {
			return time.Time{}, contractErr(QueryDBClock, "no column named now_utc or now")
		}
		off, err := d.appOffset(ctx)
		if err != nil {
			return time.Time{}, err
		}
		loc = appZone(off)
	}
	t, err := asTime(rs.rows[0][i], loc)
	if err != nil || t.IsZero() {
		return time.Time{}, contractErr(QueryDBClock, "no time read: %v", err)
	}
	return t.UTC(), nil
}

// appZone is the fixed zone of an application clock offset.
func appZone(off int) *time.Location {
	sign, m := '+', off
	if m < 0 {
		sign, m = '-', -m
	}
	return time.FixedZone(fmt.Sprintf("app%c%02d:%02d", sign, m/60, m%60), off*60)
}

// appOffset returns the application clock's offset in minutes east of UTC.
func (d *Directory) appOffset(ctx context.Context) (int, error) {
	off, _, err := d.appClock(ctx)
	return off, err
}

// Where the application clock's offset comes from (Clock.Source).
const (
	clockAMS   = iota // read from the AMS (QueryAppClock), kept by the policy of amsRead
	clockFixed        // app_time_offset
	clockZone         // the AMS stores none (or the query is not configured): the server zone's current offset
)

// appClock is the application clock's offset, minutes east of UTC, and where it comes from.
func (d *Directory) appClock(ctx context.Context) (int, int, error) {
	if d.fixedClock {
		return d.fixedOff, clockFixed, nil
	}
	if _, ok := d.queries[QueryAppClock]; ok {
		v, err := d.clock.get(ctx, d.now, d.queryAppClock)
		if err != nil {
			return 0, 0, err
		}
		if v.known {
			return v.off, clockAMS, nil
		}
	}
	return zoneOffset(d.now(), d.loc), clockZone, nil
}

// appClockRead is what QueryAppClock read: the offset, and whether the AMS stores one.
type appClockRead struct {
	off   int
	known bool
}

// queryAppClock runs QueryAppClock: the offset, and whether the AMS stores one.
func (d *Directory) queryAppClock(ctx context.Context) (appClockRead, error) {
	rs, err := d.run(ctx, QueryAppClock, 2)
	if err != nil {
		return appClockRead{}, err
	}
	if len(rs.rows) == 0 {
		return appClockRead{}, nil
	}
	i, ok := rs.cols["offset_minutes"]
	if !ok {
		return appClockRead{}, contractErr(QueryAppClock, "no column named offset_minutes")
	}
	n, null, err := asInt(rs.rows[0][i])
	switch {
	case err != nil:
		return appClockRead{}, contractErr(QueryAppClock, "offset_minutes: %v", err)
	case null:
		return appClockRead{}, nil
	case n < -14*60 || n > 14*60:
		return appClockRead{}, legacy.Unavailable(QueryAppClock, fmt.Errorf("%w: offset %d minutes is more than 14 hours", ErrContract, n))
	}
	return appClockRead{off: int(n), known: true}, nil
}

func zoneOffset(t time.Time, loc *time.Location) int {
	_, off := t.In(loc).Zone()
	return off / 60
}

// appClockZone is the zone of an application clock offset.
type appClockZone struct {
	off int
	loc *time.Location
}

// appLocation is the application clock as a fixed zone: application-time columns are read in
// it. The zone is made once per offset, not on every query.
func (d *Directory) appLocation(ctx context.Context) (*time.Location, error) {
	off, err := d.appOffset(ctx)
	if err != nil {
		return nil, err
	}
	if z := d.zone.Load(); z != nil && z.off == off {
		return z.loc, nil
	}
	z := &appClockZone{off: off, loc: appZone(off)}
	d.zone.Store(z)
	return z.loc, nil
}

// appNow is now in application time.
func (d *Directory) appNow(ctx context.Context) (time.Time, error) {
	loc, err := d.appLocation(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return d.now().In(loc), nil
}
