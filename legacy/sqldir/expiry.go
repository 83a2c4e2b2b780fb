package sqldir

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ssobridge/ssobridge/legacy"
)

// Who a password_expiry row applies to (its applies_to column).
const (
	expiryMembers   = "members"   // every user who is not a system administrator
	expirySysAdmins = "sysadmins" // system administrators (is_sysadmin)
)

// maxExpiryDays bounds a password expiry setting (a larger one overflows a time.Duration).
const maxExpiryDays = 100_000

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

// amsPasswordExpiry returns the AMS's settings, read again when AppClockRefresh old, as the
// application clock's offset is (amsRead: one read shared by the callers that need it, each
// waiting no longer than its own context; a failed read is not kept).
func (d *Directory) amsPasswordExpiry(ctx context.Context) (legacy.PasswordExpiry, error) {
	return d.expiry.get(ctx, d.now, d.queryPasswordExpiry)
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
