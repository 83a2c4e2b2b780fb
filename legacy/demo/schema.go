package demo

// schema creates the iMIS-shaped tables the demo needs, in SQLite, with SQL Server's column
// type names (SQLite keeps them as declared types). uniqueidentifier columns hold canonical
// GUID text and are declared COLLATE NOCASE, since iMIS writes UserMain.ProviderKey in lower
// case; datetime columns hold wall-clock text "YYYY-MM-DD hh:mm:ss.fff"; bit columns hold 0/1.
// Differences from SQL Server are noted inline.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS aspnet_Applications (
	ApplicationName nvarchar(256) NOT NULL,
	LoweredApplicationName nvarchar(256) NOT NULL,
	ApplicationId uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	Description nvarchar(256) NULL
)`,
	// ASP.NET's aspnet_Applications_Index: LoweredApplicationName is unique and the clustered
	// index (aspnet_Applications.sql). Without it the sign-in query scans aspnet_Users instead of
	// seeking the application and then (ApplicationId, LoweredUserName).
	`CREATE UNIQUE INDEX IF NOT EXISTS aspnet_Applications_Index ON aspnet_Applications (LoweredApplicationName)`,
	`CREATE TABLE IF NOT EXISTS aspnet_Users (
	ApplicationId uniqueidentifier NOT NULL COLLATE NOCASE,
	UserId uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	UserName nvarchar(256) NOT NULL,
	LoweredUserName nvarchar(256) NOT NULL,
	MobileAlias nvarchar(16) NULL,
	IsAnonymous bit NOT NULL DEFAULT 0,
	LastActivityDate datetime NOT NULL
)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS aspnet_Users_Index ON aspnet_Users (ApplicationId, LoweredUserName)`,
	`CREATE TABLE IF NOT EXISTS aspnet_Membership (
	ApplicationId uniqueidentifier NOT NULL COLLATE NOCASE,
	UserId uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	Password nvarchar(128) NOT NULL,
	PasswordFormat int NOT NULL DEFAULT 0,
	PasswordSalt nvarchar(128) NOT NULL,
	MobilePIN nvarchar(16) NULL,
	Email nvarchar(256) NULL,
	LoweredEmail nvarchar(256) NULL,
	PasswordQuestion nvarchar(256) NULL,
	PasswordAnswer nvarchar(128) NULL,
	IsApproved bit NOT NULL,
	IsLockedOut bit NOT NULL,
	CreateDate datetime NOT NULL,
	LastLoginDate datetime NOT NULL,
	LastPasswordChangedDate datetime NOT NULL,
	LastLockoutDate datetime NOT NULL,
	FailedPasswordAttemptCount int NOT NULL DEFAULT 0,
	FailedPasswordAttemptWindowStart datetime NOT NULL,
	FailedPasswordAnswerAttemptCount int NOT NULL DEFAULT 0,
	FailedPasswordAnswerAttemptWindowStart datetime NOT NULL,
	Comment ntext NULL
)`,
	`CREATE TABLE IF NOT EXISTS UserMain (
	UserKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	ContactMaster varchar(50) NULL DEFAULT '',
	UserId varchar(60) NOT NULL DEFAULT '',
	IsDisabled bit NOT NULL DEFAULT 1,
	EffectiveDate datetime NOT NULL,
	ExpirationDate datetime NULL,
	UpdatedByUserKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000', -- no default in iMIS (below too)
	UpdatedOn datetime NOT NULL,
	CreatedByUserKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000',
	CreatedOn datetime NOT NULL,
	MarkedForDeleteOn datetime NULL,
	DefaultDepartmentGroupKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000',
	DefaultPerspectiveKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000',
	ProviderKey nvarchar(100) NULL COLLATE NOCASE,
	MultiFactorInfo nvarchar NULL -- nvarchar(max) in SQL Server
)`,
	`CREATE INDEX IF NOT EXISTS UserMain_ProviderKey ON UserMain (ProviderKey)`,
	`CREATE INDEX IF NOT EXISTS UserMain_ContactMaster ON UserMain (ContactMaster)`,
	`CREATE TABLE IF NOT EXISTS ContactStatusRef (
	ContactStatusCode nvarchar(2) NOT NULL PRIMARY KEY,
	ContactStatusDesc nvarchar(50) NOT NULL,
	IsSystem bit NOT NULL DEFAULT 0
)`,
	`CREATE TABLE IF NOT EXISTS ContactMain (
	ContactKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	ContactStatusCode nvarchar(2) NOT NULL,
	FullName nvarchar(110) NOT NULL DEFAULT '',
	SortName nvarchar(110) NOT NULL DEFAULT '',
	IsInstitute bit NOT NULL DEFAULT 0,
	SyncContactID varchar(20) NULL,
	ID nvarchar(12) NULL,
	PrimaryMembershipGroupKey uniqueidentifier NULL COLLATE NOCASE,
	MajorKey nvarchar(30) NOT NULL DEFAULT '',
	OptOutFlag bit NOT NULL DEFAULT 0,
	AccessKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000', -- no default in iMIS (below too)
	ContactTypeKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000',
	UpdatedOn datetime NOT NULL,
	UpdatedByUserKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000',
	CreatedByUserKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000',
	CreatedOn datetime NOT NULL,
	MarkedForDeleteOn datetime NULL
)`,
	// Name: the legacy contact master. varchar columns, NOT NULL ones default to ''.
	`CREATE TABLE IF NOT EXISTS Name (
	ID varchar(10) NOT NULL PRIMARY KEY,
	ORG_CODE varchar(5) NOT NULL DEFAULT '',
	MEMBER_TYPE varchar(5) NOT NULL DEFAULT '',
	CATEGORY varchar(5) NOT NULL DEFAULT '',
	STATUS varchar(5) NOT NULL DEFAULT '',
	CO_ID varchar(10) NOT NULL DEFAULT '',
	LAST_FIRST varchar(70) NOT NULL DEFAULT '',
	FULL_NAME varchar(70) NOT NULL DEFAULT '',
	TITLE varchar(80) NOT NULL DEFAULT '',
	COMPANY varchar(80) NOT NULL DEFAULT '',
	PREFIX varchar(25) NOT NULL DEFAULT '',
	FIRST_NAME varchar(20) NOT NULL DEFAULT '',
	MIDDLE_NAME varchar(20) NOT NULL DEFAULT '',
	LAST_NAME varchar(30) NOT NULL DEFAULT '',
	SUFFIX varchar(10) NOT NULL DEFAULT '',
	DESIGNATION varchar(20) NOT NULL DEFAULT '',
	INFORMAL varchar(20) NOT NULL DEFAULT '',
	WORK_PHONE varchar(25) NOT NULL DEFAULT '',
	CITY varchar(40) NOT NULL DEFAULT '',
	STATE_PROVINCE varchar(15) NOT NULL DEFAULT '',
	ZIP varchar(10) NOT NULL DEFAULT '',
	COUNTRY varchar(25) NOT NULL DEFAULT '',
	CHAPTER varchar(15) NOT NULL DEFAULT '',
	MEMBER_RECORD bit NOT NULL DEFAULT 0,
	COMPANY_RECORD bit NOT NULL DEFAULT 0,
	JOIN_DATE datetime NULL,
	PAID_THRU datetime NULL,
	MEMBER_STATUS varchar(5) NOT NULL DEFAULT '',
	MEMBER_STATUS_DATE datetime NULL,
	PREVIOUS_MT varchar(5) NOT NULL DEFAULT '',
	MT_CHANGE_DATE datetime NULL,
	EMAIL varchar(100) NOT NULL DEFAULT '',
	WEBSITE varchar(255) NOT NULL DEFAULT '',
	DATE_ADDED datetime NULL,
	LAST_UPDATED datetime NULL,
	UPDATED_BY varchar(60) NOT NULL DEFAULT ''
)`,
	`CREATE TABLE IF NOT EXISTS RoleMain (
	RoleKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	Name nvarchar(50) NOT NULL,
	Description nvarchar(250) NOT NULL DEFAULT '',
	IsSystem bit NOT NULL DEFAULT 0,
	UpdatedByUserKey uniqueidentifier NOT NULL COLLATE NOCASE DEFAULT '00000000-0000-0000-0000-000000000000', -- no default in iMIS
	UpdatedOn datetime NOT NULL,
	MarkedForDeleteOn datetime NULL
)`,
	`CREATE TABLE IF NOT EXISTS UserRole (
	UserKey uniqueidentifier NOT NULL COLLATE NOCASE,
	RoleKey uniqueidentifier NOT NULL COLLATE NOCASE,
	MarkedForDeleteOn datetime NULL,
	PRIMARY KEY (UserKey, RoleKey)
)`,
	// Member types (S06 CreateTables.sql:10466-10505): MEMBER_RECORD decides membership.
	`CREATE TABLE IF NOT EXISTS Member_Types (
	MEMBER_TYPE varchar(5) NOT NULL PRIMARY KEY,
	DESCRIPTION varchar(20) NOT NULL DEFAULT '',
	MEMBER_RECORD bit NOT NULL DEFAULT 0,
	COMPANY_RECORD bit NOT NULL DEFAULT 0,
	DEFAULT_SECURITY_GROUP varchar(30) NULL
)`,
	// Groups (S06 CreateTables.sql:8291-8341, 8553-8574).
	`CREATE TABLE IF NOT EXISTS GroupTypeRef (
	GroupTypeKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	GroupTypeName nvarchar(65) NOT NULL UNIQUE,
	IsSystem bit NOT NULL DEFAULT 0,
	IsDateLimited bit NOT NULL DEFAULT 0,
	IsSimpleGroup bit NOT NULL DEFAULT 0
)`,
	`CREATE TABLE IF NOT EXISTS GroupMain (
	GroupKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	Name nvarchar(65) NOT NULL,
	Description nvarchar(250) NULL,
	UpdatedOn datetime NOT NULL,
	IsSystem bit NOT NULL DEFAULT 0,
	IsAutoGenerated bit NOT NULL DEFAULT 0,
	GroupTypeKey uniqueidentifier NOT NULL COLLATE NOCASE,
	GroupStatusCode nvarchar(4) NOT NULL DEFAULT 'A',
	CreatedOn datetime NOT NULL,
	MarkedForDeleteOn datetime NULL,
	IsMember bit NOT NULL DEFAULT 0
)`,
	`CREATE TABLE IF NOT EXISTS GroupMember (
	GroupMemberKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	GroupKey uniqueidentifier NOT NULL COLLATE NOCASE,
	MemberContactKey uniqueidentifier NOT NULL COLLATE NOCASE,
	IsActive bit NOT NULL DEFAULT 1,
	CreatedOn datetime NOT NULL,
	UpdatedOn datetime NOT NULL,
	DropDate datetime NULL,
	JoinDate datetime NULL,
	MarkedForDeleteOn datetime NULL
)`,
	`CREATE INDEX IF NOT EXISTS IX_GroupMember_MemberContactKey ON GroupMember (MemberContactKey)`,
	// Legacy web security (S06 CreateTables.sql:11273-11303). TIME_STAMP (rowversion) and
	// ContactID (identity) are left out: nothing here reads them.
	`CREATE TABLE IF NOT EXISTS Name_Security (
	ID varchar(10) NOT NULL PRIMARY KEY,
	LOGIN_DISABLED bit NOT NULL DEFAULT 0,
	WEB_LOGIN varchar(60) NOT NULL DEFAULT '',
	PASSWORD varchar(100) NOT NULL DEFAULT '',
	EXPIRATION_DATE datetime NULL,
	LAST_LOGIN datetime NULL,
	PREVIOUS_LOGIN datetime NULL,
	UPDATED_BY varchar(60) NOT NULL DEFAULT ''
)`,
	`CREATE TABLE IF NOT EXISTS Name_Security_Groups (
	ID varchar(10) NOT NULL DEFAULT '',
	SECURITY_GROUP varchar(30) NOT NULL DEFAULT '',
	PRIMARY KEY (ID, SECURITY_GROUP)
)`,
	// Legacy staff table (S06 CreateTables.sql:20407-20452), the columns the bridge may read.
	`CREATE TABLE IF NOT EXISTS Users (
	UserId varchar(60) NOT NULL PRIMARY KEY,
	UserName varchar(30) NOT NULL DEFAULT '',
	Disabled bit NOT NULL DEFAULT 0,
	LastLogin datetime NULL,
	ExpirationDate datetime NULL,
	Department varchar(30) NOT NULL DEFAULT '',
	LevelMembership tinyint NOT NULL DEFAULT 0,
	LevelDues tinyint NOT NULL DEFAULT 0,
	LevelCashAR tinyint NOT NULL DEFAULT 0,
	LevelMeeting tinyint NOT NULL DEFAULT 0,
	LevelOrderEntry tinyint NOT NULL DEFAULT 0,
	LevelReferral tinyint NOT NULL DEFAULT 0,
	LevelCert tinyint NOT NULL DEFAULT 0,
	LevelFundRaising tinyint NOT NULL DEFAULT 0,
	LevelSC tinyint NOT NULL DEFAULT 0,
	LevelExpo tinyint NOT NULL DEFAULT 0,
	LevelSystem tinyint NOT NULL DEFAULT 0,
	IsCasualUser bit NOT NULL DEFAULT 0
)`,
	// The legacy staff security levels (read by the view vLegacySecurityRole); the column
	// types are not in the scripts this fixture follows (derived: an integer code).
	`CREATE TABLE IF NOT EXISTS LegacySecurityLevelRef (
	LevelCode int NOT NULL PRIMARY KEY,
	Description varchar(60) NOT NULL DEFAULT ''
)`,
	// SystemConfig (S06 CreateTables.sql:17904-17916): every value is text.
	`CREATE TABLE IF NOT EXISTS SystemConfig (
	SystemConfigKey uniqueidentifier NOT NULL COLLATE NOCASE PRIMARY KEY,
	ParameterName nvarchar(255) NOT NULL,
	ParameterValue nvarchar(2500) NULL,
	Description nvarchar(500) NULL,
	CreatedOn datetime NOT NULL,
	UpdatedOn datetime NOT NULL,
	OrganizationKey uniqueidentifier NOT NULL COLLATE NOCASE,
	SystemEntityKey uniqueidentifier NULL COLLATE NOCASE,
	MarkedForDeleteOn datetime NULL
)`,
	// iMIS's index for reading a setting by name (CreateIndexes.sql:12954): the roles query's
	// CM.MemberGroupKey and app_clock's System.Database.TimeZoneOffset seek it.
	`CREATE INDEX IF NOT EXISTS IX_SystemConfig_ParameterName_OrganizationKey_SystemConfigKey ON SystemConfig (ParameterName, OrganizationKey, SystemConfigKey)`,
}

// tables lists the demo tables, children first (for emptying before a reseed).
var tables = []string{"LegacySecurityLevelRef", "SystemConfig", "Users", "Name_Security_Groups", "Name_Security", "GroupMember", "GroupMain",
	"GroupTypeRef", "Member_Types", "UserRole", "RoleMain", "Name", "ContactMain", "ContactStatusRef", "UserMain",
	"aspnet_Membership", "aspnet_Users", "aspnet_Applications"}
