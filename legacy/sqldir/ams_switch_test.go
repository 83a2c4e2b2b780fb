package sqldir_test

import (
	"database/sql"
	"testing"
)

// TestAMSSecondFactorSiteSwitch (brief M item 3; imis-schema.md recommendation 11): the iMIS
// preset's ams_second_factor combines the user's enrolment (UserMain.MultiFactorInfo) with the
// site's switch (SystemConfig PCI.MultiFactorAuthentication, default '0'), both failing closed:
// an enrolled user is asked whatever the switch (the reference does not say that iMIS stops
// asking while it is '0'), and every user is asked while it is on (whether iMIS makes everyone
// enrol at its sign-in then is not settled either). Off is '0', empty or 'false'; anything else
// in any row of that name is on. Read on Authenticate and MemberByLogin,
// against the demo's iMIS tables (SQLite, the preset's text).
func TestAMSSecondFactorSiteSwitch(t *testing.T) {
	type row struct{ value sql.NullString }
	on, off := true, false
	for _, tc := range []struct {
		name     string
		rows     []row // PCI.MultiFactorAuthentication rows; nil: none at all
		enrolled bool  // alice's MultiFactorInfo set
		want     bool
	}{
		{"no row, not enrolled", nil, off, false},
		{"no row, enrolled", nil, on, true},
		{"'0', not enrolled", []row{{sql.NullString{String: "0", Valid: true}}}, off, false},
		{"'0', enrolled (fail closed)", []row{{sql.NullString{String: "0", Valid: true}}}, on, true},
		{"'1', not enrolled (fail closed)", []row{{sql.NullString{String: "1", Valid: true}}}, off, true},
		{"'1', enrolled", []row{{sql.NullString{String: "1", Valid: true}}}, on, true},
		{"' 1 '", []row{{sql.NullString{String: " 1 ", Valid: true}}}, off, true},
		{"'True'", []row{{sql.NullString{String: "True", Valid: true}}}, off, true},
		{"'FALSE'", []row{{sql.NullString{String: "FALSE", Valid: true}}}, off, false},
		{"empty", []row{{sql.NullString{String: "", Valid: true}}}, off, false},
		{"NULL", []row{{}}, off, false},
		{"unreadable 'yes please'", []row{{sql.NullString{String: "yes please", Valid: true}}}, off, true},
		{"two rows, one on", []row{{sql.NullString{String: "0", Valid: true}}, {sql.NullString{String: "1", Valid: true}}}, off, true},
		{"two rows, both off", []row{{sql.NullString{String: "0", Valid: true}}, {sql.NullString{String: "false", Valid: true}}}, off, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, db := openDemo(t)
			exec := func(q string, args ...any) {
				t.Helper()
				if _, err := db.ExecContext(ctx, q, args...); err != nil {
					t.Fatal(err)
				}
			}
			exec(`DELETE FROM SystemConfig WHERE ParameterName = 'PCI.MultiFactorAuthentication'`)
			for i, r := range tc.rows {
				exec(`INSERT INTO SystemConfig (SystemConfigKey, ParameterName, ParameterValue, CreatedOn, UpdatedOn, OrganizationKey)
					VALUES (?1, 'PCI.MultiFactorAuthentication', ?2, '2020-01-01', '2020-01-01', '6B1D0A40-0000-4000-8000-000000000001')`,
					"6B1D0A40-0000-4000-8000-0000000001F"+string(rune('0'+i)), r.value)
			}
			if tc.enrolled {
				exec(`UPDATE UserMain SET MultiFactorInfo = 'AQIDBAUGBwgJ-sealed-totp-secret' WHERE LOWER(UserId) = 'alice'`)
			}
			m, err := d.Authenticate(ctx, "alice", "alice-demo-1")
			if err != nil {
				t.Fatal(err)
			}
			if m.SecondFactor != tc.want {
				t.Errorf("Authenticate: SecondFactor %v, want %v", m.SecondFactor, tc.want)
			}
			if m, err := d.MemberByLogin(ctx, "alice"); err != nil || m.SecondFactor != tc.want {
				t.Errorf("MemberByLogin: %v, SecondFactor %v, want %v", err, m != nil && m.SecondFactor, tc.want)
			}
		})
	}
}
