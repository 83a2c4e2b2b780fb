package sqldir

// Named queries. A preset supplies all of them; Config.Queries overrides single ones.
const (
	// QueryMemberByLogin finds the member for a sign-in name, with the password hash.
	// @p1 = the login, NFC-normalised, trimmed and lower-cased by the directory.
	QueryMemberByLogin = "member_by_login"
	// QueryMemberByKey finds a member by contact key. @p1 = the key (a uniqueidentifier on
	// SQL Server, canonical upper-case GUID text elsewhere).
	QueryMemberByKey = "member_by_key"
	// QueryMemberByKeyCommitted is member_by_key for the read that confirms a deactivation
	// (FreshMemberByKey): it must read committed data only (no NOLOCK / READ UNCOMMITTED on the
	// member's rows), while member_by_key may read dirty data for availability. On SQL Server
	// it (and roles_by_key_committed) runs after SET LOCK_TIMEOUT (CommittedLockTimeout), for
	// that call only. Optional: without it FreshMemberByKey runs member_by_key.
	QueryMemberByKeyCommitted = "member_by_key_committed"
	// QueryMemberByID finds a member by member number. @p1 = the member id (string).
	QueryMemberByID = "member_by_id"
	// QueryRolesByKey lists the roles of a member with their sources (columns role, source).
	// @p1 = the key, as for member_by_key; @p2 = the AMS's application time now (datetime);
	// @p3..@p11 = 1 or 0: whether each role source is on, in the order of legacy.RoleSources
	// (user_roles, groups, member_type_groups, security_groups, member_type, member_group,
	// staff_roles, everyone, authenticated_users).
	QueryRolesByKey = "roles_by_key"
	// QueryRolesByKeyCommitted is roles_by_key for FreshMemberByKey, reading committed data
	// (as member_by_key_committed). Optional: without it FreshMemberByKey runs roles_by_key.
	QueryRolesByKeyCommitted = "roles_by_key_committed"
	// QueryRolesInRange lists the roles of every member whose key's canonical text sorts
	// after @p1 and up to @p2 (columns user_key, role, source), for a page of list_members;
	// @p3 = application time now, @p4..@p12 = the role source switches as for roles_by_key.
	QueryRolesInRange = "roles_in_range"
	// QueryChangedSince lists the keys of members with a change after a watermark, with the
	// latest such change time in UTC (columns user_key, updated_at_utc), oldest first, then by
	// key. @p1 = the watermark in application time (datetime), @p2 = the maximum number of
	// rows, @p3 = the watermark in UTC (datetime), @p4 = the application clock's offset from UTC
	// in minutes (int; application time = UTC + offset).
	QueryChangedSince = "changed_since"
	// QueryListMembers pages over the live (not deleted) members in ascending order of their
	// key's canonical upper-case text, with the member columns. @p1 = the key text to start
	// after ('' for the first page), @p2 = the maximum number of rows. With key_format: text
	// the order (and the "after" comparison) must be the keys' bytes: ORDER BY the key with a
	// binary collation (SQL Server: COLLATE Latin1_General_BIN2; PostgreSQL: COLLATE "C"). A
	// case-insensitive or word-sort collation orders mixed case and punctuation otherwise, and
	// the reconcile stops on a listing out of order (review s26 V-9).
	QueryListMembers = "list_members"
	// QueryAppClock returns the AMS's application clock: its offset from UTC in minutes (a
	// column named offset_minutes; no row or NULL when the AMS does not store one).
	QueryAppClock = "app_clock"
	// QueryPasswordExpiry returns the AMS's password expiry settings: one row per setting
	// (columns applies_to, days, and optionally setting, the AMS's name for it, used in
	// messages). applies_to is 'members' (every user who is not a system administrator: iMIS
	// SystemConfig PCI.PasswordExpireDays) or 'sysadmins' (PCI.PasswordExpireDaysSysAdmin);
	// days is a whole number of days, 0 = never (text or int). A setting with no row, or a
	// NULL or blank value, is 0 (iMIS's default). Read with the application clock, re-read every
	// AppClockRefresh; password_max_age and password_max_age_sysadmin override it. Optional:
	// without it (and without the overrides) passwords never expire.
	QueryPasswordExpiry = "password_expiry"
	// QueryDBClock reads the AMS database's own clock now, for the change poller's watermark
	// (legacy.ClockReader; review s27 R5-4): one row, with a column now_utc (UTC; SQL Server:
	// SYSUTCDATETIME()) or now (the application clock, converted with the offset that converts
	// changed_since's times). Optional: without it the poller estimates the AMS's clock from the
	// change times it reads.
	QueryDBClock = "db_clock"
	// QueryPing checks that the AMS database answers; it must return at least one row.
	QueryPing = "ping"
	// QueryMembersByEmail lists the members (deleted contacts excluded) whose e-mail address
	// is @p1, with the member columns, ordered by key, at most @p2 rows. @p1 = the address,
	// NFC-normalised, trimmed and lower-cased by the directory: compare it with a lower-cased
	// column (iMIS: aspnet_Membership.LoweredEmail, which iMIS keeps equal to Name.EMAIL).
	// Optional: without it the directory cannot find members by e-mail (no automatic linking of
	// upstream identities).
	QueryMembersByEmail = "members_by_email"
)

// QueryNames lists every named query, in the order Diagnose runs them.
func QueryNames() []string {
	return []string{QueryPing, QueryAppClock, QueryDBClock, QueryPasswordExpiry, QueryMemberByLogin, QueryMemberByKey, QueryMemberByID, QueryRolesByKey,
		QueryChangedSince, QueryListMembers, QueryRolesInRange, QueryMembersByEmail, QueryMemberByKeyCommitted, QueryRolesByKeyCommitted}
}

// Column contract
//
// Member queries (member_by_login, member_by_key, member_by_id, list_members, members_by_email) return one row
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
//	email, given_name, family_name, full_name, company, member_type, status, member_status,
//	picture_url          optional  text profile data (status = Name.STATUS, member_status =
//	                               Name.MEMBER_STATUS)
//	member_record        optional  bit: the member type counts as a membership
//	is_staff             optional  bit: the user is staff
//	is_sysadmin          optional  bit: the user is a system administrator, whose password
//	                               expires by the 'sysadmins' setting of password_expiry (iMIS:
//	                               the SysAdmin role, as vUserData.IsAdmin); NULL counts as not
//	ams_second_factor    optional  bit: the AMS signs the user in only with a second factor
//	                               (iMIS: UserMain.MultiFactorInfo set, or the site switch
//	                               PCI.MultiFactorAuthentication on); the bridge then asks for
//	                               its own, enrolled only after the AMS hand-off; NULL counts
//	                               as set
//	ams_user_id          optional  the AMS's own copy of the login (iMIS UserMain.UserId); when
//	                               present it must equal login ignoring case, or the row is refused
//	provider_key         optional  the login's key in the password store (iMIS
//	                               UserMain.ProviderKey = aspnet_Users.UserId as text)
//	join_date, paid_through
//	                     optional  datetime profile data
//	updated_at           optional  datetime, a change time
//	updated_at_*         optional  further change times; the member's UpdatedAt is the latest
//	                               non-NULL value of updated_at and all updated_at_* columns
//	password             member_by_login only: the stored password (hash)
//	password_salt        member_by_login only: base64 salt ('' or NULL when none)
//	password_format      member_by_login only: 0 clear, 1 hashed, 2 encrypted (NULL = 1)
//	any other column     copied to Member.Extra when named in Config.ExtraColumns
//
// Two clocks. A datetime column whose name ends in _utc holds UTC (iMIS: the aspnet_*
// columns, written by ASP.NET's membership provider); every other datetime column holds the
// AMS's application clock, UTC plus a fixed offset (iMIS: SystemConfig
// System.Database.TimeZoneOffset, see app_clock). A contract column may carry the suffix
// (password_changed_at_utc). ASP.NET's "never" sentinel (1754-01-01) and any date before 1800
// read as NULL. A query that returns more than one row for a login, key or member id is refused:
// for a login as an unknown one (the sign-in fails as bad credentials), for a key or member id
// as a contract fault (legacy.ErrUnavailable wrapping ErrContract), never as a member gone.
//
// roles_by_key returns one row per role and source (columns role, source). changed_since
// returns user_key and updated_at_utc. app_clock returns offset_minutes. db_clock returns now_utc (or now). password_expiry returns
// applies_to and days (and optionally setting). ping returns any row.
//
// Every value from outside is a parameter (@p1, @p2, ...); no query is ever built from input.
