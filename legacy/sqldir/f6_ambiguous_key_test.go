package sqldir_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// Review s25 Y-6: a member_by_key or member_by_id query that answers two rows (a broken join,
// or two aspnet_Users rows mapped to one UserMain) was ErrNotFound, "the member no longer
// exists": the bridge ends their sessions, refuses their refreshes, and provisioning may
// deactivate them downstream. A key or a member id names one member, so two rows break the
// column contract: legacy.ErrUnavailable wrapping ErrContract, as the other contract faults.
// A typed login matching several members stays "unknown" (TestAmbiguousLoginIsRefused).
func TestF6AmbiguousKeyOrIDIsAContractFault(t *testing.T) {
	presets := imis.PresetIMISSQLite()
	alice := login(t, "alice")
	for _, tc := range []struct {
		name, query, match string
		get                func(d *sqldir.Directory) (*legacy.Member, error)
	}{
		{"member by key", sqldir.QueryMemberByKey, "AND um.ProviderKey = ?1",
			func(d *sqldir.Directory) (*legacy.Member, error) { return d.MemberByKey(ctx, alice.Key) }},
		{"member by id", sqldir.QueryMemberByID, "AND um.ContactMaster = CAST(?1 AS varchar(50))",
			func(d *sqldir.Directory) (*legacy.Member, error) { return d.MemberByID(ctx, alice.MemberID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := presets[tc.query]
			if !strings.Contains(q, tc.match) {
				t.Fatalf("the preset's %s no longer has %q", tc.query, tc.match)
			}
			// a broken join that returns a second member for the looked-up one
			dup := strings.Replace(q, tc.match, "AND ("+strings.TrimPrefix(tc.match, "AND ")+" OR au.LoweredUserName = 'staff')", 1)
			d := withQueries(t, map[string]string{tc.query: dup})
			m, err := tc.get(d)
			if m != nil || errors.Is(err, legacy.ErrNotFound) || !errors.Is(err, legacy.ErrUnavailable) || !errors.Is(err, sqldir.ErrContract) {
				t.Fatalf("two rows for one %s: %+v, %v; want ErrUnavailable wrapping ErrContract, not ErrNotFound", tc.name, m, err)
			}
			// The same directory with the preset's query finds the member.
			if m, err := tc.get(withQueries(t, nil)); err != nil || m.Login != "alice" {
				t.Fatalf("control: %+v, %v", m, err)
			}
		})
	}
}
