package sqldir_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// reconcileMembers is the size of the AMS the reconcile benchmark lists.
const reconcileMembers = 100_000

// loadManyMembers adds n members (keys ...-3000-..., logins m000000...) to the fixture in
// multi-row inserts; every tenth has a UserRole row (Member), the rest get their roles from
// the member type, as most members of a real iMIS do.
func loadManyMembers(b *testing.B, exec func(q string, args ...any) error, n int) {
	b.Helper()
	const chunk = 500
	created := wall(tdsNow.Add(-2 * 365 * 24 * time.Hour)).(string)
	pw := utcWall(tdsNow.Add(-24 * time.Hour)).(string)
	paid := wall(time.Date(2025, 12, 31, 0, 0, 0, 0, amsZone)).(string)
	for start := 0; start < n; start += chunk {
		var users, members, mains, contacts, names, roles []string
		for i := start; i < min(start+chunk, n); i++ {
			key := fmt.Sprintf("%08X-3000-4000-8000-%012X", i, i)
			aspnet := fmt.Sprintf("%08X-4000-4000-8000-%012X", i, i)
			login := fmt.Sprintf("m%06d", i)
			id := fmt.Sprint(200000 + i)
			users = append(users, fmt.Sprintf("('%s', '%s', N'%s', N'%s', 0, '%s')", appID, aspnet, login, login, created))
			members = append(members, fmt.Sprintf("('%s', '%s', N'x', 1, N'c2FsdA==', N'%s@example.org', N'%s@example.org', 1, 0, '%s', '1754-01-01T00:00:00', '%s', '1754-01-01T00:00:00', 0)",
				appID, aspnet, login, login, created, pw))
			mains = append(mains, fmt.Sprintf("('%s', '%s', '%s', 0, '%s', NULL, '%s', '%s', N'%s')",
				key, id, strings.ToUpper(login), created, created, created, strings.ToLower(aspnet)))
			contacts = append(contacts, fmt.Sprintf("('%s', N'A', N'Member %d', '%s', N'%s', '%s')", key, i, id, id, created))
			names = append(names, fmt.Sprintf("('%s', 'M', '', 'A', '', 'Member %d', '', '', 'Member', 'No%d', '', '', '', '', 'A', '%s@example.org', '%s', '%s', '%s')",
				id, i, i, login, created, paid, created))
			if i%10 == 0 {
				roles = append(roles, fmt.Sprintf("('%s', '%s')", key, roleKeys["Member"]))
			}
		}
		for _, q := range []string{
			`INSERT INTO dbo.aspnet_Users (ApplicationId, UserId, UserName, LoweredUserName, IsAnonymous, LastActivityDate) VALUES ` +
				strings.Join(users, ", "),
			`INSERT INTO dbo.aspnet_Membership (ApplicationId, UserId, Password, PasswordFormat, PasswordSalt, Email, LoweredEmail,
				IsApproved, IsLockedOut, CreateDate, LastLoginDate, LastPasswordChangedDate, LastLockoutDate, FailedPasswordAttemptCount) VALUES ` +
				strings.Join(members, ", "),
			`INSERT INTO dbo.UserMain (UserKey, ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, ProviderKey) VALUES ` +
				strings.Join(mains, ", "),
			`INSERT INTO dbo.ContactMain (ContactKey, ContactStatusCode, FullName, SyncContactID, ID, UpdatedOn) VALUES ` +
				strings.Join(contacts, ", "),
			`INSERT INTO dbo.Name (ID, MEMBER_TYPE, CATEGORY, STATUS, CO_ID, FULL_NAME, TITLE, COMPANY, FIRST_NAME, LAST_NAME, CITY,
				STATE_PROVINCE, COUNTRY, CHAPTER, MEMBER_STATUS, EMAIL, JOIN_DATE, PAID_THRU, LAST_UPDATED) VALUES ` +
				strings.Join(names, ", "),
			`INSERT INTO dbo.UserRole (UserKey, RoleKey) VALUES ` + strings.Join(roles, ", "),
		} {
			if err := exec(q); err != nil {
				b.Fatalf("load members: %v", err)
			}
		}
	}
}

// benchConfig is the fixture's configuration with a query timeout for a large AMS on the fake.
func benchConfig() sqldir.Config {
	cfg := tdsConfig()
	cfg.QueryTimeout = time.Minute
	return cfg
}

// BenchmarkListMembers100k is the AMS side of one reconcile pass: paging over 100,000 members
// (and the fixture's) with the iMIS preset, through go-mssqldb against the fake TDS server,
// 500 members per query (the reconcile's default batch). The bridge's side of a pass is
// BenchmarkReconcile100k in bridge/shadow; the rate limit (reconcile_rate) is not applied
// here. One pass takes minutes: run it alone, with -benchtime 1x -timeout 60m.
func BenchmarkListMembers100k(b *testing.B) {
	tg := startFake(b)
	loadManyMembers(b, tg.fake.Exec, reconcileMembers)
	d := newTDSDirectory(b, tg.db, benchConfig())
	ctx := b.Context()
	var listed, queries int
	tg.fake.ResetStats()
	for b.Loop() {
		listed, queries = 0, 0
		after := ""
		for {
			page, err := d.ListMembers(ctx, after, 500)
			if err != nil {
				b.Fatal(err)
			}
			queries++
			if len(page) == 0 {
				break
			}
			listed += len(page)
			after = page[len(page)-1].Key
		}
		if listed < reconcileMembers {
			b.Fatalf("listed %d members, want at least %d", listed, reconcileMembers)
		}
	}
	st := tg.fake.Stats()
	b.ReportMetric(float64(listed), "members/pass")
	b.ReportMetric(float64(queries), "pages/pass")
	b.ReportMetric(float64(st.Requests())/float64(b.N), "requests/pass")
	b.ReportMetric(float64(listed)*float64(b.N)/b.Elapsed().Seconds(), "members/s")
}

// BenchmarkListMembersPage is one listing query of 500 members from the middle of a
// 100,000-member AMS, and the pages' share of the requests (the roles of each member are
// read one member at a time).
func BenchmarkListMembersPage(b *testing.B) {
	tg := startFake(b)
	loadManyMembers(b, tg.fake.Exec, reconcileMembers)
	d := newTDSDirectory(b, tg.db, benchConfig())
	ctx := b.Context()
	after := fmt.Sprintf("%08X-3000-4000-8000-%012X", reconcileMembers/2, reconcileMembers/2)
	tg.fake.ResetStats()
	for b.Loop() {
		page, err := d.ListMembers(ctx, after, 500)
		if err != nil || len(page) != 500 {
			b.Fatalf("page of %d, %v", len(page), err)
		}
	}
	b.ReportMetric(float64(tg.fake.Stats().Requests())/float64(b.N), "requests/page")
}
