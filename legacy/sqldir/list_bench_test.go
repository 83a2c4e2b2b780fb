package sqldir_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// seedMany adds n members (keys, logins, contacts, Name rows, a UserRole each) to the TDS
// fixture with set-based inserts.
func seedMany(b *testing.B, tg *tdsTarget, n int) {
	b.Helper()
	gen := `WITH c(x) AS (SELECT 100 UNION ALL SELECT x + 1 FROM c WHERE x < ` + strconv.Itoa(99+n) + `) `
	for _, q := range []string{
		gen + `INSERT INTO dbo.aspnet_Users (ApplicationId, UserId, UserName, LoweredUserName, IsAnonymous, LastActivityDate)
			SELECT '` + appID + `', printf('%08X-2000-4000-8000-%012X', x, x), 'member' || x, 'member' || x, 0, '2025-01-01 00:00:00.000' FROM c`,
		gen + `INSERT INTO dbo.aspnet_Membership (ApplicationId, UserId, Password, PasswordFormat, PasswordSalt, Email, LoweredEmail,
				IsApproved, IsLockedOut, CreateDate, LastLoginDate, LastPasswordChangedDate, LastLockoutDate, FailedPasswordAttemptCount)
			SELECT '` + appID + `', printf('%08X-2000-4000-8000-%012X', x, x), 'x', 1, 'x', 'm' || x || '@example.org', 'm' || x || '@example.org',
				1, 0, '2024-01-01 00:00:00.000', '1754-01-01 00:00:00.000', '2024-12-01 00:00:00.000', '1754-01-01 00:00:00.000', 0 FROM c`,
		gen + `INSERT INTO dbo.UserMain (UserKey, ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, ProviderKey)
			SELECT printf('%08X-1000-4000-8000-%012X', x, x), 'M' || x, 'MEMBER' || x, 0, '2024-01-01 00:00:00.000', NULL, '2024-06-01 00:00:00.000',
				'2024-01-01 00:00:00.000', lower(printf('%08X-2000-4000-8000-%012X', x, x)) FROM c`,
		gen + `INSERT INTO dbo.ContactMain (ContactKey, ContactStatusCode, FullName, SyncContactID, ID, UpdatedOn)
			SELECT printf('%08X-1000-4000-8000-%012X', x, x), 'A', 'Member ' || x, 'M' || x, 'M' || x, '2024-06-01 00:00:00.000' FROM c`,
		gen + `INSERT INTO dbo.Name (ID, MEMBER_TYPE, CATEGORY, STATUS, CO_ID, FULL_NAME, TITLE, COMPANY, FIRST_NAME, LAST_NAME, CITY,
				STATE_PROVINCE, COUNTRY, CHAPTER, MEMBER_STATUS, EMAIL, JOIN_DATE, PAID_THRU, LAST_UPDATED)
			SELECT 'M' || x, 'M', '', 'A', '', 'Member ' || x, '', '', 'Member', '' || x, '', '', '', '', 'R', 'm' || x || '@example.org',
				'2020-01-01 00:00:00.000', '2026-12-31 00:00:00.000', '2024-06-01 00:00:00.000' FROM c`,
		gen + `INSERT INTO dbo.UserRole (UserKey, RoleKey) SELECT printf('%08X-1000-4000-8000-%012X', x, x), '` + roleKeys["Member"] + `' FROM c`,
	} {
		if err := tg.fake.Exec(q); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
}

// BenchmarkListMembersTDS: one complete listing (the AMS side of a reconcile pass) through
// go-mssqldb and the fake TDS server, in pages of 500, with roles (one roles_in_range query a
// page). SSOBRIDGE_BENCH_MEMBERS sets the number of members (default 10,000; the issue's
// figure is 100,000).
func BenchmarkListMembersTDS(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("SSOBRIDGE_BENCH_MEMBERS")); err == nil && v > 0 {
		n = v
	}
	tg := startFake(b)
	seedMany(b, tg, n)
	cfg := tdsConfig()
	cfg.MemberKey = imis.MemberKeyProvider
	d, err := sqldir.New(tg.db, cfg, sqldir.WithClock(func() time.Time { return tdsNow }))
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ResetTimer()
	for b.Loop() {
		total, after := 0, ""
		for {
			page, err := d.ListMembers(ctx, after, 500)
			if err != nil {
				b.Fatal(err)
			}
			if len(page) == 0 {
				break
			}
			if len(page[0].Roles) == 0 {
				b.Fatalf("member %s without roles", page[0].Login)
			}
			total += len(page)
			after = page[len(page)-1].Key
		}
		if total < n {
			b.Fatalf("listed %d of %d", total, n)
		}
	}
	b.ReportMetric(float64(n), "members")
}
