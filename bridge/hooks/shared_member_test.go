package hooks_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/hooks"
	claimpolicy "github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/cache"
	"github.com/ssobridge/ssobridge/sso"
)

// richMember is a member with every kind of field the hooks' readers look at: roles and their
// grants, extra columns, dates, a password change.
func richMember() *legacy.Member {
	m := &legacy.Member{Key: "K1", ContactKey: "C1", MemberID: "1001", Login: "alice", Email: "alice@example.org",
		GivenName: "Alice", FamilyName: "Anders", FullName: "Alice Anders", Company: "Acme",
		MemberType: "REG", MemberRecord: true, Status: "A", MemberStatus: "R",
		JoinDate: now.AddDate(-3, 0, 0), PaidThrough: now.AddDate(1, 0, 0),
		Extra:    map[string]string{"chapter": "North", "level": "Gold"},
		Standing: legacy.Standing{Approved: true, PasswordChangedAt: now.Add(-time.Hour)},
	}
	m.SetGrants([]legacy.Grant{{Role: "Board", Source: "committee"}, {Role: "Member", Source: "type"}, {Role: "Board", Source: "role"}})
	return m
}

// TestHooksLeaveSharedMemberAlone: the member the hooks read through the cache is the cached
// value itself (SharedMembers), so nothing the hooks do with it may change it. Every reader
// runs on it (the claim policy with the roles, extra columns and computed claims over both,
// for every target; the access decision with a rule over roles and extra columns; the sign-in
// checks with the second-factor policy and the password-change rule), concurrently (the race
// detector reports a write), the claims are used as sso uses them (encoded), and the cached
// member must still equal a copy taken before, field for field.
func TestHooksLeaveSharedMemberAlone(t *testing.T) {
	eng, err := claimpolicy.Compile(claimpolicy.Config{
		ExtraColumns: []string{"chapter", "level", "region"},
		Scopes: map[string]claimpolicy.Scope{"membership": {Claims: []string{"member_id", "chapter", "level", "region"},
			Computed: map[string]string{"all_roles": `member.roles`, "extra": `member.extra`, "chapter_lower": `member.extra["chapter"].lowerAscii()`}}},
		Policies: map[string]claimpolicy.ClientPolicy{"web": {AccessRule: `"Board" in member.roles && member.extra["chapter"] == "North"`,
			Namespace: &claimpolicy.Namespace{Claim: "https://rp.example/m", Scope: "membership", Claims: []string{"roles", "all_roles", "extra"}}}},
	}, claimpolicy.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	dir := cache.New(&oneMember{m: richMember()}, cache.Options{Now: func() time.Time { return now }})
	h, _ := newHooks()
	h.Members, h.Policy = dir, eng
	h.Access = access.New(eng, nil, slog.New(slog.DiscardHandler))
	h.SecondFactorPolicy = func(_ context.Context, _ string, m *legacy.Member, _ []string) (string, error) {
		for _, r := range m.Roles {
			if r == "Board" {
				return "role", nil
			}
		}
		return "", nil
	}
	if _, err := dir.MemberByKey(context.Background(), "K1"); err != nil { // cached from here on
		t.Fatal(err)
	}
	shared, err := dir.SharedMemberByKey(context.Background(), "K1")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := dir.SharedMemberByKey(context.Background(), "k1"); again != shared {
		t.Fatal("SharedMemberByKey did not return the cached member itself")
	}
	before := deepCopy(t, shared)

	scopes := []string{"openid", "profile", "email", "phone", "address", "roles", "membership", "offline_access"}
	readers := map[string]func(ctx context.Context){
		"CheckGrant": func(ctx context.Context) {
			if err := h.CheckGrant(ctx, "sub-K1", "web"); err != nil {
				t.Errorf("CheckGrant: %v", err)
			}
		},
		"CheckSignIn": func(ctx context.Context) {
			if err := h.CheckSignIn(ctx, "sub-K1", "web", now.Add(-2*time.Hour), []string{"pwd"}); err == nil {
				t.Error("CheckSignIn let a password-only grant through for a Board member")
			}
		},
	}
	for _, target := range []sso.ClaimTarget{sso.TargetIDToken, sso.TargetUserinfo, sso.TargetAccessToken} {
		readers["Claims "+string(target)] = func(ctx context.Context) {
			c, err := h.Claims(ctx, "sub-K1", "web", scopes, target)
			if err != nil {
				t.Errorf("Claims(%s): %v", target, err)
				return
			}
			if target == sso.TargetIDToken && c["chapter"] != "North" {
				t.Errorf("claims without the extra column: %v", c)
			}
			if _, err := json.Marshal(c); err != nil {
				t.Error(err)
			}
		}
		readers["WriteClaims "+string(target)] = func(ctx context.Context) {
			var (
				sink sso.ClaimSink
				ui   oidc.UserInfo
			)
			if err := h.WriteClaims(ctx, "sub-K1", "web", scopes, target, &sink); err != nil {
				t.Errorf("WriteClaims(%s): %v", target, err)
				return
			}
			sink.ApplyTo(&ui)
			if target == sso.TargetIDToken && ui.Claims["chapter"] != "North" {
				t.Errorf("claims without the extra column: %+v", ui)
			}
			if _, err := json.Marshal(&ui); err != nil {
				t.Error(err)
			}
		}
	}
	for name, read := range readers {
		read(hooks.WithProtocolRequest(context.Background(), "192.0.2.7"))
		if !reflect.DeepEqual(shared, before) {
			t.Fatalf("%s changed the shared member:\n got %#v\nwant %#v", name, shared, before)
		}
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := hooks.WithProtocolRequest(context.Background(), "192.0.2.7")
			for _, read := range readers {
				read(ctx)
			}
		}()
	}
	wg.Wait()
	if !reflect.DeepEqual(shared, before) {
		t.Errorf("the hooks changed the shared member:\n got %#v\nwant %#v", shared, before)
	}
	if m, _ := dir.SharedMemberByKey(context.Background(), "K1"); m != shared {
		t.Error("the cached member was replaced")
	}
}

// deepCopy is m with slices and a map of its own.
func deepCopy(t *testing.T, m *legacy.Member) *legacy.Member {
	t.Helper()
	cp := *m
	cp.Roles = append([]string(nil), m.Roles...)
	cp.Grants = append([]legacy.Grant(nil), m.Grants...)
	cp.Extra = map[string]string{}
	for k, v := range m.Extra {
		cp.Extra[k] = v
	}
	return &cp
}

// oneMember is a directory of one member, for the cache to wrap.
type oneMember struct {
	legacy.Directory
	m *legacy.Member
}

func (d *oneMember) MemberByKey(_ context.Context, key string) (*legacy.Member, error) {
	if key == d.m.Key || key == "k1" {
		cp := *d.m
		return &cp, nil
	}
	return nil, legacy.ErrNotFound
}
