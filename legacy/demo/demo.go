package demo

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"
	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/password"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Location is UTC: the zone of the demo's aspnet_Membership dates.
func Location() *time.Location { return time.UTC }

// AppTimeOffset is the demo AMS's application clock (SystemConfig
// System.Database.TimeZoneOffset): UTC-06:00, as an iMIS upgraded in a Chicago winter would
// store it. iMIS's own dates (UserMain, ContactMain, Name, GroupMember) are written in it;
// aspnet_Membership dates in UTC.
const AppTimeOffset = -6 * time.Hour

// MembershipGrace is the demo's grace period after the paid-through date.
const MembershipGrace = 30 * 24 * time.Hour

// PasswordMaxAge is the demo's password expiry for members who are not system administrators
// (SystemConfig PCI.PasswordExpireDays = 365, read by the directory); system administrators'
// passwords never expire (PCI.PasswordExpireDaysSysAdmin = 0, iMIS's default).
const PasswordMaxAge = 365 * 24 * time.Hour

// DefaultPasswordAge is how long ago the demo members changed their passwords, unless said
// otherwise (petra's is older than PasswordMaxAge).
const DefaultPasswordAge = 30 * 24 * time.Hour

// timeLayout is how datetimes are stored (wall clock text, the layout sqldir writes too).
const timeLayout = "2006-01-02 15:04:05.000"

// datetimeStep is the finest step the demo writes (a whole number of SQL Server datetime ticks).
const datetimeStep = 10 * time.Millisecond

// never is ASP.NET Membership's "never" date.
const never = "1754-01-01 00:00:00.000"

// SQLConfig returns the directory configuration for the demo database: driver sqlite, the
// iMIS-on-SQLite preset, the application clock and the password expiry (a year; never for
// system administrators) read from SystemConfig (UTC-06:00), a grace period of 30 days, and a few extra columns.
// Use it with sqldir.New on the handle from Open (OpenDirectory does both).
func SQLConfig() sqldir.Config {
	return imis.SQLConfig(sqldir.Config{
		Driver:        sqldir.DriverSQLite,
		Preset:        imis.PresetNameIMISSQLite,
		Timezone:      "UTC",
		HashAlgorithm: string(password.SHA256),
		ExtraColumns:  []string{"title", "chapter", "city", "country"},
		// The application clock comes from SystemConfig (as on a real iMIS).
		MembershipGrace: MembershipGrace,
	})
}

// Open creates (or re-creates) the demo AMS database and seeds it. path "" or ":memory:"
// gives a private in-memory database on a single connection; otherwise path is a SQLite file
// whose demo tables are emptied and seeded afresh (dates are relative to now).
func Open(ctx context.Context, path string) (*sql.DB, error) {
	memory := path == "" || path == ":memory:"
	dsn := ":memory:"
	if !memory {
		if strings.ContainsAny(path, "?#") {
			return nil, fmt.Errorf("demo: database path %q must not contain '?' or '#'", path)
		}
		dsn = path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("demo: open database: %w", err)
	}
	if memory {
		// Every connection to ":memory:" is its own database: keep exactly one, forever.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(4)
	}
	if err := seed(ctx, db, time.Now()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenDirectory opens the demo database (see Open) and returns the sqldir directory over it;
// the directory's Close closes the database. DB gives the handle for the Set* helpers.
func OpenDirectory(ctx context.Context, path string, opts ...sqldir.Option) (*sqldir.Directory, *sql.DB, error) {
	db, err := Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	d, err := sqldir.New(db, SQLConfig(), append(opts, sqldir.WithOwnedDB())...)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	return d, db, nil
}

// Login is one demo sign-in.
type Login struct {
	Login       string
	Password    string
	Description string
	// Outcome is legacy.Reason of what Authenticate returns: "ok" or the failure's name
	// ("locked_out", "disabled", ...).
	Outcome string
	// Key is the member key (the default member_key provider_key: the aspnet user id,
	// UserMain.ProviderKey, canonical upper-case text); ContactKey is UserMain.UserKey =
	// ContactMain.ContactKey.
	Key        string
	ContactKey string
	MemberID   string // Name.ID
	// Roles are the roles the member's tokens carry (default role sources), sorted.
	Roles []string
	// Staff is true for iMIS staff (a row in the legacy Users table).
	Staff bool
	// Standing is the membership standing the tokens carry (legacy.Standing*), with the demo's
	// grace period.
	Standing string
}

// Logins lists the demo sign-ins, in a fresh slice.
func Logins() []Login {
	out := make([]Login, 0, len(members))
	for _, m := range members {
		if m.password == "" {
			continue
		}
		out = append(out, Login{Login: m.login, Password: m.password, Description: m.desc,
			Outcome: m.outcome, Key: m.userID, ContactKey: m.key, MemberID: m.id, Roles: m.wantRoles(), Staff: m.staff, Standing: m.standing})
	}
	return out
}

// member is one seeded account. Offsets are relative to the seeding time.
type member struct {
	login, password, desc, outcome string
	key, userID, id                string
	first, last, company, mtype    string
	title, chapter, city, country  string
	status                         string // Name.STATUS (default "A")
	memberStatus                   string // Name.MEMBER_STATUS (default "R" for member types)
	contactStatus                  string // ContactMain.ContactStatusCode (default "A")
	hash                           string // "sha256" (default), "sha1", "clear", "encrypted"
	disabled, locked, unapproved   bool
	effective                      time.Duration // EffectiveDate = now + effective (default -2 years)
	expiration                     time.Duration // ExpirationDate = now + expiration; 0 = NULL
	paidThru                       time.Duration // Name.PAID_THRU = now + paidThru; 0 = NULL
	passwordAge                    time.Duration // LastPasswordChangedDate = now - passwordAge (default DefaultPasswordAge)
	roles                          []string      // UserRole rows
	deletedRoles                   []string      // UserRole rows marked for delete (ignored)
	groups                         []string      // GroupMember rows (see groupDefs), inside or outside their window
	securityGroups                 []string      // Name_Security_Groups rows (besides iMIS's blank one)
	staff                          bool          // a row in the legacy Users table

	standing string // the membership standing the tokens carry
}

const day = 24 * time.Hour

// Role keys: SysAdmin and RemoteService are iMIS's well-known keys.
var roleKeys = []struct{ name, key, desc string }{
	{"Everyone", "3A0C5C55-6E11-4F0B-9D41-0E7D2A3C0001", "Everyone"},
	{"SysAdmin", "8E5C7C1D-170B-4294-B646-2E60D2091DF8", "System administrators"},
	{"RemoteService", "8DFF65A1-2CC3-4AAF-A9C1-9EB33662D576", "Remote Service Access"},
	{"Content Administrator", "3A0C5C55-6E11-4F0B-9D41-0E7D2A3C0002", "Content Administrator"},
	{"Member", "3A0C5C55-6E11-4F0B-9D41-0E7D2A3C0003", "Members"},
	{"Board", "3A0C5C55-6E11-4F0B-9D41-0E7D2A3C0004", "Board (retired role, marked for delete)"},
}

const deletedRole = "Board"

// Member types: MEMBER_RECORD decides membership; each has iMIS's member-type security group,
// named after its DESCRIPTION.
var memberTypes = []struct {
	code, desc string
	record     bool
	groupKey   string
}{
	{"REG", "Regular Member", true, "6B1D0A10-0000-4000-8000-000000000001"},
	{"HON", "Honorary Member", true, "6B1D0A10-0000-4000-8000-000000000002"},
	{"STAFF", "Staff", false, "6B1D0A10-0000-4000-8000-000000000003"},
	{"NM", "Non-member", false, "6B1D0A10-0000-4000-8000-000000000004"},
}

// Group types (GroupTypeRef); 'Member Type Security' has iMIS's fixed key.
const (
	groupTypeMemberType = "636A1E55-38BC-4A8F-AC8D-A6873D697F18"
	groupTypeCommittee  = "6B1D0A20-0000-4000-8000-000000000001"
	groupTypeStaff      = "6B1D0A20-0000-4000-8000-000000000002"
	groupTypeSystem     = "6B1D0A20-0000-4000-8000-000000000003"
)

// groupDefs are the demo's other groups. A member's membership window (JoinDate/DropDate,
// relative to now) decides whether the group is a role now.
var groupDefs = []struct {
	name, key, typ string
	join, drop     time.Duration // 0 = NULL
}{
	{"Board of Directors", "6B1D0A30-0000-4000-8000-000000000001", groupTypeCommittee, -400 * day, 0},
	{"Finance Committee", "6B1D0A30-0000-4000-8000-000000000002", groupTypeCommittee, -700 * day, -30 * day}, // dropped
	{"Awards Committee", "6B1D0A30-0000-4000-8000-000000000003", groupTypeCommittee, 10 * day, 0},            // joins later
	{"All Staff", "3BAF4ED8-ADA2-4F8E-913D-82C6BC809A63", groupTypeStaff, 0, 0},
	{"Member", "6B1D0A30-0000-4000-8000-000000000004", groupTypeSystem, 0, 0}, // CM.MemberGroupKey
}

// memberGroupKey is SystemConfig CM.MemberGroupKey: the Member group of member-record types.
const memberGroupKey = "6B1D0A30-0000-4000-8000-000000000004"

// Fixed keys so that tests and the README can name members. aspnet user ids differ from the
// contact keys, as in iMIS.
func keys(n int) (key, userID string) {
	return fmt.Sprintf("D3E0%04X-0000-4000-8000-00000000%04X", n, n), fmt.Sprintf("A5B0%04X-0000-4000-9000-00000000%04X", n, n)
}

var members = func() []member {
	ms := []member{
		{login: "alice", desc: "active member, SHA-256 hash (iMIS default), paid through next year; roles from her member type, the Member group and a committee",
			outcome: "ok", first: "Alice", last: "Anders", company: "Example Widgets Ltd", mtype: "REG",
			title: "Engineer", chapter: "NORTH", city: "Leeds", country: "United Kingdom",
			paidThru: 365 * day, deletedRoles: []string{"Board"},
			groups: []string{"Board of Directors", "Finance Committee", "Awards Committee"}, standing: "current"},
		{login: "staff", desc: "staff user (legacy Users row, customer level 2, system level 8): SysAdmin, RemoteService and Content Administrator roles, All Staff group",
			outcome: "ok", first: "Stacy", last: "Staff", company: "Demo Association", mtype: "STAFF", memberStatus: "-",
			roles: []string{"SysAdmin", "RemoteService", "Content Administrator", "Everyone"}, deletedRoles: []string{"Member"},
			groups: []string{"All Staff"}, staff: true, standing: "not_member"},
		{login: "larry", desc: "lapsed member: paid through three months ago, account and member type unchanged (signs in; lapsed)",
			outcome: "ok", first: "Larry", last: "Lapsed", company: "Old Firm Inc", mtype: "REG",
			paidThru: -90 * day, standing: "lapsed"},
		{login: "sam", desc: "member paid through ten days ago, in the 30-day grace period; old SHA-1 Membership hash",
			outcome: "ok", first: "Sam", last: "Sha", mtype: "REG", hash: "sha1", paidThru: -10 * day, standing: "grace"},
		{login: "zoë", password: "zoe-demo-1", desc: "non-ASCII login and name (José Müller), legacy web security group CHAPTERLEAD; 'zoe\u0308' (decomposed) finds it too",
			outcome: "ok", first: "José", last: "Müller", company: "Société Générale de Démo", mtype: "REG",
			city: "Zürich", country: "Schweiz", paidThru: 30 * day, securityGroups: []string{"CHAPTERLEAD"}, standing: "current"},
		{login: "hank", desc: "honorary member: member type HON has no paid-through date (current while the type is a member record)",
			outcome: "ok", first: "Hank", last: "Honorary", mtype: "HON", memberStatus: "N", standing: "current"},
		{login: "ines", desc: "inactive record (Name.STATUS 'I'), still paid through next year: signs in, not current",
			outcome: "ok", first: "Ines", last: "Inactive", mtype: "REG", status: "I", memberStatus: "D", paidThru: 300 * day, standing: "inactive"},
		{login: "clara", desc: "non-member customer (member type NM); password stored in clear (Membership format 0)",
			outcome: "ok", first: "Clara", last: "Clear", mtype: "NM", memberStatus: "-", hash: "clear", standing: "not_member"},
		{login: "olga", desc: "locked out after too many failed attempts",
			outcome: "locked_out", first: "Olga", last: "Locked", mtype: "REG", locked: true, paidThru: 100 * day},
		{login: "dave", desc: "disabled account (UserMain.IsDisabled)",
			outcome: "disabled", first: "Dave", last: "Disabled", mtype: "REG", disabled: true},
		{login: "una", desc: "account not approved (aspnet_Membership.IsApproved = 0)",
			outcome: "not_approved", first: "Una", last: "Unapproved", mtype: "REG", unapproved: true},
		{login: "dora", desc: "deleted contact (Name.STATUS 'D', ContactMain status Delete)",
			outcome: "not_member", first: "Dora", last: "Deleted", mtype: "REG", status: "D", contactStatus: "D"},
		{login: "eve", desc: "account expired yesterday (UserMain.ExpirationDate)",
			outcome: "account_expired", first: "Eve", last: "Expired", mtype: "REG", expiration: -day},
		{login: "newt", desc: "account effective only from tomorrow (UserMain.EffectiveDate)",
			outcome: "account_expired", first: "Newt", last: "Future", mtype: "REG", effective: day},
		{login: "petra", desc: "password last changed 400 days ago (the demo's PCI.PasswordExpireDays is 365)",
			outcome: "password_expired", first: "Petra", last: "Pass", mtype: "REG", passwordAge: 400 * day},
		{login: "enzo", desc: "password encrypted with the site's machineKey (format 2): cannot be verified",
			outcome: "unsupported_hash", first: "Enzo", last: "Encrypted", mtype: "REG", hash: "encrypted"},
		{login: "GUEST", password: "guest-demo-1", desc: "iMIS built-in GUEST account: always refused",
			outcome: "bad_credentials", key: "8650EB42-3034-471C-B8F2-9E79313E5C95", first: "Guest", mtype: "",
			roles: []string{"Everyone"}},
		// SYSTEM has no usable password (as in iMIS) and is not listed by Logins.
		{login: "SYSTEM", password: "", key: "209935B1-C94E-472A-94CE-8C3F1526D4A5", first: "System", disabled: true},
	}
	for i := range ms {
		m := &ms[i]
		k, u := keys(i + 1)
		if m.key == "" {
			m.key = k
		}
		m.userID = u
		m.id = fmt.Sprintf("%d", 1001+i)
		if m.password == "" && m.login != "SYSTEM" {
			m.password = m.login + "-demo-1"
		}
	}
	return ms
}()

// wantRoles are the roles the member holds with the default role sources, sorted: UserRole
// rows (not marked for delete, not the system Everyone role), groups inside their window,
// the member-type group and code, the Member group for member-record types, and the legacy
// security groups.
func (m member) wantRoles() []string {
	var r []string
	for _, role := range m.roles {
		if role != "Everyone" {
			r = append(r, role)
		}
	}
	for _, g := range m.groups {
		for _, d := range groupDefs {
			if d.name == g && d.join <= 0 && d.drop >= 0 {
				r = append(r, g)
			}
		}
	}
	for _, t := range memberTypes {
		if t.code == m.mtype {
			r = append(r, t.code, t.desc)
			if t.record {
				r = append(r, "Member")
			}
		}
	}
	r = append(r, m.securityGroups...)
	if m.staff { // Users.LevelMembership 2 and LevelSystem 8
		r = append(r, "CustomerLevel1", "CustomerLevel2", "SysAdmin")
	}
	slices.Sort(r)
	return slices.Compact(r)
}

// appTS renders an instant as the demo AMS's application clock (UTC-06:00), the clock of
// iMIS's own dates.
func appTS(t time.Time) string { return t.UTC().Add(AppTimeOffset).Format(timeLayout) }

func nullAppTS(now time.Time, off time.Duration) any {
	if off == 0 {
		return nil
	}
	return appTS(now.Add(off))
}

// ts renders an instant in UTC, the clock of aspnet_Membership dates.
func ts(t time.Time) string { return t.In(Location()).Format(timeLayout) }

const appID = "4B0AE3F1-5C2E-4E0E-9E51-6A7C5D0F1A01"

// seed empties the demo tables and fills them.
func seed(ctx context.Context, db *sql.DB, now time.Time) error {
	// Whole seconds: exactly representable in SQL Server's datetime (1/300 s), so that the
	// same data loaded into SQL Server reads back identically.
	now = now.In(Location()).Truncate(time.Second)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("demo: seed: %w", err)
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) {
		if err != nil {
			return
		}
		if _, e := tx.ExecContext(ctx, q, args...); e != nil {
			err = fmt.Errorf("demo: seed: %w", e)
		}
	}
	for _, t := range tables {
		exec("DROP TABLE IF EXISTS " + t) // constant table names; re-created with today's schema
	}
	for _, s := range schema {
		exec(s)
	}
	orgKey := "6B1D0A40-0000-4000-8000-000000000001"
	for _, c := range []struct{ key, name, value string }{
		{"08D28564-232E-408F-A17F-065E8ED55E04", "System.Database.TimeZoneOffset", fmt.Sprint(int(AppTimeOffset / time.Minute))},
		{"6B1D0A40-0000-4000-8000-000000000002", "System.Database.TimeZoneId", "Central Standard Time"},
		{"6B1D0A40-0000-4000-8000-000000000003", "CM.MemberGroupKey", strings.ToLower(memberGroupKey)},
		{"6B1D0A40-0000-4000-8000-000000000004", "PCI.PasswordExpireDays", fmt.Sprint(int(PasswordMaxAge / (24 * time.Hour)))},
		{"6B1D0A40-0000-4000-8000-000000000005", "PCI.PasswordExpireDaysSysAdmin", "0"},
		// iMIS's default: multi-factor authentication off site-wide (UpdateSystemConfig.sql:717-720).
		{"6B1D0A40-0000-4000-8000-000000000006", "PCI.MultiFactorAuthentication", "0"},
	} {
		exec(`INSERT INTO SystemConfig (SystemConfigKey, ParameterName, ParameterValue, CreatedOn, UpdatedOn, OrganizationKey) VALUES (?1, ?2, ?3, ?4, ?4, ?5)`,
			c.key, c.name, c.value, appTS(now.Add(-400*day)), orgKey)
	}
	for _, gt := range []struct{ key, name string }{
		{groupTypeMemberType, "Member Type Security"}, {groupTypeCommittee, "Committee"}, {groupTypeStaff, "Staff"}, {groupTypeSystem, "System"},
	} {
		exec(`INSERT INTO GroupTypeRef (GroupTypeKey, GroupTypeName, IsSystem) VALUES (?1, ?2, 1)`, gt.key, gt.name)
	}
	for level := 1; level <= 8; level++ {
		exec(`INSERT INTO LegacySecurityLevelRef (LevelCode, Description) VALUES (?1, ?2)`, level, fmt.Sprintf("Level %d", level))
	}
	for _, t := range memberTypes {
		exec(`INSERT INTO Member_Types (MEMBER_TYPE, DESCRIPTION, MEMBER_RECORD) VALUES (?1, ?2, ?3)`, t.code, t.desc, t.record)
		exec(`INSERT INTO GroupMain (GroupKey, Name, UpdatedOn, IsSystem, IsAutoGenerated, GroupTypeKey, CreatedOn) VALUES (?1, ?2, ?3, 1, 1, ?4, ?3)`,
			t.groupKey, t.desc, appTS(now.Add(-400*day)), groupTypeMemberType)
	}
	for _, g := range groupDefs {
		exec(`INSERT INTO GroupMain (GroupKey, Name, UpdatedOn, GroupTypeKey, CreatedOn) VALUES (?1, ?2, ?3, ?4, ?3)`,
			g.key, g.name, appTS(now.Add(-400*day)), g.typ)
	}
	exec(`INSERT INTO aspnet_Applications (ApplicationName, LoweredApplicationName, ApplicationId, Description) VALUES ('iMIS', 'imis', ?1, 'iMIS')`, appID)
	exec(`INSERT INTO ContactStatusRef (ContactStatusCode, ContactStatusDesc, IsSystem) VALUES ('A', 'Active', 1), ('I', 'Inactive', 1), ('D', 'Delete', 1)`)
	for _, r := range roleKeys {
		var deleted any
		if r.name == deletedRole {
			deleted = appTS(now.Add(-10 * day))
		}
		exec(`INSERT INTO RoleMain (RoleKey, Name, Description, IsSystem, UpdatedOn, MarkedForDeleteOn) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
			r.key, r.name, r.desc, r.name == "Everyone" || r.name == "SysAdmin" || r.name == "RemoteService", appTS(now.Add(-400*day)), deleted)
	}
	for i, m := range members {
		if err != nil {
			break
		}
		err = insertMember(ctx, tx, now, i, m)
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("demo: seed: %w", err)
	}
	return nil
}

func insertMember(ctx context.Context, tx *sql.Tx, now time.Time, i int, m member) error {
	h, err := hashFor(m)
	if err != nil {
		return err
	}
	// Distinct, increasing change times so that change polling has an order.
	updated := now.Add(-time.Duration(len(members)-i) * time.Hour)
	status, cstatus := or(m.status, "A"), or(m.contactStatus, "A")
	memberStatus := m.memberStatus
	switch {
	case memberStatus == "-" || m.mtype == "":
		memberStatus = ""
	case memberStatus == "":
		memberStatus = "R"
	}
	effective := now.Add(-2 * 365 * day)
	if m.effective != 0 {
		effective = now.Add(m.effective)
	}
	pwAge := m.passwordAge
	if pwAge == 0 {
		pwAge = DefaultPasswordAge
	}
	lockout := never
	if m.locked {
		lockout = ts(now.Add(-2 * time.Hour))
	}
	full := strings.TrimSpace(m.first + " " + m.last)
	email := ""
	if m.mtype != "" {
		email = strings.ToLower(norm.NFD.String(m.first)+"."+norm.NFD.String(m.last)) + "@demo.example"
		email = asciiOnly(email)
	}
	lower := strings.ToLower(norm.NFC.String(m.login))
	record := false
	for _, t := range memberTypes {
		if t.code == m.mtype {
			record = t.record
		}
	}
	// Clocks: aspnet_* dates in UTC (ts), iMIS's own dates in application time (appTS).
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO aspnet_Users (ApplicationId, UserId, UserName, LoweredUserName, IsAnonymous, LastActivityDate) VALUES (?1, ?2, ?3, ?4, 0, ?5)`,
			[]any{appID, m.userID, m.login, lower, ts(now.Add(-day))}},
		{`INSERT INTO aspnet_Membership (ApplicationId, UserId, Password, PasswordFormat, PasswordSalt, Email, LoweredEmail,
			IsApproved, IsLockedOut, CreateDate, LastLoginDate, LastPasswordChangedDate, LastLockoutDate,
			FailedPasswordAttemptCount, FailedPasswordAttemptWindowStart, FailedPasswordAnswerAttemptCount, FailedPasswordAnswerAttemptWindowStart)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0, ?16)`,
			[]any{appID, m.userID, h.Stored, h.Format, h.Salt, email, strings.ToLower(email),
				!m.unapproved, m.locked, ts(now.Add(-3 * 365 * day)), ts(now.Add(-day)), ts(now.Add(-pwAge)), lockout,
				map[bool]int{true: 5, false: 0}[m.locked], never, never}},
		{`INSERT INTO UserMain (UserKey, ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, MarkedForDeleteOn, ProviderKey)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
			[]any{m.key, m.id, strings.ToUpper(m.login), m.disabled, appTS(effective), nullAppTS(now, m.expiration),
				appTS(updated), appTS(now.Add(-3 * 365 * day)), nil, strings.ToLower(m.userID)}},
		{`INSERT INTO ContactMain (ContactKey, ContactStatusCode, FullName, SortName, SyncContactID, ID, MajorKey, UpdatedOn, CreatedOn)
			VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?5, ?6, ?7)`,
			[]any{m.key, cstatus, full, strings.TrimSpace(m.last + ", " + m.first), m.id, appTS(updated.Add(-2 * time.Minute)), appTS(now.Add(-3 * 365 * day))}},
		{`INSERT INTO Name (ID, MEMBER_TYPE, CATEGORY, STATUS, LAST_FIRST, FULL_NAME, TITLE, COMPANY, FIRST_NAME, LAST_NAME,
			CITY, COUNTRY, CHAPTER, MEMBER_RECORD, JOIN_DATE, PAID_THRU, MEMBER_STATUS, EMAIL, DATE_ADDED, LAST_UPDATED, UPDATED_BY)
			VALUES (?1, ?2, '', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, 'DEMO')`,
			[]any{m.id, m.mtype, status, strings.TrimSpace(m.last + ", " + m.first), full, m.title, m.company, m.first, m.last,
				m.city, m.country, m.chapter, record, appDate(now, -3*365*day), appDate(now, m.paidThru),
				memberStatus, email, appTS(now.Add(-3 * 365 * day)), appTS(updated.Add(-time.Minute))}},
		// iMIS ensures one Name_Security and one blank Name_Security_Groups row per contact.
		{`INSERT INTO Name_Security (ID, LOGIN_DISABLED, WEB_LOGIN) VALUES (?1, ?2, ?3)`, []any{m.id, m.disabled, strings.ToUpper(m.login)}},
		{`INSERT INTO Name_Security_Groups (ID, SECURITY_GROUP) VALUES (?1, '')`, []any{m.id}},
	}
	if m.staff {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`INSERT INTO Users (UserId, UserName, LevelMembership, LevelSystem) VALUES (?1, ?2, 2, 8)`, []any{strings.ToUpper(m.login), full}})
	}
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return fmt.Errorf("demo: seed %s: %w", m.login, err)
		}
	}
	for _, r := range m.roles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO UserRole (UserKey, RoleKey) VALUES (?1, ?2)`, m.key, roleKey(r)); err != nil {
			return fmt.Errorf("demo: seed %s roles: %w", m.login, err)
		}
	}
	for _, r := range m.deletedRoles {
		if _, err := tx.ExecContext(ctx, `INSERT INTO UserRole (UserKey, RoleKey, MarkedForDeleteOn) VALUES (?1, ?2, ?3)`, m.key, roleKey(r), appTS(now.Add(-5*day))); err != nil {
			return fmt.Errorf("demo: seed %s roles: %w", m.login, err)
		}
	}
	for _, g := range m.securityGroups {
		if _, err := tx.ExecContext(ctx, `INSERT INTO Name_Security_Groups (ID, SECURITY_GROUP) VALUES (?1, ?2)`, m.id, g); err != nil {
			return fmt.Errorf("demo: seed %s security groups: %w", m.login, err)
		}
	}
	// Group memberships: the member-type security group (kept by iMIS's triggers for every
	// user of the type), then the member's other groups with their windows.
	type gm struct {
		key        string
		join, drop any
	}
	var gms []gm
	for _, t := range memberTypes {
		if t.code == m.mtype {
			gms = append(gms, gm{t.groupKey, appDate(now, -3*365*day), nil})
		}
	}
	for _, name := range m.groups {
		for _, d := range groupDefs {
			if d.name == name {
				gms = append(gms, gm{d.key, nullAppTS(now, d.join), nullAppTS(now, d.drop)})
			}
		}
	}
	for j, g := range gms {
		if _, err := tx.ExecContext(ctx, `INSERT INTO GroupMember (GroupMemberKey, GroupKey, MemberContactKey, CreatedOn, UpdatedOn, JoinDate, DropDate)
			VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)`, fmt.Sprintf("6B1D%04X-0000-4000-8000-0000000000%02X", i, j), g.key, m.key,
			appTS(now.Add(-400*day)), g.join, g.drop); err != nil {
			return fmt.Errorf("demo: seed %s groups: %w", m.login, err)
		}
	}
	return nil
}

// appDate is a date (midnight of the application clock) off from now; 0 gives NULL.
func appDate(now time.Time, off time.Duration) any {
	if off == 0 {
		return nil
	}
	y, mo, d := now.Add(off).UTC().Add(AppTimeOffset).Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC).Format(timeLayout)
}

func roleKey(name string) string {
	for _, r := range roleKeys {
		if r.name == name {
			return r.key
		}
	}
	return ""
}

func hashFor(m member) (password.Hash, error) {
	switch m.hash {
	case "clear":
		return password.Hash{Format: password.FormatClear, Stored: m.password}, nil
	case "encrypted":
		junk := make([]byte, 48)
		rand.Read(junk)
		salt := make([]byte, 16)
		rand.Read(salt)
		return password.Hash{Format: password.FormatEncrypted, Stored: base64.StdEncoding.EncodeToString(junk),
			Salt: base64.StdEncoding.EncodeToString(salt)}, nil
	case "sha1":
		return password.NewMembershipHash(password.SHA1, m.password)
	case "":
		pw := m.password
		if pw == "" { // no usable password: hash of random bytes
			b := make([]byte, 24)
			rand.Read(b)
			pw = base64.StdEncoding.EncodeToString(b)
		}
		return password.NewMembershipHash(password.SHA256, pw)
	}
	return password.Hash{}, fmt.Errorf("demo: unknown hash kind %q", m.hash)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func asciiOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x80 {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// --- helpers for tests and the change-polling (shadow user) sync ---

// ErrNoSuchLogin is returned by the Set* helpers for a login the demo database lacks.
var ErrNoSuchLogin = errors.New("demo: no such login")

// SetRoles replaces the member's roles (creating unknown role names) and bumps
// UserMain.UpdatedOn so that change polling sees the member.
func SetRoles(ctx context.Context, db *sql.DB, login string, roles ...string) error {
	return change(ctx, db, login, func(tx *sql.Tx, u user, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM UserRole WHERE UserKey = ?1`, u.key); err != nil {
			return err
		}
		for _, r := range roles {
			var key string
			err := tx.QueryRowContext(ctx, `SELECT RoleKey FROM RoleMain WHERE Name = ?1 AND MarkedForDeleteOn IS NULL`, r).Scan(&key)
			if errors.Is(err, sql.ErrNoRows) {
				key = newGUID()
				_, err = tx.ExecContext(ctx, `INSERT INTO RoleMain (RoleKey, Name, Description, UpdatedOn) VALUES (?1, ?2, ?2, ?3)`, key, r, appTS(now))
			}
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO UserRole (UserKey, RoleKey) VALUES (?1, ?2)`, u.key, key); err != nil {
				return err
			}
		}
		return nil
	})
}

// SetPaidThrough sets Name.PAID_THRU to t's wall-clock date and time (zero t: NULL); t's
// wall clock is taken as the AMS's application clock.
func SetPaidThrough(ctx context.Context, db *sql.DB, login string, t time.Time) error {
	return change(ctx, db, login, func(tx *sql.Tx, u user, now time.Time) error {
		var v any
		if !t.IsZero() {
			v = t.Format(timeLayout)
		}
		_, err := tx.ExecContext(ctx, `UPDATE Name SET PAID_THRU = ?1, LAST_UPDATED = ?2 WHERE ID = ?3`, v, appTS(now), u.id)
		return err
	})
}

// SetLockedOut locks or unlocks the member's account.
func SetLockedOut(ctx context.Context, db *sql.DB, login string, locked bool) error {
	return change(ctx, db, login, func(tx *sql.Tx, u user, now time.Time) error {
		lockout := never // ASP.NET's UnlockUser resets the lockout date
		if locked {
			lockout = ts(now)
		}
		_, err := tx.ExecContext(ctx, `UPDATE aspnet_Membership SET IsLockedOut = ?1, LastLockoutDate = ?2 WHERE UserId = ?3`, locked, lockout, u.userID)
		return err
	})
}

// SetDisabled disables or enables the member's account (UserMain.IsDisabled).
func SetDisabled(ctx context.Context, db *sql.DB, login string, disabled bool) error {
	return change(ctx, db, login, func(tx *sql.Tx, u user, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE UserMain SET IsDisabled = ?1 WHERE UserKey = ?2`, disabled, u.key)
		return err
	})
}

// SetEmail changes the member's e-mail address (Name.EMAIL and the Membership copy).
func SetEmail(ctx context.Context, db *sql.DB, login, email string) error {
	return change(ctx, db, login, func(tx *sql.Tx, u user, now time.Time) error {
		if _, err := tx.ExecContext(ctx, `UPDATE Name SET EMAIL = ?1, LAST_UPDATED = ?2 WHERE ID = ?3`, email, appTS(now), u.id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE aspnet_Membership SET Email = ?1, LoweredEmail = ?2 WHERE UserId = ?3`, email, strings.ToLower(email), u.userID)
		return err
	})
}

// SetPassword stores a new SHA-256 Membership hash for the member.
func SetPassword(ctx context.Context, db *sql.DB, login, pw string) error {
	h, err := password.NewMembershipHash(password.SHA256, pw)
	if err != nil {
		return err
	}
	return change(ctx, db, login, func(tx *sql.Tx, u user, now time.Time) error {
		_, err := tx.ExecContext(ctx, `UPDATE aspnet_Membership SET Password = ?1, PasswordSalt = ?2, PasswordFormat = ?3, LastPasswordChangedDate = ?4 WHERE UserId = ?5`,
			h.Stored, h.Salt, h.Format, ts(now), u.userID)
		return err
	})
}

// SetUpdatedAt sets the member's UserMain.UpdatedOn (application time) to the instant at,
// making it the member's latest change (for change-polling tests).
func SetUpdatedAt(ctx context.Context, db *sql.DB, login string, at time.Time) error {
	res, err := db.ExecContext(ctx, `UPDATE UserMain SET UpdatedOn = ?1 WHERE UserKey = (SELECT um.UserKey FROM aspnet_Users au
		JOIN UserMain um ON um.ProviderKey = au.UserId WHERE au.LoweredUserName = ?2)`, appTS(at), strings.ToLower(norm.NFC.String(strings.TrimSpace(login))))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %q", ErrNoSuchLogin, login)
	}
	return nil
}

// SetPasswordExpiry stores the AMS's password expiry settings in a demo database, in whole
// days (0 = never): PCI.PasswordExpireDays for members who are not system administrators and
// PCI.PasswordExpireDaysSysAdmin for system administrators.
func SetPasswordExpiry(ctx context.Context, db *sql.DB, memberDays, sysAdminDays int) error {
	for name, days := range map[string]int{"PCI.PasswordExpireDays": memberDays, "PCI.PasswordExpireDaysSysAdmin": sysAdminDays} {
		res, err := db.ExecContext(ctx, `UPDATE SystemConfig SET ParameterValue = ?1 WHERE ParameterName = ?2`, fmt.Sprint(days), name)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("demo: SystemConfig %s: %d rows", name, n)
		}
	}
	return nil
}

// AppTime renders an instant as the demo AMS's application clock text (for tests that write
// iMIS dates directly).
func AppTime(t time.Time) string { return appTS(t) }

// Touch bumps the member's UserMain.UpdatedOn only.
func Touch(ctx context.Context, db *sql.DB, login string) error {
	return change(ctx, db, login, func(*sql.Tx, user, time.Time) error { return nil })
}

type user struct{ key, userID, id, updated string }

// change runs fn in a transaction for the member, then bumps UserMain.UpdatedOn to now
// (strictly after its previous value, in 10 ms steps).
func change(ctx context.Context, db *sql.DB, login string, fn func(*sql.Tx, user, time.Time) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer tx.Rollback()
	var u user
	err = tx.QueryRowContext(ctx, `SELECT um.UserKey, au.UserId, um.ContactMaster, CAST(um.UpdatedOn AS TEXT)
		FROM aspnet_Users au JOIN UserMain um ON um.ProviderKey = au.UserId
		WHERE au.LoweredUserName = ?1`, strings.ToLower(norm.NFC.String(strings.TrimSpace(login)))).Scan(&u.key, &u.userID, &u.id, &u.updated)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %q", ErrNoSuchLogin, login)
	}
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	// 10 ms steps: exactly representable in SQL Server's datetime (3/300 s). UpdatedOn is
	// application time: read back as an instant to keep the bump strictly increasing.
	now := time.Now().UTC().Truncate(datetimeStep)
	if prev, perr := time.ParseInLocation(timeLayout, u.updated, time.UTC); perr == nil {
		if prev = prev.Add(-AppTimeOffset); !now.After(prev) {
			now = prev.Truncate(datetimeStep).Add(datetimeStep)
		}
	}
	if err := fn(tx, u, now); err != nil {
		return fmt.Errorf("demo: change %q: %w", login, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE UserMain SET UpdatedOn = ?1 WHERE UserKey = ?2`, appTS(now), u.key); err != nil {
		return fmt.Errorf("demo: change %q: %w", login, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("demo: change %q: %w", login, err)
	}
	return nil
}

func newGUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return sqldir.GUID(b).String()
}
