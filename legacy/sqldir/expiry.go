package sqldir

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
	"golang.org/x/sync/singleflight"
)

// Who a password_expiry row applies to (its applies_to column).
const (
	expiryMembers   = "members"   // every user who is not a system administrator
	expirySysAdmins = "sysadmins" // system administrators (is_sysadmin)
)

// maxExpiryDays bounds a password expiry setting (a larger one overflows a time.Duration).
const maxExpiryDays = 100_000

// expiryCache is the AMS's password expiry settings as last read (query password_expiry).
type expiryCache struct {
	mu         sync.Mutex
	at         time.Time // when they were read; zero: never
	value      legacy.PasswordExpiry
	refreshing bool // a re-read is under way: the other callers keep using value meanwhile
	// read is the read under way, shared by the callers that wait for it (the first read's,
	// and a re-read's refresher), detached from their contexts (the query timeout bounds it).
	read singleflight.Group
}

// PasswordExpiry returns the maximum password ages the directory applies: the configured ones
// (password_max_age, password_max_age_sysadmin), and for each one not configured the AMS's own
// setting (query password_expiry), read at most every AppClockRefresh. Without that query an
// unconfigured age is zero (never). It fails (legacy.ErrUnavailable) when the settings are
// needed and cannot be read, or do not follow the contract: passwords are then not checked
// against a guess.
func (d *Directory) PasswordExpiry(ctx context.Context) (legacy.PasswordExpiry, error) {
	p, _, err := d.passwordExpiry(ctx)
	return p, err
}

// passwordExpiry is PasswordExpiry, and whether any of it was read from the AMS.
func (d *Directory) passwordExpiry(ctx context.Context) (legacy.PasswordExpiry, bool, error) {
	members, admins := d.cfg.PasswordMaxAge, d.cfg.PasswordMaxAgeSysAdmin
	_, hasQuery := d.queries[QueryPasswordExpiry]
	var ams legacy.PasswordExpiry
	if hasQuery && (members == nil || admins == nil) {
		var err error
		if ams, err = d.amsPasswordExpiry(ctx); err != nil {
			return legacy.PasswordExpiry{}, true, err
		}
	}
	if members != nil {
		ams.MaxAge = *members
	}
	if admins != nil {
		ams.SysAdminMaxAge = *admins
	}
	return ams, hasQuery && (members == nil || admins == nil), nil
}

// amsPasswordExpiry returns the AMS's settings, read again when older than AppClockRefresh.
// While one caller (the refresher) reads them again the others use the previous ones, so no
// caller waits for another's re-read (with an AMS that does not answer, sign-ins do not queue);
// a re-read that fails fails its refresher's sign-in (fail closed) and the next caller reads
// again. Before the first read succeeded, the callers share one read (as the application
// clock's are: appOffset), each waiting no longer than its own context.
func (d *Directory) amsPasswordExpiry(ctx context.Context) (legacy.PasswordExpiry, error) {
	c := &d.expiry
	c.mu.Lock()
	now := d.now()
	known := !c.at.IsZero()
	if age := now.Sub(c.at); known && ((age < AppClockRefresh && age >= 0) || c.refreshing) {
		v := c.value
		c.mu.Unlock()
		return v, nil
	}
	c.refreshing = known
	c.mu.Unlock()
	ch := c.read.DoChan("", func() (any, error) {
		v, err := d.queryPasswordExpiry(context.WithoutCancel(ctx))
		c.mu.Lock()
		defer c.mu.Unlock()
		c.refreshing = false
		if err == nil {
			c.at, c.value = now, v
		}
		return v, err
	})
	select {
	case r := <-ch:
		v, _ := r.Val.(legacy.PasswordExpiry)
		return v, r.Err
	case <-ctx.Done():
		return legacy.PasswordExpiry{}, legacy.Unavailable(QueryPasswordExpiry, ctx.Err())
	}
}

// queryPasswordExpiry runs QueryPasswordExpiry.
func (d *Directory) queryPasswordExpiry(ctx context.Context) (legacy.PasswordExpiry, error) {
	rs, err := d.run(ctx, QueryPasswordExpiry, 64)
	if err != nil {
		return legacy.PasswordExpiry{}, err
	}
	for _, c := range []string{"applies_to", "days"} {
		if _, ok := rs.cols[c]; !ok && len(rs.rows) > 0 {
			return legacy.PasswordExpiry{}, contractErr(QueryPasswordExpiry, "no column named %s", c)
		}
	}
	var p legacy.PasswordExpiry
	seen := map[string]bool{}
	for _, row := range rs.rows {
		to, err := asString(row[rs.cols["applies_to"]])
		if err != nil {
			return p, contractErr(QueryPasswordExpiry, "applies_to: %v", err)
		}
		to = strings.ToLower(strings.TrimSpace(to))
		setting := to
		if i, ok := rs.cols["setting"]; ok {
			if s, _ := asString(row[i]); strings.TrimSpace(s) != "" {
				setting = strings.TrimSpace(s)
			}
		}
		if to != expiryMembers && to != expirySysAdmins {
			return p, contractErr(QueryPasswordExpiry, "%s: applies_to %q is neither %s nor %s", setting, to, expiryMembers, expirySysAdmins)
		}
		raw, err := asString(row[rs.cols["days"]])
		if err != nil {
			return p, contractErr(QueryPasswordExpiry, "%s: days: %v", setting, err)
		}
		raw = strings.TrimSpace(raw)
		days := 0
		if raw != "" {
			days, err = strconv.Atoi(raw)
			if err != nil || days < 0 || days > maxExpiryDays {
				return p, contractErr(QueryPasswordExpiry, "%s is %q, not a whole number of days from 0 to %d", setting, raw, maxExpiryDays)
			}
		}
		age := time.Duration(days) * 24 * time.Hour
		cur := &p.MaxAge
		if to == expirySysAdmins {
			cur = &p.SysAdminMaxAge
		}
		if seen[to] && *cur != age {
			return p, contractErr(QueryPasswordExpiry, "%s is stored twice with different values (%d and %d days)", setting,
				int(*cur/(24*time.Hour)), days)
		}
		seen[to], *cur = true, age
	}
	return p, nil
}

// describeExpiry renders one maximum password age for people.
func describeExpiry(age time.Duration) string {
	if age <= 0 {
		return "never"
	}
	return fmt.Sprintf("%.4g days", age.Hours()/24)
}
