package sqldir

import "strings"

// The iMIS preset for SQLite (the demo AMS, package legacy/demo): the same tables, the same
// column list and change-time expression as the SQL Server preset, so the behaviour, status
// rules and column contract are identical. SQLite differences: no schema prefix or table
// hints, LIMIT instead of TOP, ?N parameters. GUID columns hold canonical text and are declared
// COLLATE NOCASE in the demo schema.

const imisSQLiteMemberFrom = `
FROM aspnet_Users AS au
	JOIN aspnet_Applications AS a ON a.ApplicationId = au.ApplicationId AND a.LoweredApplicationName = 'imis'
	JOIN aspnet_Membership AS m ON m.UserId = au.UserId
	JOIN UserMain AS um ON um.ProviderKey = LOWER(CAST(au.UserId AS nvarchar(100)))
	JOIN ContactMain AS cm ON cm.ContactKey = um.UserKey
	LEFT JOIN ContactStatusRef AS csr ON csr.ContactStatusCode = cm.ContactStatusCode
	LEFT JOIN Name AS n ON n.ID = um.ContactMaster`

// PresetIMISSQLite returns the iMIS queries for the SQLite demo schema, keyed by query name.
// The map is a fresh copy.
func PresetIMISSQLite() map[string]string {
	return map[string]string{
		QueryMemberByLogin: `SELECT` + imisMemberColumns + `,
	m.Password AS password,
	m.PasswordSalt AS password_salt,
	m.PasswordFormat AS password_format` + imisSQLiteMemberFrom + `
WHERE au.LoweredUserName = LOWER(?1)
ORDER BY um.UserKey
LIMIT 2`,

		QueryMemberByKey: `SELECT` + imisMemberColumns + imisSQLiteMemberFrom + `
WHERE um.UserKey = ?1
ORDER BY um.UserKey
LIMIT 2`,

		QueryMemberByID: `SELECT` + imisMemberColumns + imisSQLiteMemberFrom + `
WHERE um.ContactMaster = CAST(?1 AS varchar(50))
ORDER BY um.UserKey
LIMIT 2`,

		QueryRolesByKey: `SELECT r.Name AS role
FROM UserRole AS ur
	JOIN RoleMain AS r ON r.RoleKey = ur.RoleKey
WHERE ur.UserKey = ?1 AND ur.MarkedForDeleteOn IS NULL AND r.MarkedForDeleteOn IS NULL
ORDER BY r.Name`,

		QueryChangedSince: `SELECT` + imisMemberColumns + `,
	` + imisChangedAt + ` AS updated_at_latest` + imisSQLiteMemberFrom + `
WHERE um.UpdatedOn > ?1 OR n.LAST_UPDATED > ?1 OR m.LastPasswordChangedDate > ?1 OR m.LastLockoutDate > ?1
ORDER BY updated_at_latest, user_key
LIMIT ?2`,

		QueryPing: `SELECT COUNT(*) AS applications FROM aspnet_Applications WHERE LoweredApplicationName = 'imis'`,
	}
}

// imisSQLiteProbes are imisProbes for the SQLite schema.
func imisSQLiteProbes() []probe {
	ps := imisProbes()
	r := strings.NewReplacer("dbo.", "", " WITH (NOLOCK)", "", "N'", "'", "@p1", "?1")
	for i := range ps {
		ps[i].query = r.Replace(ps[i].query)
	}
	return ps
}
