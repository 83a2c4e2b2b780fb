package sqldir_test

// End-to-end tests of the directory with the iMIS preset through the real go-mssqldb driver:
// against the fake TDS server (legacy/internal/tdsfake) always, and against a real SQL Server
// when SSOBRIDGE_TEST_MSSQL_DSN names a scratch database (see TestIMISDirectoryRealSQLServer).

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/password"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// The fixture: an iMIS-shaped database in SQL Server types, valid T-SQL for the fake and for
// a real server alike.

var tdsTables = []string{"LegacySecurityLevelRef", "SystemConfig", "Users", "Name_Security_Groups", "Name_Security", "GroupMember", "GroupMain",
	"Member_Types", "UserRole", "RoleMain", "Name", "ContactMain", "ContactStatusRef", "UserMain",
	"aspnet_Membership", "aspnet_Users", "aspnet_Applications"}

var tdsSchema = []string{
	`CREATE TABLE [dbo].[aspnet_Applications] (
	[ApplicationName] nvarchar(256) NOT NULL,
	[LoweredApplicationName] nvarchar(256) NOT NULL,
	[ApplicationId] uniqueidentifier NOT NULL PRIMARY KEY,
	[Description] nvarchar(256) NULL)`,
	`CREATE TABLE [dbo].[aspnet_Users] (
	[ApplicationId] uniqueidentifier NOT NULL,
	[UserId] uniqueidentifier NOT NULL PRIMARY KEY,
	[UserName] nvarchar(256) NOT NULL,
	[LoweredUserName] nvarchar(256) NOT NULL,
	[MobileAlias] nvarchar(16) NULL,
	[IsAnonymous] bit NOT NULL,
	[LastActivityDate] datetime NOT NULL)`,
	`CREATE TABLE [dbo].[aspnet_Membership] (
	[ApplicationId] uniqueidentifier NOT NULL,
	[UserId] uniqueidentifier NOT NULL PRIMARY KEY,
	[Password] nvarchar(128) NOT NULL,
	[PasswordFormat] int NOT NULL,
	[PasswordSalt] nvarchar(128) NOT NULL,
	[Email] nvarchar(256) NULL,
	[LoweredEmail] nvarchar(256) NULL,
	[IsApproved] bit NOT NULL,
	[IsLockedOut] bit NOT NULL,
	[CreateDate] datetime NOT NULL,
	[LastLoginDate] datetime NOT NULL,
	[LastPasswordChangedDate] datetime NOT NULL,
	[LastLockoutDate] datetime NOT NULL,
	[FailedPasswordAttemptCount] int NOT NULL,
	[Comment] ntext NULL)`,
	`CREATE TABLE [dbo].[UserMain] (
	[UserKey] uniqueidentifier NOT NULL PRIMARY KEY,
	[ContactMaster] varchar(50) NULL,
	[UserId] varchar(60) NOT NULL,
	[IsDisabled] bit NOT NULL,
	[EffectiveDate] datetime NOT NULL,
	[ExpirationDate] datetime NULL,
	[UpdatedOn] datetime NOT NULL,
	[CreatedOn] datetime NOT NULL,
	[MarkedForDeleteOn] datetime NULL,
	[ProviderKey] nvarchar(100) NULL,
	[MultiFactorInfo] nvarchar(max) NULL)`,
	`CREATE TABLE [dbo].[ContactStatusRef] (
	[ContactStatusCode] nvarchar(2) NOT NULL PRIMARY KEY,
	[ContactStatusDesc] nvarchar(50) NOT NULL,
	[IsSystem] bit NOT NULL)`,
	`CREATE TABLE [dbo].[ContactMain] (
	[ContactKey] uniqueidentifier NOT NULL PRIMARY KEY,
	[ContactStatusCode] nvarchar(2) NOT NULL,
	[FullName] nvarchar(110) NOT NULL,
	[SyncContactID] varchar(20) NULL,
	[ID] nvarchar(12) NULL,
	[UpdatedOn] datetime NOT NULL,
	[MarkedForDeleteOn] datetime NULL)`,
	`CREATE TABLE [dbo].[Name] (
	[ID] varchar(10) NOT NULL PRIMARY KEY,
	[MEMBER_TYPE] varchar(5) NOT NULL,
	[CATEGORY] varchar(5) NOT NULL,
	[STATUS] varchar(5) NOT NULL,
	[CO_ID] varchar(10) NOT NULL,
	[FULL_NAME] varchar(70) NOT NULL,
	[TITLE] varchar(80) NOT NULL,
	[COMPANY] varchar(80) NOT NULL,
	[FIRST_NAME] varchar(20) NOT NULL,
	[LAST_NAME] varchar(30) NOT NULL,
	[CITY] varchar(40) NOT NULL,
	[STATE_PROVINCE] varchar(15) NOT NULL,
	[COUNTRY] varchar(25) NOT NULL,
	[CHAPTER] varchar(15) NOT NULL,
	[MEMBER_STATUS] varchar(5) NOT NULL,
	[EMAIL] varchar(100) NOT NULL,
	[JOIN_DATE] datetime NULL,
	[PAID_THRU] datetime NULL,
	[LAST_UPDATED] datetime NULL)`,
	`CREATE TABLE [dbo].[RoleMain] (
	[RoleKey] uniqueidentifier NOT NULL PRIMARY KEY,
	[Name] nvarchar(50) NOT NULL,
	[IsSystem] bit NOT NULL,
	[UpdatedOn] datetime NOT NULL,
	[MarkedForDeleteOn] datetime NULL)`,
	`CREATE TABLE [dbo].[UserRole] (
	[UserKey] uniqueidentifier NOT NULL,
	[RoleKey] uniqueidentifier NOT NULL,
	[MarkedForDeleteOn] datetime NULL,
	PRIMARY KEY ([UserKey], [RoleKey]))`,
	// The indexes of iMIS (CreateIndexes.sql) and of the stock aspnet schema that the preset's
	// lookups rely on.
	`CREATE UNIQUE INDEX aspnet_Applications_Index ON dbo.aspnet_Applications (LoweredApplicationName)`,
	`CREATE UNIQUE INDEX aspnet_Users_Index ON dbo.aspnet_Users (ApplicationId, LoweredUserName)`,
	`CREATE INDEX IX_UserMain_ProviderKey ON dbo.UserMain (ProviderKey)`,
	`CREATE INDEX IX_UserMain_UserId ON dbo.UserMain (UserId)`,
	`CREATE INDEX IX_ContactMaster ON dbo.UserMain (ContactMaster)`,
	`CREATE TABLE [dbo].[Member_Types] (
	[MEMBER_TYPE] varchar(5) NOT NULL PRIMARY KEY,
	[DESCRIPTION] varchar(20) NOT NULL,
	[MEMBER_RECORD] bit NOT NULL,
	[COMPANY_RECORD] bit NOT NULL)`,
	`CREATE TABLE [dbo].[GroupMain] (
	[GroupKey] uniqueidentifier NOT NULL PRIMARY KEY,
	[Name] nvarchar(65) NOT NULL,
	[UpdatedOn] datetime NOT NULL,
	[GroupTypeKey] uniqueidentifier NOT NULL,
	[MarkedForDeleteOn] datetime NULL)`,
	`CREATE TABLE [dbo].[GroupMember] (
	[GroupMemberKey] uniqueidentifier NOT NULL PRIMARY KEY,
	[GroupKey] uniqueidentifier NOT NULL,
	[MemberContactKey] uniqueidentifier NOT NULL,
	[IsActive] bit NOT NULL,
	[CreatedOn] datetime NOT NULL,
	[UpdatedOn] datetime NOT NULL,
	[DropDate] datetime NULL,
	[JoinDate] datetime NULL,
	[MarkedForDeleteOn] datetime NULL)`,
	`CREATE INDEX IX_GroupMember_MemberContactKey ON dbo.GroupMember (MemberContactKey)`,
	`CREATE TABLE [dbo].[Name_Security] (
	[ID] varchar(10) NOT NULL PRIMARY KEY,
	[LOGIN_DISABLED] bit NOT NULL,
	[WEB_LOGIN] varchar(60) NOT NULL,
	[EXPIRATION_DATE] datetime NULL)`,
	`CREATE TABLE [dbo].[Name_Security_Groups] (
	[ID] varchar(10) NOT NULL,
	[SECURITY_GROUP] varchar(30) NOT NULL,
	PRIMARY KEY ([ID], [SECURITY_GROUP]))`,
	`CREATE TABLE [dbo].[Users] (
	[UserId] varchar(60) NOT NULL PRIMARY KEY,
	[UserName] varchar(30) NOT NULL,
	[Disabled] bit NOT NULL,
	[LevelMembership] tinyint NOT NULL DEFAULT 0,
	[LevelDues] tinyint NOT NULL DEFAULT 0,
	[LevelCashAR] tinyint NOT NULL DEFAULT 0,
	[LevelMeeting] tinyint NOT NULL DEFAULT 0,
	[LevelOrderEntry] tinyint NOT NULL DEFAULT 0,
	[LevelReferral] tinyint NOT NULL DEFAULT 0,
	[LevelCert] tinyint NOT NULL DEFAULT 0,
	[LevelFundRaising] tinyint NOT NULL DEFAULT 0,
	[LevelSC] tinyint NOT NULL DEFAULT 0,
	[LevelExpo] tinyint NOT NULL DEFAULT 0,
	[LevelSystem] tinyint NOT NULL DEFAULT 0,
	[IsCasualUser] bit NOT NULL DEFAULT 0)`,
	`CREATE TABLE [dbo].[LegacySecurityLevelRef] (
	[LevelCode] int NOT NULL PRIMARY KEY,
	[Description] varchar(60) NOT NULL)`,
	`CREATE TABLE [dbo].[SystemConfig] (
	[SystemConfigKey] uniqueidentifier NOT NULL PRIMARY KEY,
	[ParameterName] nvarchar(255) NOT NULL,
	[ParameterValue] nvarchar(2500) NULL,
	[CreatedOn] datetime NOT NULL,
	[UpdatedOn] datetime NOT NULL,
	[OrganizationKey] uniqueidentifier NOT NULL)`,
	`CREATE INDEX IX_SystemConfig_ParameterName_OrganizationKey_SystemConfigKey ON dbo.SystemConfig (ParameterName, OrganizationKey, SystemConfigKey)`,
}

// The fixture's clock and zone: iMIS stores wall-clock times of the AMS's zone.
var (
	amsZone = mustZone("America/Chicago")
	tdsNow  = time.Date(2025, 1, 15, 12, 0, 0, 0, amsZone)
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

const (
	appID       = "2F3E1F0C-6F4C-4D2B-9A55-1D1E0E5B7A10"
	goodPass    = "P@ssw0rd!"
	knownKey    = "6F9619FF-8B86-D011-B42D-00C04FC964FF" // UserKey of jdoe: mixed-endian on the wire
	passwordAge = 90 * 24 * time.Hour
)

var roleKeys = map[string]string{
	"Member":        "11111111-2222-4333-8444-555555555555",
	"RemoteService": "8DFF65A1-2CC3-4AAF-A9C1-9EB33662D576",
	"SysAdmin":      "8E5C7C1D-170B-4294-B646-2E60D2091DF8",
	"Board":         "9A0B1C2D-3E4F-4A5B-8C6D-7E8F9A0B1C2D", // marked for delete: never listed
}

type tdsMember struct {
	key, aspnetID, login, memberID string
	given, family, email, company  string
	disabled, locked, approved     bool
	status                         string // Name.STATUS
	effective, expiration          time.Time
	pwChanged, updated             time.Time
	roles                          []string
}

func tdsMembers() []tdsMember {
	h := func(d time.Duration) time.Time { return tdsNow.Add(d) }
	base := func(i int, login string) tdsMember {
		return tdsMember{
			key:       fmt.Sprintf("%08X-1000-4000-8000-%012X", i, i),
			aspnetID:  fmt.Sprintf("%08X-2000-4000-8000-%012X", i, i),
			login:     login,
			memberID:  fmt.Sprintf("%d", 10000+i),
			given:     "Given" + fmt.Sprint(i),
			family:    "Family",
			email:     login + "@example.org",
			approved:  true,
			status:    "A",
			effective: h(-365 * 24 * time.Hour),
			pwChanged: time.Date(2024, 12, 20, 8, 30, 0, 0, amsZone), // before every UpdatedOn
			updated:   time.Date(2025, 1, 1, 9, 0, 0, 0, amsZone).Add(time.Duration(i) * time.Hour),
		}
	}
	jdoe := base(1, "jdoe")
	jdoe.key = knownKey
	jdoe.given, jdoe.family, jdoe.company = "Zoë", "Doe", "Acme Ünited"
	jdoe.roles = []string{"RemoteService", "Member", "Board"}
	jdoe.expiration = h(time.Hour) // still valid for an hour

	disabled := base(2, "disabled")
	disabled.disabled = true
	locked := base(3, "locked")
	locked.locked = true
	pending := base(4, "pending")
	pending.approved = false
	expired := base(5, "expired")
	expired.expiration = h(-time.Hour)
	future := base(6, "future")
	future.effective = h(24 * time.Hour)
	deleted := base(7, "deleted")
	deleted.status = "D"
	stale := base(8, "stale")
	stale.pwChanged = h(-100 * 24 * time.Hour)
	admin := base(9, "admin")
	admin.roles = []string{"SysAdmin"}
	return []tdsMember{jdoe, disabled, locked, pending, expired, future, deleted, stale, admin}
}

// wall renders a time as a datetime literal of the AMS's application clock (ISO 8601, which
// SQL Server reads the same under every language setting): UTC-06:00 (SystemConfig), the
// offset of America/Chicago in January.
func wall(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Add(-6 * time.Hour).Format("2006-01-02T15:04:05")
}

// utcWall renders a time as a UTC datetime literal (aspnet_* columns).
func utcWall(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

func bit(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// loadFixture creates and fills the tables with exec (the fake's Exec, or a real server's).
func loadFixture(t testing.TB, exec func(q string, args ...any) error) {
	t.Helper()
	run := func(q string, args ...any) {
		t.Helper()
		if err := exec(q, args...); err != nil {
			t.Fatalf("fixture: %v\n%s", err, q)
		}
	}
	for _, ddl := range tdsSchema {
		run(ddl)
	}
	never := "1754-01-01T00:00:00"
	created := wall(tdsNow.Add(-2 * 365 * 24 * time.Hour))
	run(`INSERT INTO dbo.aspnet_Applications (ApplicationName, LoweredApplicationName, ApplicationId) VALUES (N'iMIS', N'imis', @p1)`, appID)
	run(`INSERT INTO dbo.ContactStatusRef (ContactStatusCode, ContactStatusDesc, IsSystem) VALUES (N'A', N'Active', 1), (N'D', N'Delete', 1)`)
	run(`INSERT INTO dbo.SystemConfig (SystemConfigKey, ParameterName, ParameterValue, CreatedOn, UpdatedOn, OrganizationKey)
		VALUES ('08D28564-232E-408F-A17F-065E8ED55E04', N'System.Database.TimeZoneOffset', N'-360', @p1, @p1, @p2)`, created, appID)
	run(`INSERT INTO dbo.Member_Types (MEMBER_TYPE, DESCRIPTION, MEMBER_RECORD, COMPANY_RECORD) VALUES ('M', 'Member', 1, 0)`)
	for name, key := range roleKeys {
		var marked any
		if name == "Board" {
			marked = wall(tdsNow.Add(-24 * time.Hour))
		}
		run(`INSERT INTO dbo.RoleMain (RoleKey, Name, IsSystem, UpdatedOn, MarkedForDeleteOn) VALUES (@p1, @p2, 0, @p3, @p4)`,
			key, name, created, marked)
	}
	salt := []byte("0123456789abcdef")
	stored, err := password.MembershipHash(password.SHA256, salt, goodPass)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range tdsMembers() {
		run(`INSERT INTO dbo.aspnet_Users (ApplicationId, UserId, UserName, LoweredUserName, IsAnonymous, LastActivityDate)
			VALUES (@p1, @p2, @p3, @p4, 0, @p5)`, appID, m.aspnetID, m.login, strings.ToLower(m.login), created)
		run(`INSERT INTO dbo.aspnet_Membership (ApplicationId, UserId, Password, PasswordFormat, PasswordSalt, Email, LoweredEmail,
				IsApproved, IsLockedOut, CreateDate, LastLoginDate, LastPasswordChangedDate, LastLockoutDate, FailedPasswordAttemptCount)
			VALUES (@p1, @p2, @p3, 1, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, 0)`,
			appID, m.aspnetID, stored, base64.StdEncoding.EncodeToString(salt), m.email, strings.ToLower(m.email),
			bit(m.approved), bit(m.locked), created, never, utcWall(m.pwChanged), never)
		// ProviderKey holds the aspnet user id as lower-case text, as iMIS writes it.
		run(`INSERT INTO dbo.UserMain (UserKey, ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, ProviderKey)
			VALUES (@p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9)`,
			m.key, m.memberID, strings.ToUpper(m.login), bit(m.disabled), wall(m.effective), wall(m.expiration), wall(m.updated), created, strings.ToLower(m.aspnetID))
		run(`INSERT INTO dbo.ContactMain (ContactKey, ContactStatusCode, FullName, SyncContactID, ID, UpdatedOn) VALUES (@p1, @p2, @p3, @p4, @p4, @p5)`,
			m.key, map[bool]string{true: "D", false: "A"}[m.status == "D"], m.given+" "+m.family, m.memberID, created)
		run(`INSERT INTO dbo.Name (ID, MEMBER_TYPE, CATEGORY, STATUS, CO_ID, FULL_NAME, TITLE, COMPANY, FIRST_NAME, LAST_NAME, CITY,
				STATE_PROVINCE, COUNTRY, CHAPTER, MEMBER_STATUS, EMAIL, JOIN_DATE, PAID_THRU, LAST_UPDATED)
			VALUES (@p1, 'M', '', @p2, '', @p3, '', @p4, @p5, @p6, 'Chicago', 'IL', 'USA', 'North', 'A', @p7, @p8, @p9, @p10)`,
			m.memberID, m.status, m.given+" "+m.family, m.company, m.given, m.family, m.email,
			wall(time.Date(2019, 3, 1, 0, 0, 0, 0, amsZone)), wall(time.Date(2025, 12, 31, 0, 0, 0, 0, amsZone)), wall(m.updated.Add(-time.Hour)))
		for _, r := range m.roles {
			run(`INSERT INTO dbo.UserRole (UserKey, RoleKey) VALUES (@p1, @p2)`, m.key, roleKeys[r])
		}
	}
}

// tdsTarget is a database with the fixture, and the fake when it is one.
type tdsTarget struct {
	db   *sql.DB
	fake *tdsfake.Server // nil for a real SQL Server
}

func startFake(t testing.TB) *tdsTarget {
	t.Helper()
	srv, err := tdsfake.Start(tdsfake.Config{User: "ssobridge", Password: "read-only!", Database: "iMIS"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	loadFixture(t, srv.Exec)
	// sqlserver://ssobridge:read-only%21@127.0.0.1:PORT?database=iMIS&encrypt=disable
	db, err := sql.Open("sqlserver", srv.DSN("dial timeout=2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &tdsTarget{db: db, fake: srv}
}

func tdsConfig() sqldir.Config {
	return imis.SQLConfig(sqldir.Config{
		Driver:         sqldir.DriverSQLServer,
		Preset:         imis.PresetNameIMIS,
		MemberKey:      imis.MemberKeyContact, // keys are uniqueidentifiers: the GUID byte order is tested
		Timezone:       "America/Chicago",
		HashAlgorithm:  "sha256",
		PasswordMaxAge: new(passwordAge),
		QueryTimeout:   2 * time.Second,
	})
}

func newTDSDirectory(t testing.TB, db *sql.DB, cfg sqldir.Config) *sqldir.Directory {
	t.Helper()
	d, err := sqldir.New(db, cfg,
		sqldir.WithClock(func() time.Time { return tdsNow }),
		sqldir.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestIMISDirectoryTDS(t *testing.T) {
	runIMISDirectorySuite(t, startFake(t))
}

// runIMISDirectorySuite checks the directory's behaviour on a database holding the fixture.
// Subtests that need fault injection run only against the fake.
func runIMISDirectorySuite(t *testing.T, tg *tdsTarget) {
	d := newTDSDirectory(t, tg.db, tdsConfig())
	ctx := testCtx(t)

	t.Run("authenticate", func(t *testing.T) {
		m, err := d.Authenticate(ctx, "  JDoe ", goodPass)
		if err != nil {
			t.Fatal(err)
		}
		if m.Key != knownKey {
			t.Errorf("Key %q, want %q (canonical GUID; a byte-order mistake swaps the first three groups)", m.Key, knownKey)
		}
		want := []string{"M", "Member", "RemoteService"} // Board is marked for delete; M is the member type
		if !slices.Equal(m.Roles, want) {
			t.Errorf("Roles %q, want %q", m.Roles, want)
		}
		if m.Login != "jdoe" || m.MemberID != "10001" || m.Email != "jdoe@example.org" ||
			m.GivenName != "Zoë" || m.FamilyName != "Doe" || m.FullName != "Zoë Doe" || m.Company != "Acme Ünited" ||
			m.MemberType != "M" || m.Status != "A" {
			t.Errorf("member fields %+v", m)
		}
		if got := m.JoinDate.Format("2006-01-02 15:04 -07:00"); got != "2019-03-01 00:00 -06:00" {
			t.Errorf("JoinDate %s", got)
		}
		if got := m.Standing.ExpirationDate; !got.Equal(tdsNow.Add(time.Hour)) {
			t.Errorf("ExpirationDate %v, want %v", got, tdsNow.Add(time.Hour))
		}
		if m.Standing.Disabled || m.Standing.LockedOut || !m.Standing.Approved || m.Standing.Deleted {
			t.Errorf("standing %+v", m.Standing)
		}
		if !m.UpdatedAt.Equal(time.Date(2025, 1, 1, 10, 0, 0, 0, amsZone)) {
			t.Errorf("UpdatedAt %v", m.UpdatedAt)
		}
	})

	t.Run("wrong password and unknown login", func(t *testing.T) {
		for _, c := range []struct{ login, pw string }{{"jdoe", "wrong"}, {"jdoe", strings.ToUpper(goodPass)}, {"nobody", goodPass}, {"disabled", "wrong"}} {
			if _, err := d.Authenticate(ctx, c.login, c.pw); !errors.Is(err, legacy.ErrBadCredentials) {
				t.Errorf("%s/%s: %v, want ErrBadCredentials", c.login, c.pw, err)
			}
		}
	})

	t.Run("status failures", func(t *testing.T) {
		for login, want := range map[string]error{
			"disabled": legacy.ErrDisabled,
			"locked":   legacy.ErrLockedOut,
			"pending":  legacy.ErrNotApproved,
			"expired":  legacy.ErrAccountExpired, // ExpirationDate an hour ago (datetime comparison)
			"future":   legacy.ErrAccountExpired, // EffectiveDate tomorrow
			"deleted":  legacy.ErrNotMember,
			"stale":    legacy.ErrPasswordExpired,
		} {
			if _, err := d.Authenticate(ctx, login, goodPass); !errors.Is(err, want) {
				t.Errorf("%s: %v, want %v", login, err, want)
			}
		}
		if m, err := d.Authenticate(ctx, "admin", goodPass); err != nil || !slices.Equal(m.Roles, []string{"M", "SysAdmin"}) {
			t.Errorf("admin: %v %v", m, err)
		}
	})

	t.Run("GUID byte order of keys", func(t *testing.T) {
		for _, key := range []string{knownKey, strings.ToLower(knownKey), "{" + knownKey + "}"} {
			m, err := d.MemberByKey(ctx, key)
			if err != nil {
				t.Fatalf("MemberByKey(%s): %v", key, err)
			}
			if m.Key != knownKey || m.Login != "jdoe" {
				t.Fatalf("MemberByKey(%s) = %s %s", key, m.Key, m.Login)
			}
		}
		// The same bytes with the first three groups swapped are another key.
		if _, err := d.MemberByKey(ctx, "FF19966F-868B-11D0-B42D-00C04FC964FF"); !errors.Is(err, legacy.ErrNotFound) {
			t.Fatalf("swapped key: %v", err)
		}
		roles, err := d.Roles(ctx, knownKey)
		if err != nil || !slices.Equal(roles, []string{"M", "Member", "RemoteService"}) {
			t.Fatalf("Roles: %q %v", roles, err)
		}
		// Raw driver check of the convention: mssql.UniqueIdentifier scans the canonical text.
		var u mssql.UniqueIdentifier
		if err := tg.db.QueryRowContext(ctx, "SELECT UserKey FROM dbo.UserMain WHERE ContactMaster = @p1", "10001").Scan(&u); err != nil {
			t.Fatal(err)
		}
		if u.String() != knownKey {
			t.Fatalf("scanned %s", u)
		}
	})

	t.Run("lookups", func(t *testing.T) {
		m, err := d.MemberByLogin(ctx, "JDOE")
		if err != nil || m.Key != knownKey {
			t.Fatalf("MemberByLogin: %v %v", m, err)
		}
		m, err = d.MemberByID(ctx, "10002")
		if err != nil || m.Login != "disabled" || !m.Standing.Disabled {
			t.Fatalf("MemberByID: %+v %v", m, err)
		}
		if _, err := d.MemberByID(ctx, "99999"); !errors.Is(err, legacy.ErrNotFound) {
			t.Fatalf("unknown member id: %v", err)
		}
		if _, err := d.MemberByLogin(ctx, "nobody"); !errors.Is(err, legacy.ErrNotFound) {
			t.Fatalf("unknown login: %v", err)
		}
		if err := d.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	})

	t.Run("changed since", func(t *testing.T) {
		// UpdatedOn of member i is 2025-01-01 09:00 + i hours, AMS wall clock; Name.LAST_UPDATED
		// is an hour earlier. The watermark is exclusive.
		since := time.Date(2025, 1, 1, 14, 0, 0, 0, amsZone) // = UpdatedOn of member 5
		ms, next, err := d.ChangedSince(ctx, since, 100)
		if err != nil {
			t.Fatal(err)
		}
		var logins []string
		for _, m := range ms {
			logins = append(logins, m.Login)
		}
		if want := []string{"future", "deleted", "stale", "admin"}; !slices.Equal(logins, want) {
			t.Fatalf("changed since %v: %q, want %q", since, logins, want)
		}
		if want := time.Date(2025, 1, 1, 18, 0, 0, 0, amsZone); !next.Equal(want) {
			t.Fatalf("watermark %v, want %v", next, want)
		}
		// The same instant expressed in another zone selects the same members: the directory
		// sends the AMS wall clock, not an offset the server would compare as UTC.
		ms2, _, err := d.ChangedSince(ctx, since.UTC(), 100)
		if err != nil || len(ms2) != 4 {
			t.Fatalf("since in UTC: %d members, %v", len(ms2), err)
		}
		// Paging: oldest first, limit respected, watermark continues.
		page, next, err := d.ChangedSince(ctx, since, 2)
		if err != nil || len(page) != 2 || page[0].Login != "future" || page[1].Login != "deleted" {
			t.Fatalf("page: %v %v", page, err)
		}
		rest, _, err := d.ChangedSince(ctx, next, 10)
		if err != nil || len(rest) != 2 || rest[0].Login != "stale" {
			t.Fatalf("next page: %v %v", rest, err)
		}
		none, same, err := d.ChangedSince(ctx, time.Date(2030, 1, 1, 0, 0, 0, 0, amsZone), 10)
		if err != nil || len(none) != 0 || !same.Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, amsZone)) {
			t.Fatalf("nothing changed: %v %v %v", none, same, err)
		}
	})

	if tg.fake == nil {
		return // the rest needs fault injection
	}
	srv := tg.fake

	// healthy asserts that the directory works (again).
	healthy := func(t *testing.T) {
		t.Helper()
		m, err := d.Authenticate(ctx, "jdoe", goodPass)
		if err != nil || m.Key != knownKey {
			t.Fatalf("directory does not work again: %v", err)
		}
	}
	unavailable := func(t *testing.T, err error, what string) {
		t.Helper()
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Fatalf("%s: %v, want ErrUnavailable", what, err)
		}
		if errors.Is(err, legacy.ErrBadCredentials) {
			t.Fatalf("%s: an outage must not look like bad credentials: %v", what, err)
		}
	}

	t.Run("round trips per authenticate", func(t *testing.T) {
		healthy(t) // warm the pool
		count := func(f func()) int64 {
			srv.ResetStats()
			f()
			st := srv.Stats()
			if st.Logins != 0 {
				t.Errorf("unexpected new login: %+v", st)
			}
			return st.Requests()
		}
		if n := count(func() { healthy(t) }); n != 2 {
			t.Errorf("Authenticate: %d round trips, want 2 (member with hash and status, roles)", n)
		}
		if n := count(func() {
			if _, err := d.AuthenticateWithoutRoles(ctx, "jdoe", goodPass); err != nil {
				t.Error(err)
			}
		}); n != 1 {
			t.Errorf("AuthenticateWithoutRoles (roles cached): %d round trips, want 1", n)
		}
		// Behind the profile cache (legacy/cache), a roles cache hit saves the second query;
		// the password is still checked against the AMS every time.
		cached := cache.New(d, cache.Options{})
		for i, want := range []int64{2, 1, 1} {
			if n := count(func() {
				m, err := cached.Authenticate(ctx, "jdoe", goodPass)
				if err != nil || !slices.Equal(m.Roles, []string{"M", "Member", "RemoteService"}) {
					t.Errorf("cached Authenticate: %v %v", m, err)
				}
			}); n != want {
				t.Errorf("cached Authenticate #%d: %d round trips, want %d", i+1, n, want)
			}
		}
		if n := count(func() { _, _ = cached.Authenticate(ctx, "jdoe", "wrong") }); n != 1 {
			t.Errorf("cached, wrong password: %d round trips, want 1", n)
		}
		if n := count(func() { _, _ = d.Authenticate(ctx, "jdoe", "wrong") }); n != 1 {
			t.Errorf("wrong password: %d round trips, want 1", n)
		}
		if n := count(func() { _, _ = d.Authenticate(ctx, "nobody", goodPass) }); n != 1 {
			t.Errorf("unknown login: %d round trips, want 1", n)
		}
		if n := count(func() { _, _ = d.Authenticate(ctx, "jdoe", "") }); n != 0 {
			t.Errorf("empty password: %d round trips, want 0", n)
		}
	})

	t.Run("login failed 18456", func(t *testing.T) {
		db, err := sql.Open("sqlserver", srv.DSNFor("ssobridge", "not-the-password", "iMIS"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		bad := newTDSDirectory(t, db, tdsConfig())
		_, err = bad.Authenticate(ctx, "jdoe", goodPass)
		unavailable(t, err, "wrong database password")
		var me mssql.Error
		if !errors.As(err, &me) || me.Number != 18456 {
			t.Fatalf("cause %v, want server error 18456", err)
		}
		unavailable(t, bad.Ping(ctx), "Ping with wrong database password")

		// 18456 from a pooled connection's query (as after a password rotation mid-flight).
		srv.SetHook(tdsfake.Once(tdsfake.OnSQL("LoweredUserName", tdsfake.Action{Error: tdsfake.LoginFailed("ssobridge")})))
		defer srv.SetHook(nil)
		_, err = d.Authenticate(ctx, "jdoe", goodPass)
		unavailable(t, err, "query answered with 18456")
		healthy(t)
	})

	t.Run("invalid object 208", func(t *testing.T) {
		// A real 208 from the backend: the roles query names a table the database lacks.
		cfg := tdsConfig()
		cfg.Queries = map[string]string{sqldir.QueryRolesByKey: `SELECT r.Name AS role FROM dbo.UserRoles AS r WHERE r.UserKey = @p1`}
		broken := newTDSDirectory(t, tg.db, cfg)
		_, err := broken.Authenticate(ctx, "jdoe", goodPass)
		unavailable(t, err, "missing table")
		var me mssql.Error
		if !errors.As(err, &me) || me.Number != 208 {
			t.Fatalf("cause %v, want server error 208", err)
		}
		// A scripted 208 on the member query.
		srv.SetHook(tdsfake.Once(tdsfake.OnSQL("aspnet_Users", tdsfake.Action{Error: tdsfake.InvalidObject("dbo.aspnet_Users")})))
		defer srv.SetHook(nil)
		_, err = d.MemberByLogin(ctx, "jdoe")
		unavailable(t, err, "scripted 208")
		healthy(t)
	})

	t.Run("query timeout", func(t *testing.T) {
		cfg := tdsConfig()
		cfg.QueryTimeout = 200 * time.Millisecond
		slow := newTDSDirectory(t, tg.db, cfg)
		srv.SetHook(tdsfake.Once(tdsfake.OnSQL("LoweredUserName", tdsfake.Action{Delay: 10 * time.Second})))
		defer srv.SetHook(nil)
		srv.ResetStats()
		began := time.Now()
		_, err := slow.Authenticate(ctx, "jdoe", goodPass)
		unavailable(t, err, "slow query")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cause %v, want context.DeadlineExceeded", err)
		}
		if el := time.Since(began); el > 3*time.Second {
			t.Fatalf("timeout took %v", el)
		}
		if st := srv.Stats(); st.Attentions != 1 {
			t.Fatalf("driver sent %d ATTENTIONs, want 1", st.Attentions)
		}
		healthy(t)
	})

	t.Run("connection refused", func(t *testing.T) {
		srv.Refuse()
		srv.DropConnections()
		_, err := d.Authenticate(ctx, "jdoe", goodPass)
		unavailable(t, err, "server down")
		unavailable(t, d.Ping(ctx), "Ping with server down")
		if err := srv.Resume(); err != nil {
			t.Fatal(err)
		}
		healthy(t)
	})

	t.Run("server hangs before PRELOGIN", func(t *testing.T) {
		// go-mssqldb reads the PRELOGIN reply without watching the context: only the DSN's
		// "connection timeout" (seconds, a deadline on every read) bounds a hung server. It
		// must exceed the query timeout, or slow queries fail on it instead of the context.
		db, err := sql.Open("sqlserver", srv.DSN("connection timeout=1"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		hung := newTDSDirectory(t, db, tdsConfig())
		srv.Stall(true)
		began := time.Now()
		_, err = hung.Authenticate(ctx, "jdoe", goodPass)
		srv.Stall(false)
		unavailable(t, err, "hung server")
		if el := time.Since(began); el > 3*time.Second {
			t.Fatalf("hung server held Authenticate for %v", el)
		}
		if _, err := hung.Authenticate(ctx, "jdoe", goodPass); err != nil {
			t.Fatalf("after the hang: %v", err)
		}
	})

	t.Run("connection dropped mid-query", func(t *testing.T) {
		healthy(t)
		srv.SetHook(tdsfake.Once(tdsfake.OnSQL("UserRole", tdsfake.Action{Drop: true})))
		defer srv.SetHook(nil)
		_, err := d.Authenticate(ctx, "jdoe", goodPass)
		unavailable(t, err, "dropped connection")
		if !strings.Contains(err.Error(), "EOF") {
			t.Errorf("cause %v, want a read EOF", err)
		}
		healthy(t)
	})
}

// TestDemoSeedThroughTDS copies the demo AMS (legacy/demo: its schema, declared with SQL
// Server type names, and its seed with a login for every sign-in rule) into the fake, and
// checks that the SQL Server preset through go-mssqldb gives every demo login its documented
// outcome and the same member as the SQLite preset on the demo database.
func TestDemoSeedThroughTDS(t *testing.T) {
	ctx := testCtx(t)
	src, err := demo.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	srv, err := tdsfake.Start(tdsfake.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	copySQLite(t, ctx, src, srv)
	db, err := sql.Open("sqlserver", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	cfg := demo.SQLConfig()
	cfg.Driver, cfg.Preset = sqldir.DriverSQLServer, imis.PresetNameIMIS
	quiet := sqldir.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	viaTDS, err := sqldir.New(db, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	viaSQLite, err := sqldir.New(src, demo.SQLConfig(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	logins := demo.Logins()
	if len(logins) < 10 {
		t.Fatalf("only %d demo logins", len(logins))
	}
	for _, l := range logins {
		m, err := viaTDS.Authenticate(ctx, l.Login, l.Password)
		if got := legacy.Reason(err); got != l.Outcome {
			t.Errorf("%s (%s): %s (%v), want %s", l.Login, l.Description, got, err, l.Outcome)
			continue
		}
		if err != nil {
			continue
		}
		want, err := viaSQLite.Authenticate(ctx, l.Login, l.Password)
		if err != nil {
			t.Errorf("%s via SQLite: %v", l.Login, err)
			continue
		}
		if m.Key != l.Key || l.MemberID != "" && m.MemberID != l.MemberID {
			t.Errorf("%s: key %s member id %s, want %s %s", l.Login, m.Key, m.MemberID, l.Key, l.MemberID)
		}
		if diff := memberDiff(m, want); diff != "" {
			t.Errorf("%s: SQL Server preset via TDS and SQLite preset differ: %s", l.Login, diff)
		}
	}
}

// memberDiff compares two members field by field, times by instant within SQL Server's
// datetime precision (1/300 s: the demo's .468 comes back from a datetime column as .467).
func memberDiff(a, b *legacy.Member) string {
	var diffs []string
	str := func(name, x, y string) {
		if x != y {
			diffs = append(diffs, fmt.Sprintf("%s %q != %q", name, x, y))
		}
	}
	tm := func(name string, x, y time.Time) {
		if d := x.Sub(y); d < -2*time.Millisecond || d > 2*time.Millisecond || x.IsZero() != y.IsZero() {
			diffs = append(diffs, fmt.Sprintf("%s %v != %v", name, x, y))
		}
	}
	str("Key", a.Key, b.Key)
	str("MemberID", a.MemberID, b.MemberID)
	str("Login", a.Login, b.Login)
	str("Email", a.Email, b.Email)
	str("GivenName", a.GivenName, b.GivenName)
	str("FamilyName", a.FamilyName, b.FamilyName)
	str("FullName", a.FullName, b.FullName)
	str("Company", a.Company, b.Company)
	str("MemberType", a.MemberType, b.MemberType)
	str("Status", a.Status, b.Status)
	str("Roles", strings.Join(a.Roles, ","), strings.Join(b.Roles, ","))
	str("Extra", fmt.Sprint(a.Extra), fmt.Sprint(b.Extra))
	tm("JoinDate", a.JoinDate, b.JoinDate)
	tm("PaidThrough", a.PaidThrough, b.PaidThrough)
	tm("UpdatedAt", a.UpdatedAt, b.UpdatedAt)
	tm("EffectiveDate", a.Standing.EffectiveDate, b.Standing.EffectiveDate)
	tm("ExpirationDate", a.Standing.ExpirationDate, b.Standing.ExpirationDate)
	tm("PasswordChangedAt", a.Standing.PasswordChangedAt, b.Standing.PasswordChangedAt)
	if a.Standing.Disabled != b.Standing.Disabled || a.Standing.Approved != b.Standing.Approved ||
		a.Standing.LockedOut != b.Standing.LockedOut || a.Standing.Deleted != b.Standing.Deleted {
		diffs = append(diffs, fmt.Sprintf("Standing %+v != %+v", a.Standing, b.Standing))
	}
	return strings.Join(diffs, "; ")
}

// copySQLite recreates the tables and indexes of a SQLite database in the fake (their DDL
// uses SQL Server type names) and copies every row.
func copySQLite(t *testing.T, ctx context.Context, src *sql.DB, srv *tdsfake.Server) {
	t.Helper()
	rows, err := src.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END, rowid`)
	if err != nil {
		t.Fatal(err)
	}
	var tables, ddl []string
	for rows.Next() {
		var typ, name, stmt string
		if err := rows.Scan(&typ, &name, &stmt); err != nil {
			t.Fatal(err)
		}
		if typ == "table" {
			tables = append(tables, name)
		}
		ddl = append(ddl, stmt)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	for _, stmt := range ddl {
		if err := srv.Exec(stmt); err != nil {
			t.Fatalf("%v\n%s", err, stmt)
		}
	}
	for _, table := range tables {
		rows, err := src.QueryContext(ctx, `SELECT * FROM "`+table+`"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		ph := make([]string, len(cols))
		for i := range cols {
			ph[i] = fmt.Sprintf("@p%d", i+1)
			cols[i] = "[" + cols[i] + "]"
		}
		insert := fmt.Sprintf("INSERT INTO dbo.[%s] (%s) VALUES (%s)", table, strings.Join(cols, ", "), strings.Join(ph, ", "))
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			if err := srv.Exec(insert, vals...); err != nil {
				t.Fatalf("%s: %v", table, err)
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
}

// TestIMISDirectoryRealSQLServer runs the same suite against a real SQL Server when
// SSOBRIDGE_TEST_MSSQL_DSN is set, e.g.
//
//	SSOBRIDGE_TEST_MSSQL_DSN='sqlserver://sa:Secret@localhost:1433?database=ssobridge_test&encrypt=disable' \
//	    go test ./legacy/sqldir/ -run RealSQLServer
//
// The DSN must name an empty scratch database that the login may create tables in: the test
// creates the fixture tables (refusing to run if any of them exists, so that it can never
// touch an iMIS database) and drops them afterwards. Fault-injection subtests need the fake
// and are skipped.
func TestIMISDirectoryRealSQLServer(t *testing.T) {
	dsn := os.Getenv("SSOBRIDGE_TEST_MSSQL_DSN")
	if dsn == "" {
		t.Skip("SSOBRIDGE_TEST_MSSQL_DSN not set")
	}
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := testCtx(t)
	var existing int
	ph := make([]string, len(tdsTables))
	for i := range ph {
		ph[i] = fmt.Sprintf("@p%d", i+1)
	}
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sys.tables WHERE name IN (`+strings.Join(ph, ", ")+`)`,
		anySlice(tdsTables)...).Scan(&existing); err != nil {
		t.Fatal(err)
	}
	if existing > 0 {
		t.Fatalf("the database of SSOBRIDGE_TEST_MSSQL_DSN already has %d of the iMIS tables; point it at an empty scratch database", existing)
	}
	t.Cleanup(func() {
		for _, table := range tdsTables {
			if _, err := db.Exec("DROP TABLE IF EXISTS dbo." + table); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	loadFixture(t, func(q string, args ...any) error {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	})
	runIMISDirectorySuite(t, &tdsTarget{db: db})
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// BenchmarkAuthenticateTDS is a full Authenticate (member query, SHA-256 password check,
// roles query) through go-mssqldb against the fake TDS server on loopback.
func BenchmarkAuthenticateTDS(b *testing.B) {
	tg := startFake(b)
	d := newTDSDirectory(b, tg.db, tdsConfig())
	ctx := context.Background()
	if _, err := d.Authenticate(ctx, "jdoe", goodPass); err != nil {
		b.Fatal(err)
	}
	tg.fake.ResetStats()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Authenticate(ctx, "jdoe", goodPass); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st := tg.fake.Stats()
	b.ReportMetric(float64(st.Requests())/float64(b.N), "roundtrips/op")
}

// BenchmarkAuthenticateTDSCached is Authenticate behind the profile cache (legacy/cache):
// the password query every time, roles from the cache.
func BenchmarkAuthenticateTDSCached(b *testing.B) {
	tg := startFake(b)
	d := cache.New(newTDSDirectory(b, tg.db, tdsConfig()), cache.Options{TTL: time.Hour})
	ctx := context.Background()
	if _, err := d.Authenticate(ctx, "jdoe", goodPass); err != nil {
		b.Fatal(err)
	}
	tg.fake.ResetStats()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := d.Authenticate(ctx, "jdoe", goodPass); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(tg.fake.Stats().Requests())/float64(b.N), "roundtrips/op")
}
