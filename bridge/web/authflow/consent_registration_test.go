package authflow

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// TestConsentOfAnEarlierRegistration (S's note, session 12; review s11 Z9's leftover): a
// member's consent given before the client's registration was given to another app that held
// the same id (a client removed before consents went with it), so the member is asked again;
// a consent given since, or to a static client (no registration time), still counts.
func TestConsentOfAnEarlierRegistration(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &Handler{Store: st}
	registered := time.Now().Add(-time.Hour).Truncate(time.Second)
	ar := &sso.AuthRequest{Scopes: []string{"openid", "email"}}
	for _, tc := range []struct {
		name      string
		reg       time.Time
		grantedAt time.Time
		want      bool
	}{
		{"given to an earlier registration", registered, registered.Add(-time.Minute), true},
		{"given to this registration", registered, registered.Add(time.Minute), false},
		{"static client", time.Time{}, registered.Add(-24 * time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := st.PutConsent(ctx, &store.Consent{Subject: "s1", ClientID: "app", Scopes: []string{"email", "openid"}, GrantedAt: tc.grantedAt}); err != nil {
				t.Fatal(err)
			}
			got, err := h.needsConsent(ctx, ar, &sso.ClientConfig{ID: "app", RegisteredAt: tc.reg}, "s1")
			if err != nil || got != tc.want {
				t.Fatalf("needsConsent = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}
