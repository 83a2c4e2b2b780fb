package imis

import "github.com/ssobridge/ssobridge/legacy/sqldir"

// Presets (legacy.preset) and member keys (legacy.member_key) of the iMIS connector.
const (
	PresetNameIMIS       = "imis"        // iMIS on SQL Server (preset.go; default for driver sqlserver)
	PresetNameIMISSQLite = "imis-sqlite" // the same tables in SQLite (preset_sqlite.go, the demo; default for driver sqlite)

	// MemberKeyProvider is UserMain.ProviderKey, the login's aspnet user id (default): it
	// survives a contact merge that re-creates the login under the surviving contact.
	MemberKeyProvider = "provider_key"
	// MemberKeyContact is UserMain.UserKey = ContactMain.ContactKey, which such a merge changes:
	// the key of installations set up before issue 12, whose subjects it keeps.
	MemberKeyContact = "contact_key"
)

// DefaultRefusedLogins are iMIS's built-in accounts, which never sign in through the bridge
// (the default of legacy.refused_logins).
func DefaultRefusedLogins() []string {
	return []string{"SYSTEM", "GUEST", "MANAGER", "ADMINISTRATOR", "IMISLOG", "NUNIT1"}
}

// emptyPing is the diagnosis of an iMIS ping that counts no application named iMIS.
const emptyPing = "no aspnet_Applications row named 'iMIS': this does not look like an iMIS database, or the DSN names the wrong database"

// Presets are the iMIS query sets handed to the SQL directory (sqldir.Config.Presets): on SQL
// Server and, for the demo, in SQLite; each with the member key modes provider_key (default;
// text keys) and contact_key, iMIS's built-in accounts and the login-chain probes.
func Presets() []sqldir.Preset {
	preset := func(name, driver string, sqlite bool, probes []sqldir.Probe) sqldir.Preset {
		return sqldir.Preset{
			Name: name, Driver: driver,
			Queries: func(memberKey string) map[string]string {
				return imisQueries(imisDialect{sqlite: sqlite, contactKey: memberKey == MemberKeyContact})
			},
			MemberKeys:    []string{MemberKeyProvider, MemberKeyContact},
			TextKeys:      []string{MemberKeyProvider},
			RefusedLogins: DefaultRefusedLogins(),
			Probes:        probes,
			EmptyPing:     emptyPing,
			AMS:           "iMIS",
			UTCDates:      "aspnet_Membership dates",
			AppDates:      "UserMain, ContactMain, Name, GroupMember dates",
		}
	}
	return []sqldir.Preset{
		preset(PresetNameIMIS, sqldir.DriverSQLServer, false, imisProbes()),
		preset(PresetNameIMISSQLite, sqldir.DriverSQLite, true, imisSQLiteProbes()),
	}
}

// PresetIMIS returns the iMIS queries for SQL Server (driver "sqlserver"), keyed by query
// name, with the default member key (provider_key). The map is a fresh copy.
func PresetIMIS() map[string]string { return imisQueries(imisDialect{}) }

// SQLConfig returns c with the iMIS presets: the SQL directory's configuration of type imis.
func SQLConfig(c sqldir.Config) sqldir.Config {
	c.Presets = Presets()
	return c
}
