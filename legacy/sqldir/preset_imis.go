package sqldir

// Named queries. A preset supplies all of them; Config.Queries overrides single ones.
const (
	// QueryMemberByLogin finds the member for a sign-in name, with the password hash.
	// @p1 = the login, NFC-normalised, trimmed and lower-cased by the directory.
	QueryMemberByLogin = "member_by_login"
	// QueryMemberByKey finds a member by contact key. @p1 = the key (a uniqueidentifier on
	// SQL Server, canonical upper-case GUID text elsewhere).
	QueryMemberByKey = "member_by_key"
	// QueryMemberByID finds a member by member number. @p1 = the member id (string).
	QueryMemberByID = "member_by_id"
	// QueryRolesByKey lists the role names of a member. @p1 = the key, as for member_by_key.
	QueryRolesByKey = "roles_by_key"
	// QueryChangedSince lists members changed after a time, oldest first.
	// @p1 = the watermark (datetime, AMS wall clock), @p2 = the maximum number of rows.
	QueryChangedSince = "changed_since"
	// QueryPing checks that the AMS database answers; it must return at least one row.
	QueryPing = "ping"
)

// QueryNames lists every named query, in the order Diagnose runs them.
func QueryNames() []string {
	return []string{QueryPing, QueryMemberByLogin, QueryMemberByKey, QueryMemberByID, QueryRolesByKey, QueryChangedSince}
}

// Column contract
//
// Member queries (member_by_login, member_by_key, member_by_id, changed_since) return one row
// per member. Columns are found by name (case-insensitive), so their order does not matter and
// another AMS can supply its own queries with the same aliases:
//
//	user_key             required  immutable contact key: uniqueidentifier, or text (GUID or not)
//	login                required  sign-in name as stored
//	is_disabled          required  bit/int; NULL counts as disabled
//	is_approved          required  bit/int; NULL counts as not approved
//	is_locked_out        required  bit/int; NULL counts as locked out
//	is_deleted           required  bit/int; 1 when the contact is deleted or no longer a member;
//	                               NULL counts as deleted
//	effective_date       optional  datetime; NULL = no lower bound
//	expiration_date      optional  datetime; NULL = never expires
//	password_changed_at  optional  datetime; NULL = unknown (no password expiry)
//	member_id            optional  human-facing member number
//	email, given_name, family_name, full_name, company, member_type, status, picture_url
//	                     optional  text profile data
//	join_date, paid_through
//	                     optional  datetime profile data
//	updated_at           optional  datetime, a change time; required by changed_since
//	updated_at_*         optional  further change times; the member's UpdatedAt is the latest
//	                               non-NULL value of updated_at and all updated_at_* columns.
//	                               changed_since must ORDER BY that latest value ascending (the
//	                               presets compute it as updated_at_latest), then user_key
//	password             member_by_login only: the stored password (hash)
//	password_salt        member_by_login only: base64 salt ('' or NULL when none)
//	password_format      member_by_login only: 0 clear, 1 hashed, 2 encrypted (NULL = 1)
//	any other column     copied to Member.Extra when named in Config.ExtraColumns
//
// Datetime columns hold the AMS's wall clock (no zone); the directory reads them in
// Config.Timezone. ASP.NET's "never" sentinel (1754-01-01) and any date before 1800 read as
// NULL. A query that returns more than one row for a login, key or member id is refused.
//
// roles_by_key returns one row per role with the role name in a column named role.
// ping returns any row. changed_since takes @p1 (datetime, exclusive lower bound) and
// @p2 (row limit; the directory asks for one row more than it returns).
//
// Every value from outside is a parameter (@p1, @p2); no query is ever built from input.

// iMIS (SQL Server) preset. Notes for readers of these queries:
//   - The login chain is aspnet_Users (LoweredUserName, application 'iMIS') → aspnet_Membership
//     (hash, salt, format, IsApproved, IsLockedOut) → UserMain via UserMain.ProviderKey, the
//     aspnet user id as lower-case nvarchar text (iMIS writes LOWER(guid)). The aspnet id is
//     converted to that text (as ASI's own triggers compare, CAST(UserId AS nvarchar)), not the
//     column to a uniqueidentifier: an index on ProviderKey stays usable and a malformed
//     ProviderKey elsewhere in the table cannot fail the query with a conversion error.
//     → ContactMain (same key) → Name (UserMain.ContactMaster = Name.ID).
//   - Name columns are varchar; member ids are compared as varchar so the index on Name.ID and
//     UserMain.ContactMaster can be used with an nvarchar parameter.
//   - Deleted: Name.STATUS LIKE 'D%', ContactMain status 'Delete' (ContactStatusRef), or
//     ContactMain/UserMain marked for delete.
//   - UserMain.EffectiveDate/ExpirationDate, aspnet_Membership dates: wall clock datetime.
//   - The SQLite preset (preset_sqlite.go) shares the column list and the change-time
//     expression (imisMemberColumns, imisChangedAt: portable SQL) and differs only in FROM
//     (no dbo., no NOLOCK hints), TOP → LIMIT and @pN → ?N.

const imisMemberColumns = `
	um.UserKey AS user_key,
	um.ContactMaster AS member_id,
	au.UserName AS login,
	COALESCE(NULLIF(n.EMAIL, ''), m.Email) AS email,
	n.FIRST_NAME AS given_name,
	n.LAST_NAME AS family_name,
	COALESCE(NULLIF(n.FULL_NAME, ''), cm.FullName) AS full_name,
	n.COMPANY AS company,
	n.MEMBER_TYPE AS member_type,
	n.STATUS AS status,
	n.JOIN_DATE AS join_date,
	n.PAID_THRU AS paid_through,
	n.TITLE AS title,
	n.CHAPTER AS chapter,
	n.CATEGORY AS category,
	n.CO_ID AS company_id,
	n.MEMBER_STATUS AS member_status,
	n.CITY AS city,
	n.STATE_PROVINCE AS state_province,
	n.COUNTRY AS country,
	um.IsDisabled AS is_disabled,
	um.EffectiveDate AS effective_date,
	um.ExpirationDate AS expiration_date,
	m.IsApproved AS is_approved,
	m.IsLockedOut AS is_locked_out,
	CASE WHEN n.STATUS LIKE 'D%' OR csr.ContactStatusDesc = 'Delete' OR cm.MarkedForDeleteOn IS NOT NULL OR um.MarkedForDeleteOn IS NOT NULL THEN 1 ELSE 0 END AS is_deleted,
	m.LastPasswordChangedDate AS password_changed_at,
	um.UpdatedOn AS updated_at,
	n.LAST_UPDATED AS updated_at_name,
	m.LastPasswordChangedDate AS updated_at_password,
	m.LastLockoutDate AS updated_at_lockout`

const imisMemberFrom = `
FROM dbo.aspnet_Users AS au WITH (NOLOCK)
	JOIN dbo.aspnet_Applications AS a WITH (NOLOCK) ON a.ApplicationId = au.ApplicationId AND a.LoweredApplicationName = N'imis'
	JOIN dbo.aspnet_Membership AS m WITH (NOLOCK) ON m.UserId = au.UserId
	JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100)))
	JOIN dbo.ContactMain AS cm WITH (NOLOCK) ON cm.ContactKey = um.UserKey
	LEFT JOIN dbo.ContactStatusRef AS csr WITH (NOLOCK) ON csr.ContactStatusCode = cm.ContactStatusCode
	LEFT JOIN dbo.Name AS n WITH (NOLOCK) ON n.ID = um.ContactMaster`

// imisChangedAt is the latest of the four change times of a member (updated_at and the
// updated_at_* columns above), NULL-safe, for ordering change polls. UpdatedOn is NOT NULL.
const imisChangedAt = `CASE
		WHEN um.UpdatedOn >= COALESCE(n.LAST_UPDATED, um.UpdatedOn) AND um.UpdatedOn >= COALESCE(m.LastPasswordChangedDate, um.UpdatedOn) AND um.UpdatedOn >= COALESCE(m.LastLockoutDate, um.UpdatedOn) THEN um.UpdatedOn
		WHEN n.LAST_UPDATED >= COALESCE(m.LastPasswordChangedDate, n.LAST_UPDATED) AND n.LAST_UPDATED >= COALESCE(m.LastLockoutDate, n.LAST_UPDATED) THEN n.LAST_UPDATED
		WHEN m.LastPasswordChangedDate >= COALESCE(m.LastLockoutDate, m.LastPasswordChangedDate) THEN m.LastPasswordChangedDate
		ELSE m.LastLockoutDate
	END`

// PresetIMIS returns the iMIS queries for SQL Server (driver "sqlserver"), keyed by query
// name. The map is a fresh copy.
func PresetIMIS() map[string]string {
	return map[string]string{
		QueryMemberByLogin: `SELECT TOP 2` + imisMemberColumns + `,
	m.Password AS password,
	m.PasswordSalt AS password_salt,
	m.PasswordFormat AS password_format` + imisMemberFrom + `
WHERE au.LoweredUserName = LOWER(@p1)
ORDER BY um.UserKey`,

		QueryMemberByKey: `SELECT TOP 2` + imisMemberColumns + imisMemberFrom + `
WHERE um.UserKey = @p1
ORDER BY um.UserKey`,

		QueryMemberByID: `SELECT TOP 2` + imisMemberColumns + imisMemberFrom + `
WHERE um.ContactMaster = CAST(@p1 AS varchar(50))
ORDER BY um.UserKey`,

		QueryRolesByKey: `SELECT r.Name AS role
FROM dbo.UserRole AS ur WITH (NOLOCK)
	JOIN dbo.RoleMain AS r WITH (NOLOCK) ON r.RoleKey = ur.RoleKey
WHERE ur.UserKey = @p1 AND ur.MarkedForDeleteOn IS NULL AND r.MarkedForDeleteOn IS NULL
ORDER BY r.Name`,

		QueryChangedSince: `SELECT TOP (@p2)` + imisMemberColumns + `,
	` + imisChangedAt + ` AS updated_at_latest` + imisMemberFrom + `
WHERE um.UpdatedOn > @p1 OR n.LAST_UPDATED > @p1 OR m.LastPasswordChangedDate > @p1 OR m.LastLockoutDate > @p1
ORDER BY updated_at_latest, user_key`,

		QueryPing: `SELECT COUNT(*) AS applications FROM dbo.aspnet_Applications WITH (NOLOCK) WHERE LoweredApplicationName = N'imis'`,
	}
}

// probe is a diagnostic count query Diagnose runs when member_by_login finds nothing, to say
// which link of the iMIS login chain is missing. @p1 = the lower-cased login.
type probe struct {
	what  string // what a count of zero means
	query string
}

// imisProbes are the login-chain probes for the iMIS preset on SQL Server.
func imisProbes() []probe {
	return []probe{
		{"no aspnet_Users row has this LoweredUserName (in any application)",
			`SELECT COUNT(*) AS n FROM dbo.aspnet_Users WITH (NOLOCK) WHERE LoweredUserName = LOWER(@p1)`},
		{"the aspnet_Users row is not in application 'iMIS'",
			`SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.aspnet_Applications AS a WITH (NOLOCK) ON a.ApplicationId = au.ApplicationId WHERE au.LoweredUserName = LOWER(@p1) AND a.LoweredApplicationName = N'imis'`},
		{"the aspnet user has no aspnet_Membership row (no password)",
			`SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.aspnet_Membership AS m WITH (NOLOCK) ON m.UserId = au.UserId WHERE au.LoweredUserName = LOWER(@p1)`},
		{"no UserMain row has ProviderKey = the aspnet UserId (lower-case text)",
			`SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100))) WHERE au.LoweredUserName = LOWER(@p1)`},
		{"the UserMain row has no ContactMain row with the same key",
			`SELECT COUNT(*) AS n FROM dbo.aspnet_Users AS au WITH (NOLOCK) JOIN dbo.UserMain AS um WITH (NOLOCK) ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100))) JOIN dbo.ContactMain AS cm WITH (NOLOCK) ON cm.ContactKey = um.UserKey WHERE au.LoweredUserName = LOWER(@p1)`},
	}
}
