package sqldir_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// mergeLogin does what iMIS's asi_MergeUserLogin does when the surviving contact has no user:
// a new UserMain row under the survivor's contact key, with the old UserId and ProviderKey;
// the old UserMain row is deleted (CreateProcedures.sql:24230-24399).
func mergeLogin(t *testing.T, srv *tdsfake.Server, login, survivorKey, survivorID string) {
	t.Helper()
	for _, q := range []string{
		`INSERT INTO dbo.ContactMain (ContactKey, ContactStatusCode, FullName, SortName, IsInstitute, SyncContactID, ID, MajorKey, OptOutFlag, UpdatedOn, CreatedOn)
			SELECT @p1, cm.ContactStatusCode, cm.FullName, cm.SortName, 0, @p2, @p2, @p2, 0, cm.UpdatedOn, cm.CreatedOn
			FROM dbo.ContactMain AS cm JOIN dbo.UserMain AS um ON um.UserKey = cm.ContactKey WHERE um.UserId = UPPER(@p3)`,
		`INSERT INTO dbo.Name (ID, MEMBER_TYPE, STATUS, FULL_NAME, FIRST_NAME, LAST_NAME, EMAIL, MEMBER_RECORD, MEMBER_STATUS)
			SELECT @p2, n.MEMBER_TYPE, n.STATUS, n.FULL_NAME, n.FIRST_NAME, n.LAST_NAME, n.EMAIL, n.MEMBER_RECORD, n.MEMBER_STATUS
			FROM dbo.Name AS n JOIN dbo.UserMain AS um ON um.ContactMaster = n.ID WHERE um.UserId = UPPER(@p3)`,
		`INSERT INTO dbo.UserMain (UserKey, ContactMaster, UserId, IsDisabled, EffectiveDate, ExpirationDate, UpdatedOn, CreatedOn, ProviderKey)
			SELECT @p1, @p2, um.UserId, um.IsDisabled, um.EffectiveDate, um.ExpirationDate, um.UpdatedOn, um.CreatedOn, um.ProviderKey
			FROM dbo.UserMain AS um WHERE um.UserId = UPPER(@p3)`,
		// The merge moves the contact's group memberships to the survivor.
		`UPDATE dbo.GroupMember SET MemberContactKey = @p1 WHERE MemberContactKey IN (SELECT UserKey FROM dbo.UserMain WHERE UserId = UPPER(@p3) AND UserKey <> @p1)`,
		`DELETE FROM dbo.UserMain WHERE UserId = UPPER(@p3) AND UserKey <> @p1`,
	} {
		if err := srv.Exec(q, survivorKey, survivorID, login); err != nil {
			t.Fatalf("merge: %v\n%s", err, q)
		}
	}
}

// A contact merge re-creates alice's login under another contact key. With the default
// member_key (provider_key) her member key, and so her subject, does not change; with
// contact_key it does (the trade-off README documents).
func TestMemberKeySurvivesContactMerge(t *testing.T) {
	for _, mode := range []string{imis.MemberKeyProvider, imis.MemberKeyContact} {
		t.Run(mode, func(t *testing.T) {
			var d *sqldir.Directory
			var srv *tdsfake.Server
			tdsDemoTarget(t, func(dir *sqldir.Directory) *directorytest.Target { d = dir; return &directorytest.Target{Dir: dir} })
			srv = lastFake
			cfg := d.Config()
			cfg.MemberKey = mode
			d2, err := sqldir.New(lastDB, cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx := testCtx(t)
			before, err := d2.Authenticate(ctx, "alice", "alice-demo-1")
			if err != nil {
				t.Fatal(err)
			}
			const survivor = "5A5A5A5A-0000-4000-8000-000000000099"
			mergeLogin(t, srv, "alice", survivor, "9099")
			after, err := d2.Authenticate(ctx, "alice", "alice-demo-1")
			if err != nil {
				t.Fatal(err)
			}
			if after.ContactKey != survivor || after.MemberID != "9099" {
				t.Fatalf("after the merge: contact %s member id %s", after.ContactKey, after.MemberID)
			}
			_, errOld := d2.MemberByKey(ctx, before.Key)
			switch mode {
			case imis.MemberKeyProvider:
				if after.Key != before.Key || errOld != nil {
					t.Fatalf("member key changed by the merge: %s -> %s (old key lookup: %v)", before.Key, after.Key, errOld)
				}
				if before.Key != strings.ToUpper(demoLogin(t, "alice").Key) {
					t.Fatalf("key %s is not alice's aspnet user id", before.Key)
				}
			case imis.MemberKeyContact:
				if after.Key == before.Key || !errors.Is(errOld, legacy.ErrNotFound) {
					t.Fatalf("contact key mode: %s -> %s, old key lookup %v", before.Key, after.Key, errOld)
				}
			}
			if !slicesEqual(after.Roles, before.Roles) {
				t.Fatalf("roles after the merge %q, before %q", after.Roles, before.Roles)
			}
		})
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func demoLogin(t *testing.T, name string) demo.Login {
	for _, l := range demo.Logins() {
		if l.Login == name {
			return l
		}
	}
	t.Fatalf("no demo login %s", name)
	return demo.Login{}
}

// Keys travel as iMIS's indexes want them: ProviderKey as lower-case nvarchar text (never a
// uniqueidentifier, which would convert the column and scan), the login lower-cased for
// (ApplicationId, LoweredUserName); a UserMain.UserId that does not match the login is refused.
func TestKeyParametersAndLoginCrossCheck(t *testing.T) {
	var d *sqldir.Directory
	tdsDemoTarget(t, func(dir *sqldir.Directory) *directorytest.Target { d = dir; return &directorytest.Target{Dir: dir} })
	srv := lastFake
	ctx := testCtx(t)
	var mu sync.Mutex
	var seen []tdsfake.Request
	srv.SetHook(func(r *tdsfake.Request) *tdsfake.Action {
		mu.Lock()
		seen = append(seen, *r)
		mu.Unlock()
		return nil
	})
	alice := demoLogin(t, "alice")
	if _, err := d.MemberByKey(ctx, alice.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, "ALICE", "alice-demo-1"); err != nil {
		t.Fatal(err)
	}
	srv.SetHook(nil)
	var byKey, byLogin *tdsfake.Request
	for i := range seen {
		switch {
		case strings.Contains(seen[i].SQL, "um.ProviderKey = @p1") && strings.Contains(seen[i].SQL, "AS is_deleted"):
			byKey = &seen[i]
		case strings.Contains(seen[i].SQL, "au.LoweredUserName = @p1"):
			byLogin = &seen[i]
		}
	}
	if byKey == nil || byLogin == nil {
		t.Fatalf("queries not seen: %d requests", len(seen))
	}
	if p := byKey.Params[0]; !strings.HasPrefix(p.Type, "nvarchar") || p.Value != strings.ToLower(alice.Key) {
		t.Fatalf("member_by_key @p1 = %s %v, want lower-case nvarchar text", p.Type, p.Value)
	}
	if p := byLogin.Params[0]; !strings.HasPrefix(p.Type, "nvarchar") || p.Value != "alice" {
		t.Fatalf("member_by_login @p1 = %s %v, want the lower-cased login", p.Type, p.Value)
	}
	// UserMain.UserId no longer matches the aspnet login: refused, not found.
	if err := srv.Exec(`UPDATE dbo.UserMain SET UserId = 'SOMEONE' WHERE ProviderKey = @p1`, strings.ToLower(alice.Key)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(ctx, "alice", "alice-demo-1"); !errors.Is(err, legacy.ErrBadCredentials) {
		t.Fatalf("mismatched UserMain.UserId: %v", err)
	}
	if _, err := d.MemberByKey(ctx, alice.Key); !errors.Is(err, legacy.ErrNotFound) {
		t.Fatalf("mismatched UserMain.UserId lookup: %v", err)
	}
}
