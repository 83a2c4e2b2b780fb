package sso_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// Review s25 Y-3 (Medium): DeviceDone denied the device authorization for good for ANY error
// at DonePath, whereas only access_denied (the member's refusal) is one: op's callback answers
// server_error there when its code write fails (and invalid_request for a second callback).
// Such an error now decides nothing: DeviceDone answers ErrDeviceUndecided with the
// authorization still pending, the device hears authorization_pending, and the member who
// enters the code again and allows the app gets the device its tokens. access_denied still
// denies (the device hears access_denied). Fails without the fix: every case denies.
func TestY25DeviceDoneErrorOtherThanAccessDeniedDecidesNothing(t *testing.T) {
	const interval = 100 * time.Millisecond
	h := newHarness(t, func(c *sso.Config) { c.Device.Interval = interval })
	ctx := t.Context()
	tv := "tv:" + webSecret
	// login enters userCode and returns the internal request's id.
	login := func(userCode string) string {
		t.Helper()
		_, login, err := h.p.DeviceLogin(ctx, userCode)
		if err != nil || login == "" {
			t.Fatalf("DeviceLogin: %q %v", login, err)
		}
		lu, _ := url.Parse(login)
		return lu.Query().Get("id")
	}
	poll := func(dc string) (int, map[string]any) {
		time.Sleep(interval)
		status, body, _ := h.token(url.Values{"grant_type": {sso.GrantDeviceCode}, "device_code": {dc}}, tv)
		return status, body
	}
	for _, tc := range []struct {
		errCode string
		denies  bool
	}{
		{"server_error", false},
		{"temporarily_unavailable", false},
		{"invalid_request", false},
		{"access_denied", true},
	} {
		t.Run(tc.errCode, func(t *testing.T) {
			resp := h.post(sso.PathDeviceAuthzEP, url.Values{"scope": {"openid offline_access"}}, tv)
			da := decodeJSON(t, resp)
			dc, uc := da["device_code"].(string), da["user_code"].(string)
			ar, err := h.p.AuthRequest(ctx, login(uc))
			if err != nil {
				t.Fatal(err)
			}
			d, approved, err := h.p.DeviceDone(ctx, url.Values{"error": {tc.errCode}, "error_description": {"x"}, "state": {ar.State}})
			if tc.denies {
				if err != nil || approved || d.State != sso.DeviceDenied {
					t.Fatalf("DeviceDone(access_denied) = %v %v %v, want denied", d, approved, err)
				}
				if status, body := poll(dc); status != 400 || body["error"] != "access_denied" {
					t.Fatalf("poll after the member's refusal: %d %v", status, body)
				}
				return
			}
			if !errors.Is(err, sso.ErrDeviceUndecided) || approved || d == nil || d.State != sso.DevicePending {
				t.Fatalf("DeviceDone(%s) = %+v %v %v, want the pending authorization and ErrDeviceUndecided", tc.errCode, d, approved, err)
			}
			if status, body := poll(dc); status != 400 || body["error"] != "authorization_pending" {
				t.Fatalf("poll after %s in the member's browser: %d %v, want authorization_pending", tc.errCode, status, body)
			}
			// The member enters the code again and allows the app.
			id := login(uc)
			now := time.Now()
			if err := h.store.CreateSession(ctx, &sso.Session{ID: "dev-" + id, Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: "alice", AuthTime: now, SessionID: "dev-" + id})
			if err != nil {
				t.Fatal(err)
			}
			done, _ := url.Parse(h.get(cb).Header.Get("Location"))
			if _, ok, err := h.p.DeviceDone(ctx, done.Query()); err != nil || !ok {
				t.Fatalf("DeviceDone on the second try: %v %v", ok, err)
			}
			if status, body := poll(dc); status != 200 || body["access_token"] == nil {
				t.Fatalf("poll after the second try: %d %v", status, body)
			}
		})
	}
}
