package imis

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// iMIS (SQL Server) preset. Notes for readers of these queries:
//   - The login chain is aspnet_Users (looked up by (ApplicationId, LoweredUserName), the
//     unique clustered index, with the application 'iMIS') → aspnet_Membership (hash, salt,
//     format, IsApproved, IsLockedOut) → UserMain via UserMain.ProviderKey, the aspnet user id
//     as lower-case nvarchar text (iMIS writes LOWER(guid)). The aspnet id is converted to that
//     text, not the column to a uniqueidentifier: IX_UserMain_ProviderKey stays usable, a
//     malformed ProviderKey elsewhere cannot fail the query, and the comparison holds under a
//     case-sensitive collation too (both sides are lower case; no collation is assumed).
//     → ContactMain (same key) → Name (UserMain.ContactMaster = Name.ID) → Member_Types.
//   - Name columns are varchar; member ids are compared as varchar so the index on Name.ID and
//     UserMain.ContactMaster can be used with an nvarchar parameter.
//   - Deleted: Name.STATUS LIKE 'D%', ContactMain status 'Delete' (ContactStatusRef),
//     ContactMain/UserMain marked for delete, or what iMIS's Name delete trigger leaves
//     behind (ContactMain.SyncContactID NULL, UserMain.UserId or ContactMaster blanked).
//   - Clocks: UserMain, ContactMain, Name and GroupMember dates are application time;
//     aspnet_Membership dates are UTC (aliases ending in _utc).
//   - Roles: the sources of iMIS's own login procedure (asi_UserTokenUpdate), read-only;
//     iMIS's login procedures are never called (they write UserToken).
//   - Isolation (session 26, reviews s25 Y-7 and s26 R3-4). The sign-in and look-up reads
//     (member_by_login, member_by_key, member_by_id, members_by_email, the roles, the
//     reconcile's listing, changed_since) read WITH (NOLOCK) on every table, as before
//     session 26: under locking READ COMMITTED (READ_COMMITTED_SNAPSHOT off) they would wait
//     for iMIS's write locks, and a batch holding a table lock would stop every sign-in for
//     query_timeout. A dirty read there admits or refuses one attempt, or names a member to
//     read again, and ends nothing. The reads that confirm a deactivation
//     (member_by_key_committed, roles_by_key_committed: the second read, FreshMemberByKey)
//     have no hint on the member's tables, so they read committed data (row versions where
//     READ_COMMITTED_SNAPSHOT is on, else they wait for a save in flight, at most
//     sqldir.CommittedLockTimeout on SQL Server; a lock or query time-out is the AMS
//     unavailable, the refusal unconfirmed, never a deactivation). NOLOCK stays on the
//     SystemConfig reads in both (site settings, not a member's rows), and on the ping and
//     probe reads (README, "Connecting to iMIS safely").
//   - The SQLite preset (the demo) is generated from the same text (imisQueries).

// imisDialect holds the few spelling differences between SQL Server and SQLite.
type imisDialect struct {
	sqlite bool
	// contactKey makes UserMain.UserKey the member key (member_key: contact_key) instead of
	// UserMain.ProviderKey.
	contactKey bool
}

// t rewrites the SQL Server text of the preset for the dialect: schema prefix, table hints,
// N” literals and @pN parameters.
func (d imisDialect) t(s string) string {
	if !d.sqlite {
		return s
	}
	s = plusSelectedColumns(s)
	r := strings.NewReplacer("dbo.", "", " WITH (NOLOCK)", "", "N'", "'",
		"TRY_CONVERT(uniqueidentifier, sc.ParameterValue)", "sc.ParameterValue",
		"TRY_CONVERT(uniqueidentifier, um.ProviderKey)", "um.ProviderKey",
		"CONVERT(nchar(36), um.UserKey)", "UPPER(um.UserKey)",
		"TRY_CONVERT(int, sc.ParameterValue)", "CAST(sc.ParameterValue AS INTEGER)")
	s = r.Replace(s)
	for i := 12; i >= 1; i-- {
		s = strings.ReplaceAll(s, fmt.Sprintf("@p%d", i), fmt.Sprintf("?%d", i))
	}
	return s
}

// tableRef is a table named in a FROM or JOIN of the preset's text: dbo.Table AS alias.
var tableRef = regexp.MustCompile(`dbo\.(\w+) AS (\w+)`)

// nolock puts WITH (NOLOCK) on every table the SQL Server text reads (the sign-in and look-up
// reads, see the notes above); committed only on the SystemConfig (the confirming reads).
func nolock(s string) string {
	return tableRef.ReplaceAllString(s, "dbo.$1 AS $2 WITH (NOLOCK)")
}

func committed(s string) string {
	return tableRef.ReplaceAllStringFunc(s, func(ref string) string {
		if strings.HasPrefix(ref, "dbo.SystemConfig ") {
			return ref + " WITH (NOLOCK)"
		}
		return ref
	})
}

// plusSelectedColumns writes each table column alone on its line of a select list (the
// member columns, imisMemberColumns: "\tn.CITY AS city,") as +column, for SQLite. Unary plus
// is a no-op there (the value and its storage class are kept), but the result column is then
// an expression, which has no declared type: the driver (modernc.org/sqlite) neither copies
// nor upper-cases a type name per column at every query (two allocations per column, about 80
// per sign-in), and hands datetime text to sqldir as it is, which reads it in its clock's zone
// anyway, instead of first parsing it into a time.Time by trying one layout after another
// (four time.Parse calls per column and row, three of them failing).
func plusSelectedColumns(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		col, _, ok := strings.Cut(l, " AS ")
		if ok && strings.HasPrefix(col, "\t") && isColumnRef(col[1:]) {
			lines[i] = "\t+" + l[1:]
		}
	}
	return strings.Join(lines, "")
}

// isColumnRef reports whether s is alias.Column (ASCII letters, digits and _).
func isColumnRef(s string) bool {
	table, col, ok := strings.Cut(s, ".")
	return ok && isIdent(table) && isIdent(col)
}

func isIdent(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return s != ""
}

// toUTC converts an application-time expression to UTC; @p4 is the offset in minutes.
func (d imisDialect) toUTC(expr string) string {
	if d.sqlite {
		return "strftime('%Y-%m-%d %H:%M:%f', " + expr + ", (-?4) || ' minutes')"
	}
	return "DATEADD(minute, -@p4, " + expr + ")"
}

// dbClock is the db_clock query: the database server's UTC clock.
func (d imisDialect) dbClock() string {
	if d.sqlite {
		return `SELECT strftime('%Y-%m-%d %H:%M:%f', 'now') AS now_utc`
	}
	return `SELECT SYSUTCDATETIME() AS now_utc`
}

// top limits a query to n rows (a literal or a parameter): SQL Server spells it after
// SELECT, SQLite at the end.
func (d imisDialect) top(n string) (head, tail string) {
	if d.sqlite {
		return "SELECT", "\nLIMIT " + strings.ReplaceAll(n, "@p", "?")
	}
	return "SELECT TOP (" + n + ")", ""
}

// sysAdminRole is iMIS's SysAdmin role (RoleMain.RoleKey): vUserData's IsAdmin is a UserRole
// row for it (CreateViews.sql l.16469, without a MarkedForDeleteOn condition), and iMIS
// expires system administrators' passwords by PCI.PasswordExpireDaysSysAdmin instead of
// PCI.PasswordExpireDays ("Number of days before all non-system administrator passwords
// expire", UpdateSystemConfig.sql l.198-230).
const sysAdminRole = "8E5C7C1D-170B-4294-B646-2E60D2091DF8"

// memberTypeSecurity is GroupTypeRef 'Member Type Security' (CreateProcedures.sql:29529).
const memberTypeSecurity = "636A1E55-38BC-4A8F-AC8D-A6873D697F18"

const imisMemberColumns = `
	um.UserKey AS user_key,
	um.ContactMaster AS member_id,
	au.UserName AS login,
	um.UserId AS ams_user_id,
	um.ProviderKey AS provider_key,
	COALESCE(NULLIF(n.EMAIL, ''), m.Email) AS email,
	n.FIRST_NAME AS given_name,
	n.LAST_NAME AS family_name,
	COALESCE(NULLIF(n.FULL_NAME, ''), cm.FullName) AS full_name,
	n.COMPANY AS company,
	n.MEMBER_TYPE AS member_type,
	mt.MEMBER_RECORD AS member_record,
	n.STATUS AS status,
	n.MEMBER_STATUS AS member_status,
	n.JOIN_DATE AS join_date,
	n.PAID_THRU AS paid_through,
	n.TITLE AS title,
	n.CHAPTER AS chapter,
	n.CATEGORY AS category,
	n.CO_ID AS company_id,
	n.CITY AS city,
	n.STATE_PROVINCE AS state_province,
	n.COUNTRY AS country,
	CASE WHEN EXISTS (SELECT 1 FROM dbo.Users AS su WHERE su.UserId = um.UserId) THEN 1 ELSE 0 END AS is_staff,
	CASE WHEN EXISTS (SELECT 1 FROM dbo.UserRole AS sa WHERE sa.UserKey = um.UserKey AND sa.RoleKey = '` + sysAdminRole + `') THEN 1 ELSE 0 END AS is_sysadmin,
	CASE WHEN (um.MultiFactorInfo IS NOT NULL AND um.MultiFactorInfo <> N'') OR EXISTS (` + imisSiteMFA + `) THEN 1 ELSE 0 END AS ams_second_factor,
	um.IsDisabled AS is_disabled,
	um.EffectiveDate AS effective_date,
	um.ExpirationDate AS expiration_date,
	m.IsApproved AS is_approved,
	m.IsLockedOut AS is_locked_out,
	CASE WHEN ` + imisDeleted + ` THEN 1 ELSE 0 END AS is_deleted,
	m.LastPasswordChangedDate AS password_changed_at_utc,
	um.UpdatedOn AS updated_at,
	cm.UpdatedOn AS updated_at_contact,
	n.LAST_UPDATED AS updated_at_name,
	m.LastPasswordChangedDate AS updated_at_password_utc,
	m.LastLockoutDate AS updated_at_lockout_utc`

// imisSiteMFA finds a SystemConfig row PCI.MultiFactorAuthentication that is on: iMIS's
// site-wide switch for multi-factor authentication (default '0', UpdateSystemConfig.sql:717-720;
// imis-schema.md recommendation 11). ams_second_factor is 1 when the user has an authenticator
// enrolled in iMIS (UserMain.MultiFactorInfo set), whatever the switch, or when the switch is
// on, whatever MultiFactorInfo. Neither half is settled by the reference, so both fail closed:
// whether iMIS still asks an enrolled user while the switch is '0', and whether it makes every
// user enrol at its sign-in while the switch is on, are not known (README: "The AMS's own
// second factor"). Off is '0', an empty value or 'false' (any case, blanks trimmed); any
// other value, in any of the rows of that name (several may exist, one per organisation,
// rows marked for delete included), is on.
const imisSiteMFA = `SELECT 1 FROM dbo.SystemConfig AS mfa WHERE mfa.ParameterName = N'PCI.MultiFactorAuthentication'
			AND LOWER(LTRIM(RTRIM(COALESCE(mfa.ParameterValue, N'')))) NOT IN (N'', N'0', N'false')`

// imisDeleted holds when the contact is deleted (see the notes above).
const imisDeleted = `n.STATUS LIKE 'D%' OR n.ID IS NULL OR csr.ContactStatusDesc = N'Delete' OR cm.MarkedForDeleteOn IS NOT NULL OR um.MarkedForDeleteOn IS NOT NULL OR cm.SyncContactID IS NULL OR um.UserId = '' OR um.ContactMaster = ''`

const imisMemberFrom = `
FROM dbo.aspnet_Applications AS a
	JOIN dbo.aspnet_Users AS au ON au.ApplicationId = a.ApplicationId
	JOIN dbo.aspnet_Membership AS m ON m.UserId = au.UserId
	JOIN dbo.UserMain AS um ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100)))
	JOIN dbo.ContactMain AS cm ON cm.ContactKey = um.UserKey
	LEFT JOIN dbo.ContactStatusRef AS csr ON csr.ContactStatusCode = cm.ContactStatusCode
	LEFT JOIN dbo.Name AS n ON n.ID = um.ContactMaster
	LEFT JOIN dbo.Member_Types AS mt ON mt.MEMBER_TYPE = n.MEMBER_TYPE
WHERE a.LoweredApplicationName = N'imis'`

// imisListFrom is imisMemberFrom driven from UserMain, for list_members: its pages are ranges
// of IX_UserMain_ProviderKey (member_key provider_key), so each page is a seek, not a scan and
// sort of every login. The aspnet user is found by converting the ProviderKey (TRY_CONVERT: a
// malformed one matches nothing instead of failing the query); the residual condition keeps
// the lookups' rule that ProviderKey is the lower-case text of the aspnet user id.
const imisListFrom = `
FROM dbo.UserMain AS um
	JOIN dbo.aspnet_Users AS au ON au.UserId = TRY_CONVERT(uniqueidentifier, um.ProviderKey)
		AND um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100)))
	JOIN dbo.aspnet_Applications AS a ON a.ApplicationId = au.ApplicationId
	JOIN dbo.aspnet_Membership AS m ON m.UserId = au.UserId
	JOIN dbo.ContactMain AS cm ON cm.ContactKey = um.UserKey
	LEFT JOIN dbo.ContactStatusRef AS csr ON csr.ContactStatusCode = cm.ContactStatusCode
	LEFT JOIN dbo.Name AS n ON n.ID = um.ContactMaster
	LEFT JOIN dbo.Member_Types AS mt ON mt.MEMBER_TYPE = n.MEMBER_TYPE
WHERE a.LoweredApplicationName = N'imis'`

// imisRoles builds roles_by_key and roles_in_range: iMIS's asi_UserTokenUpdate steps 2-8,
// read-only (see imis-schema.md §3), for the UserMain rows um that match umCond, with the
// application time now and the source switches flag(i) (i = 0..8, legacy.RoleSources order).
// keyCol, when not empty, is selected as user_key (the range query). Deliberate differences
// from iMIS: rows marked for delete are ignored (iMIS keeps them), and a role named Everyone
// that is a system role comes only from the everyone source.
func imisRoles(keyCol, umCond, now string, flag func(i int) string) string {
	sel := func(role, source string) string {
		if keyCol != "" {
			return "SELECT " + keyCol + " AS user_key, " + role + " AS role, " + source + " AS source"
		}
		return "SELECT " + role + " AS role, " + source + " AS source"
	}
	return sel("r.Name", "N'user_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.UserRole AS ur ON ur.UserKey = um.UserKey
	JOIN dbo.RoleMain AS r ON r.RoleKey = ur.RoleKey
WHERE ` + flag(0) + ` = 1 AND ` + umCond + ` AND ur.MarkedForDeleteOn IS NULL AND r.MarkedForDeleteOn IS NULL
	AND NOT (r.Name = N'Everyone' AND r.IsSystem = 1)
UNION ALL
` + sel("g.Name", "CASE WHEN g.GroupTypeKey = '"+memberTypeSecurity+"' THEN N'member_type_groups' ELSE N'groups' END") + `
FROM dbo.UserMain AS um
	JOIN dbo.GroupMember AS gm ON gm.MemberContactKey = um.UserKey
	JOIN dbo.GroupMain AS g ON g.GroupKey = gm.GroupKey
WHERE ` + umCond + `
	AND (gm.JoinDate IS NULL OR gm.JoinDate <= ` + now + `) AND (gm.DropDate IS NULL OR gm.DropDate >= ` + now + `)
	AND gm.MarkedForDeleteOn IS NULL AND g.MarkedForDeleteOn IS NULL
	AND ((` + flag(1) + ` = 1 AND g.GroupTypeKey <> '` + memberTypeSecurity + `') OR (` + flag(2) + ` = 1 AND g.GroupTypeKey = '` + memberTypeSecurity + `'))
UNION ALL
` + sel("nsg.SECURITY_GROUP", "N'security_groups'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Name_Security AS ns ON ns.ID = um.ContactMaster
	JOIN dbo.Name_Security_Groups AS nsg ON nsg.ID = ns.ID
WHERE ` + flag(3) + ` = 1 AND ` + umCond + ` AND LTRIM(RTRIM(nsg.SECURITY_GROUP)) <> ''
UNION ALL
` + sel("n.MEMBER_TYPE", "N'member_type'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Name AS n ON n.ID = um.ContactMaster
WHERE ` + flag(4) + ` = 1 AND ` + umCond + ` AND LTRIM(RTRIM(n.MEMBER_TYPE)) <> ''
UNION ALL
` + sel("g.Name", "N'member_group'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Name AS n ON n.ID = um.ContactMaster
	JOIN dbo.Member_Types AS mt ON mt.MEMBER_TYPE = n.MEMBER_TYPE
	JOIN dbo.SystemConfig AS sc ON sc.ParameterName = N'CM.MemberGroupKey'
	JOIN dbo.GroupMain AS g ON g.GroupKey = TRY_CONVERT(uniqueidentifier, sc.ParameterValue)
WHERE ` + flag(5) + ` = 1 AND ` + umCond + ` AND mt.MEMBER_RECORD = 1
UNION ALL
` + sel("CONCAT(N'CustomerLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelMembership >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'BillingLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelDues >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'CashARLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelCashAR >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'EventsLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelMeeting >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'OrdersLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelOrderEntry >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'ReferralLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelReferral >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'CertificationLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelCert >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'FundraisingLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelFundRaising >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'ServiceCentralLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelSC >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("CONCAT(N'ExpoLevel', CAST(lv.LevelCode AS varchar(10)))", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
	JOIN dbo.LegacySecurityLevelRef AS lv ON su.LevelExpo >= lv.LevelCode
WHERE ` + flag(6) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("N'SysAdmin'", "N'staff_roles'") + `
FROM dbo.UserMain AS um
	JOIN dbo.Users AS su ON su.UserId = um.UserId
WHERE ` + flag(6) + ` = 1 AND ` + umCond + ` AND su.LevelSystem >= 8
UNION ALL
` + sel("N'Everyone'", "N'everyone'") + `
FROM dbo.UserMain AS um
WHERE ` + flag(7) + ` = 1 AND ` + umCond + `
UNION ALL
` + sel("N'AuthenticatedUsers'", "N'authenticated_users'") + `
FROM dbo.UserMain AS um
WHERE ` + flag(8) + ` = 1 AND ` + umCond
}

func param(n int) string { return fmt.Sprintf("@p%d", n) }

// imisQueries returns the iMIS preset in a dialect.
func imisQueries(d imisDialect) map[string]string {
	top2, tail2 := d.top("2")
	topN, tailN := d.top("@p2")
	utc := d.toUTC
	changed := topN + ` c.user_key AS user_key, MAX(c.changed_at) AS updated_at_utc
FROM (
	SELECT um.UserKey AS user_key, ` + utc("um.UpdatedOn") + ` AS changed_at
	FROM dbo.UserMain AS um WITH (NOLOCK) WHERE um.UpdatedOn > @p1
	UNION ALL
	SELECT um.UserKey, ` + utc("cm.UpdatedOn") + `
	FROM dbo.ContactMain AS cm WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.UserKey = cm.ContactKey
	WHERE cm.UpdatedOn > @p1
	UNION ALL
	SELECT um.UserKey, ` + utc("n.LAST_UPDATED") + `
	FROM dbo.Name AS n WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ContactMaster = n.ID
	WHERE n.LAST_UPDATED > @p1
	UNION ALL
	SELECT um.UserKey, ` + utc("gm.UpdatedOn") + `
	FROM dbo.GroupMember AS gm WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.UserKey = gm.MemberContactKey
	WHERE gm.UpdatedOn > @p1
	UNION ALL
	SELECT um.UserKey, m.LastPasswordChangedDate
	FROM dbo.aspnet_Membership AS m WITH (NOLOCK)
		JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(m.UserId AS nvarchar(100)))
	WHERE m.LastPasswordChangedDate > @p3
	UNION ALL
	SELECT um.UserKey, m.LastLockoutDate
	FROM dbo.aspnet_Membership AS m WITH (NOLOCK)
		JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(m.UserId AS nvarchar(100)))
	WHERE m.LastLockoutDate > @p3
) AS c
GROUP BY c.user_key
ORDER BY updated_at_utc, user_key` + tailN
	byKey := top2 + imisMemberColumns + imisMemberFrom + `
	AND um.UserKey = @p1
ORDER BY um.UserKey` + tail2
	rolesByKey := imisRoles("", "um.UserKey = @p1", "@p2", func(i int) string { return param(3 + i) })
	return map[string]string{
		sqldir.QueryMemberByLogin: d.t(nolock(d.keyed(top2 + imisMemberColumns + `,
	m.Password AS password,
	m.PasswordSalt AS password_salt,
	m.PasswordFormat AS password_format` + imisMemberFrom + `
	AND au.LoweredUserName = @p1
ORDER BY um.UserKey` + tail2))),

		sqldir.QueryMemberByKey:          d.t(nolock(d.keyed(byKey))),
		sqldir.QueryMemberByKeyCommitted: d.t(committed(d.keyed(byKey))),

		sqldir.QueryMemberByID: d.t(nolock(d.keyed(top2 + imisMemberColumns + imisMemberFrom + `
	AND um.ContactMaster = CAST(@p1 AS varchar(50))
ORDER BY um.UserKey` + tail2))),

		sqldir.QueryRolesByKey:          d.t(nolock(d.keyed(rolesByKey))),
		sqldir.QueryRolesByKeyCommitted: d.t(committed(d.keyed(rolesByKey))),

		sqldir.QueryRolesInRange: d.t(nolock(d.keyed(imisRoles("um.UserKey", "CONVERT(nchar(36), um.UserKey) > @p1 AND CONVERT(nchar(36), um.UserKey) <= @p2", "@p3",
			func(i int) string { return param(4 + i) })))),

		sqldir.QueryChangedSince: d.t(d.keyed(changed)),

		sqldir.QueryListMembers: d.t(nolock(d.keyed(topN + imisMemberColumns + imisListFrom + `
	AND CONVERT(nchar(36), um.UserKey) > @p1
	AND NOT (` + imisDeleted + `)
ORDER BY CONVERT(nchar(36), um.UserKey)` + tailN))),

		sqldir.QueryMembersByEmail: d.t(nolock(d.keyed(topN + imisMemberColumns + imisMemberFrom + `
	AND m.LoweredEmail = @p1
	AND NOT (` + imisDeleted + `)
ORDER BY um.UserKey` + tailN))),

		sqldir.QueryAppClock: d.t(`SELECT TRY_CONVERT(int, sc.ParameterValue) AS offset_minutes
FROM dbo.SystemConfig AS sc WITH (NOLOCK)
WHERE sc.ParameterName = N'System.Database.TimeZoneOffset'`),

		// The database server's UTC clock: the clock of the UpdatedOn stamps (GETUTCDATE() plus
		// the offset, converted back by changed_since), not the web server's (aspnet dates).
		sqldir.QueryDBClock: d.dbClock(),

		sqldir.QueryPasswordExpiry: d.t(`SELECT CASE WHEN sc.ParameterName = N'PCI.PasswordExpireDaysSysAdmin' THEN N'sysadmins' ELSE N'members' END AS applies_to,
	sc.ParameterValue AS days, sc.ParameterName AS setting
FROM dbo.SystemConfig AS sc WITH (NOLOCK)
WHERE sc.ParameterName IN (N'PCI.PasswordExpireDays', N'PCI.PasswordExpireDaysSysAdmin')`),

		sqldir.QueryPing: d.t(`SELECT COUNT(*) AS applications
FROM dbo.aspnet_Applications WITH (NOLOCK) WHERE LoweredApplicationName = N'imis'`),
	}
}

// keyed rewrites the preset's text, written for member_key contact_key (the member key is
// um.UserKey, compared with a uniqueidentifier parameter), for member_key provider_key: the
// member key is UserMain.ProviderKey, the aspnet user id as lower-case nvarchar text, compared
// with a lower-case nvarchar parameter (IX_UserMain_ProviderKey; no collation assumed), and
// rows keyed by contact (UserRole, GroupMember) are reached through it.
func (d imisDialect) keyed(s string) string {
	if d.contactKey {
		return s
	}
	byProvider := "IN (SELECT pk.UserKey FROM dbo.UserMain AS pk WHERE pk.ProviderKey = @p1)"
	return strings.NewReplacer(
		"um.UserKey AS user_key,", "um.ProviderKey AS user_key,\n\tum.UserKey AS contact_key,",
		"SELECT um.UserKey AS user_key,", "SELECT um.ProviderKey AS user_key,",
		"SELECT um.UserKey, ", "SELECT um.ProviderKey, ",
		"um.UserKey = @p1", "um.ProviderKey = @p1",
		"ur.UserKey = @p1", "ur.UserKey "+byProvider,
		"gm.MemberContactKey = @p1", "gm.MemberContactKey "+byProvider,
		"SELECT um.UserKey AS user_key, ", "SELECT um.ProviderKey AS user_key, ",
		"CONVERT(nchar(36), um.UserKey) <= @p2", "um.ProviderKey <= @p2",
		"CONVERT(nchar(36), um.UserKey) > @p1", "um.ProviderKey > @p1",
		"ORDER BY CONVERT(nchar(36), um.UserKey)", "ORDER BY um.ProviderKey",
		"ORDER BY um.UserKey", "ORDER BY um.ProviderKey",
	).Replace(s)
}

// imisProbes are the login-chain probes for the iMIS preset on SQL Server (sqldir.Preset.Probes).
func imisProbes() []sqldir.Probe {
	return []sqldir.Probe{
		{What: "no aspnet_Users row has this LoweredUserName (in any application)",
			Query: `SELECT COUNT(*) AS n FROM dbo.aspnet_Users WITH (NOLOCK) WHERE LoweredUserName = LOWER(@p1)`},
		{What: "the aspnet_Users row is not in application 'iMIS'",
			Query: `SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.aspnet_Applications AS a WITH (NOLOCK) ON a.ApplicationId = au.ApplicationId WHERE au.LoweredUserName = LOWER(@p1) AND a.LoweredApplicationName = N'imis'`},
		{What: "the aspnet user has no aspnet_Membership row (no password)",
			Query: `SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.aspnet_Membership AS m WITH (NOLOCK) ON m.UserId = au.UserId WHERE au.LoweredUserName = LOWER(@p1)`},
		{What: "no UserMain row has ProviderKey = the aspnet UserId (lower-case text)",
			Query: `SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100))) WHERE au.LoweredUserName = LOWER(@p1)`},
		{What: "the UserMain row has no ContactMain row with the same key",
			Query: `SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100))) JOIN dbo.ContactMain AS cm WITH (NOLOCK) ON cm.ContactKey = um.UserKey WHERE au.LoweredUserName = LOWER(@p1)`},
	}
}
