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
	off, err := d.appOffset(ctx)
	if err != nil {
		return Clock{}, err
	}
	d.clockMu.Lock()
	src := "SystemConfig"
	switch {
	case d.fixedClock:
		src = "app_time_offset"
	case !d.clockKnown:
		src = "timezone " + d.loc.String()
	}
	d.clockMu.Unlock()
	now := d.now()
	return Clock{OffsetMinutes: off, Source: src, UTC: now.UTC(), App: now.In(appZone(off))}, nil
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
//
// When the offset is due to be read again, one read is made for every caller that needs it
// (clockRead), without holding the clock lock, and each caller waits for it no longer than its
// own context: with an AMS that does not answer, requests do not queue behind one another
// (before, the read held the lock, so the k-th sign-in waited k query timeouts).
func (d *Directory) appOffset(ctx context.Context) (int, error) {
	if off, ok := d.knownOffset(); ok {
		return off, nil
	}
	ch := d.clockRead.DoChan("", func() (any, error) {
		// A read that ended after this caller looked has made the offset known.
		if off, ok := d.knownOffset(); ok {
			return off, nil
		}
		// Detached from this caller's cancellation (the query timeout bounds it): the callers
		// that share the read do not see one caller's cancellation as the AMS's answer.
		return d.readClock(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		off, _ := r.Val.(int)
		return off, r.Err
	case <-ctx.Done():
		return 0, legacy.Unavailable(QueryAppClock, ctx.Err())
	}
}

// knownOffset is the offset when no read is due (ok): fixed by app_time_offset, read from the
// AMS less than AppClockRefresh ago, or not kept there (no QueryAppClock: the server zone's).
func (d *Directory) knownOffset() (int, bool) {
	d.clockMu.Lock()
	defer d.clockMu.Unlock()
	now := d.now()
	if age := now.Sub(d.clockAt); !d.fixedClock && (d.clockAt.IsZero() || age < 0 || age >= AppClockRefresh) {
		if _, ok := d.queries[QueryAppClock]; ok {
			return 0, false // due to be read
		}
		d.clockAt, d.clockKnown = now, false
	}
	if !d.clockKnown {
		return zoneOffset(now, d.loc), true
	}
	return d.clockOff, true
}

// readClock reads the application clock's offset and, when it succeeds, keeps it as of the
// start of the read.
func (d *Directory) readClock(ctx context.Context) (int, error) {
	at := d.now()
	off, known, err := d.queryAppClock(ctx)
	if err != nil {
		return 0, err
	}
	d.clockMu.Lock()
	d.clockAt, d.clockKnown = at, known
	if known {
		d.clockOff = off
	}
	d.clockMu.Unlock()
	if !known {
		return zoneOffset(at, d.loc), nil
	}
	return off, nil
}

// queryAppClock runs QueryAppClock: the offset, and whether the AMS stores one.
func (d *Directory) queryAppClock(ctx context.Context) (int, bool, error) {
	rs, err := d.run(ctx, QueryAppClock, 2)
	if err != nil {
		return 0, false, err
	}
	if len(rs.rows) == 0 {
		return 0, false, nil
	}
	i, ok := rs.cols["offset_minutes"]
	if !ok {
		return 0, false, contractErr(QueryAppClock, "no column named offset_minutes")
	}
	n, null, err := asInt(rs.rows[0][i])
	switch {
	case err != nil:
		return 0, false, contractErr(QueryAppClock, "offset_minutes: %v", err)
	case null:
		return 0, false, nil
	case n < -14*60 || n > 14*60:
		return 0, false, legacy.Unavailable(QueryAppClock, fmt.Errorf("%w: offset %d minutes is more than 14 hours", ErrContract, n))
	}
	return int(n), true, nil
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
