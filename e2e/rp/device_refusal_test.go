package rp

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/directories"
	"github.com/ssobridge/ssobridge/e2e/rpharness"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/imis"
	"github.com/ssobridge/ssobridge/sso"
)

// deviceAuthorization is the device authorization response openid-client received.
type deviceAuthorization struct {
	UserCode                string `json:"user_code"`
	VerificationURIComplete string `json:"verification_uri_complete"`
}

// TestOpenIDClientDeviceRefusals: openid-client 6 (node) as a device (RFC 8628), refused for
// good, as its own poller sees it:
//   - the member approved, then was deleted in the AMS before the device polled: the poll is
//     refused access_denied (RFC 8628 3.5), which openid-client raises; the member restored in
//     the AMS, a later poll of the same device code is invalid_grant ("already used"), not
//     tokens: the refusal consumed the code;
//   - the member denied at the device confirmation: access_denied, raised by openid-client; a
//     later poll gets no tokens either;
//   - the AMS recorded a password change after the sign-in the approval rested on: the poll is
//     invalid_grant (the sign-in fails today's policy), and a later one invalid_grant "already
//     used".
//
// The AMS is the demo database in a file, read by the imis connector type without the profile
// cache, so that the test's changes reach the bridge's next read.
func TestOpenIDClientDeviceRefusals(t *testing.T) {
	node, dir := nodePackages(t)
	ams := filepath.Join(t.TempDir(), "ams.db")
	db, err := demo.Open(context.Background(), ams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := rpharness.StartBridge(t, []config.Client{{ID: deviceClient, Name: "Living-room TV", Secret: deviceSecret,
		GrantTypes: []string{sso.GrantDeviceCode, sso.GrantRefreshToken}}},
		func(c *bridge.Config) {
			c.Tokens.DeviceInterval = time.Second
			lc := demo.SQLConfig()
			lc.DSN, lc.CacheSize = ams, -1
			c.Legacy = directories.LegacyConfig{Type: "imis", Config: &imis.Config{Config: lc}}
		})
	staffID := ""
	for _, l := range demo.Logins() {
		if l.Login == rpharness.StaffLogin {
			staffID = l.MemberID
		}
	}
	setStatus := func(t *testing.T, status string) {
		t.Helper()
		if _, err := db.Exec(`UPDATE Name SET STATUS = ?1 WHERE ID = ?2`, status, staffID); err != nil {
			t.Fatal(err)
		}
	}
	start := func(t *testing.T, query string) (origin string, da deviceAuthorization) {
		t.Helper()
		ln, origin := listen(t)
		startNode(t, "openid-client device", node, dir, "openid-client-device.mjs", ln, origin,
			"RP_ISSUER="+b.Issuer, "RP_CLIENT_ID="+deviceClient, "RP_CLIENT_SECRET="+deviceSecret, "RP_SCOPE="+deviceScope)
		if status := getJSON(t, origin+"/start"+query, &da); status != http.StatusOK || da.UserCode == "" {
			t.Fatalf("device authorization in openid-client: %d %+v", status, da)
		}
		return origin, da
	}
	pollAgain := func(t *testing.T, origin string) *deviceOutcome {
		t.Helper()
		var v map[string]any
		if status := getJSON(t, origin+"/poll", &v); status != http.StatusAccepted {
			t.Fatalf("poll again: %d %v", status, v)
		}
		return deviceResult(t, origin)
	}
	// used checks that a refused poll says the code was already used (consumed by the refusal
	// before it), not the refusal again.
	used := func(t *testing.T, what string, out *deviceOutcome) {
		t.Helper()
		if !strings.Contains(out.Error.ErrorDescription, "already used") {
			t.Fatalf("%s: %s (%q), want the code already used", what, out.Error.Error, out.Error.ErrorDescription)
		}
	}
	refused := func(t *testing.T, what string, out *deviceOutcome, codes ...string) string {
		t.Helper()
		if out.OK || out.Error == nil || !slices.Contains(codes, out.Error.Error) || out.Error.Status != http.StatusBadRequest {
			raw, _ := json.Marshal(out)
			t.Fatalf("%s: want openid-client to raise %v (400), got %s", what, codes, raw)
		}
		if len(out.Polls) == 0 {
			t.Fatalf("%s: openid-client sent no poll", what)
		}
		return out.Error.Error
	}

	t.Run("member deleted in the AMS after approving: access_denied, then invalid_grant once restored", func(t *testing.T) {
		t.Cleanup(func() { setStatus(t, "A") })
		ctx := rpharness.NewChrome(t)
		origin, da := start(t, "?manual=1")
		deviceDecide(t, ctx, da.VerificationURIComplete, "allow")
		setStatus(t, "D") // Name.STATUS 'D...': a deleted contact
		refused(t, "the first poll after the member was deleted", pollAgain(t, origin), "access_denied")
		setStatus(t, "A")
		later := pollAgain(t, origin)
		refused(t, "a later poll, the member restored", later, "invalid_grant")
		used(t, "a later poll, the member restored", later)
	})

	// A denial is the code's final state (RFC 8628 3.5 access_denied): it is not consumed, so
	// every later poll until the code expires is answered access_denied again (unlike a refusal
	// at poll time, which consumes the code: "already used" above and below).
	t.Run("member denied at the device confirmation: access_denied, and again at a later poll", func(t *testing.T) {
		ctx := rpharness.NewChrome(t)
		origin, da := start(t, "")
		deviceDecide(t, ctx, da.VerificationURIComplete, "deny")
		refused(t, "the poll after the member denied", deviceResult(t, origin), "access_denied")
		refused(t, "a later poll", pollAgain(t, origin), "access_denied")
	})

	t.Run("password changed in the AMS after approving: invalid_grant, then 'already used'", func(t *testing.T) {
		const byLogin = `FROM aspnet_Membership WHERE UserId = (SELECT UserId FROM aspnet_Users WHERE LoweredUserName = ?1)`
		var was string
		if err := db.QueryRow(`SELECT LastPasswordChangedDate `+byLogin, rpharness.StaffLogin).Scan(&was); err != nil {
			t.Fatal(err)
		}
		setChanged := func(t *testing.T, v string) {
			t.Helper()
			if _, err := db.Exec(`UPDATE aspnet_Membership SET LastPasswordChangedDate = ?2 WHERE UserId = (SELECT UserId FROM aspnet_Users WHERE LoweredUserName = ?1)`,
				rpharness.StaffLogin, v); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { setChanged(t, was) })
		ctx := rpharness.NewChrome(t)
		origin, da := start(t, "?manual=1")
		deviceDecide(t, ctx, da.VerificationURIComplete, "allow")
		// The AMS records a password change after the sign-in the approval rested on (beyond the
		// bridge's minute of skew): that sign-in fails today's policy.
		setChanged(t, time.Now().UTC().Add(5*time.Minute).Format("2006-01-02 15:04:05.000"))
		refused(t, "the first poll after the password changed", pollAgain(t, origin), "invalid_grant")
		later := pollAgain(t, origin)
		refused(t, "a later poll", later, "invalid_grant")
		used(t, "a later poll", later)
	})
}
