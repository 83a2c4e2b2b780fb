package sqldir_test

import "testing"

// TestAMSSecondFactorSiteSwitchTDS: the SQL Server text of the iMIS preset's
// ams_second_factor (the SystemConfig EXISTS: empty N-string literals, LTRIM/RTRIM/LOWER, the NOLOCK hint)
// through go-mssqldb and the fake TDS server, on the SQL Server table shapes: off with no row
// and with '0', on with '1', and on for a user enrolled in iMIS while the switch is '0'.
func TestAMSSecondFactorSiteSwitchTDS(t *testing.T) {
	tg := startFake(t)
	d := newTDSDirectory(t, tg.db, tdsConfig())
	ctx := testCtx(t)
	exec := func(q string) {
		t.Helper()
		if _, err := tg.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	for _, step := range []struct {
		name, sql string
		want      bool
	}{
		{"no row", ``, false},
		{"'0'", `INSERT INTO dbo.SystemConfig (SystemConfigKey, ParameterName, ParameterValue, CreatedOn, UpdatedOn, OrganizationKey)
			VALUES ('6B1D0A40-0000-4000-8000-0000000001F0', N'PCI.MultiFactorAuthentication', N'0', '2020-01-01', '2020-01-01', '6B1D0A40-0000-4000-8000-000000000001')`, false},
		{"'1'", `UPDATE dbo.SystemConfig SET ParameterValue = N' 1' WHERE ParameterName = N'PCI.MultiFactorAuthentication'`, true},
		{"'0', enrolled in iMIS", `UPDATE dbo.SystemConfig SET ParameterValue = N'0' WHERE ParameterName = N'PCI.MultiFactorAuthentication';
			UPDATE dbo.UserMain SET MultiFactorInfo = N'sealed' WHERE UserId = 'JDOE'`, true},
	} {
		if step.sql != "" {
			exec(step.sql)
		}
		m, err := d.MemberByLogin(ctx, "jdoe")
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if m.SecondFactor != step.want {
			t.Errorf("%s: SecondFactor %v, want %v", step.name, m.SecondFactor, step.want)
		}
	}
}
