package bridge

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// An upgrade must never change the member key, and with it every subject, under an
// installation: the key in use is recorded on first start and wins over the default.
func TestSettleMemberKey(t *testing.T) {
	kek := identity.RandomBytes(32)
	type start struct {
		configured string // legacy.member_key ("" = not set)
		want       string // the member key the directory is opened with ("" = the default)
		wantErr    bool
	}
	tests := []struct {
		name             string
		existingSubjects bool // subjects issued by a version that recorded no member key
		starts           []start
	}{
		{"new installation, default", false, []start{{"", "", false}, {"", "", false}, {imis.MemberKeyProvider, imis.MemberKeyProvider, false}}},
		{"new installation, contact key chosen, later left unset", false, []start{
			{imis.MemberKeyContact, imis.MemberKeyContact, false}, {"", imis.MemberKeyContact, false}}},
		{"new installation, key changed later", false, []start{{"", "", false}, {imis.MemberKeyContact, "", true}}},
		{"upgraded installation keeps the contact key", true, []start{{"", imis.MemberKeyContact, false}, {"", imis.MemberKeyContact, false}}},
		{"upgraded installation, provider key asked for", true, []start{{imis.MemberKeyProvider, "", true}}},
		{"upgraded installation, contact key set", true, []start{{imis.MemberKeyContact, imis.MemberKeyContact, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if tt.existingSubjects {
				now := time.Now()
				if err := st.PutSubject(ctx, &store.Subject{Subject: "s1", MemberKey: "C2F7B6E4-0D4B-4C7F-9E0B-0123456789AB", Login: "jane", FirstSeen: now, LastSeen: now}); err != nil {
					t.Fatal(err)
				}
			}
			for i, s := range tt.starts {
				lc := &imis.Config{Config: sqldir.Config{MemberKey: s.configured}}
				got, err := settleMemberKey(ctx, st, kek, lc.MemberKeyModes(), slog.New(slog.DiscardHandler))
				if s.wantErr {
					if err == nil || !strings.Contains(err.Error(), "legacy.member_key") {
						t.Fatalf("start %d (%q): err = %v, want one naming legacy.member_key", i, s.configured, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("start %d (%q): %v", i, s.configured, err)
				}
				if got != s.want {
					t.Fatalf("start %d (%q): member key %q, want %q", i, s.configured, got, s.want)
				}
			}
		})
	}
}
