package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// liveGrants is the store method provisioning asks before it skips the read confirming a
// deactivation (review s26 R3-2).
type liveGrants interface {
	HasLiveGrants(ctx context.Context, subject string) (bool, error)
}

// testShadowHasLiveGrants: HasLiveGrants reports every grant a deactivation revokes or closes,
// one kind at a time: a live family with access tokens only (as with a refresh token), an
// unexchanged code, an approved device authorization; after RevokeGrants (which the
// deactivation runs) none is left. Another member's grants do not count.
func testShadowHasLiveGrants(t *testing.T, h *H) {
	lg, ok := h.S.(liveGrants)
	if !ok {
		t.Skip("store has no HasLiveGrants")
	}
	s := h.sso()
	has := func(sub string) bool {
		t.Helper()
		live, err := lg.HasLiveGrants(h.Ctx, sub)
		ssotest.NoErr(t, err, "HasLiveGrants")
		return live
	}
	ds, devices := h.S.(sso.DeviceStore)
	kinds := []struct {
		name  string
		grant func(sub string)
	}{
		{"access-only family", func(sub string) {
			f := s.NewAccessFamily()
			f.Subject, f.ClientID = sub, "portal"
			ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
		}},
		{"refresh family", func(sub string) { h.grant(sub, "portal") }},
		{"unexchanged code", func(sub string) {
			r := s.NewAuthRequest()
			r.ClientID = "portal"
			ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
			ssotest.NoErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, sso.Completion{Subject: sub, AuthTime: h.Now, AMR: []string{"pwd"},
				SessionID: s.CreateSession(sub).ID}), "CompleteAuthRequest")
			ssotest.NoErr(t, h.S.SaveCode(h.Ctx, r.ID, ssotest.RandomID(), h.Now.Add(10*time.Minute)), "SaveCode")
		}},
		{"approved device authorization", func(sub string) {
			if !devices {
				t.Skip("store has no device authorizations")
			}
			d := ssotest.NewDevice(h.Now)
			d.ClientID = "portal"
			ssotest.NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "CreateDeviceAuthorization")
			ssotest.NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: sub, SessionID: ssotest.RandomID()}, h.Now), "approve")
		}},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			sub, other := ssotest.RandomID(), ssotest.RandomID()
			if has(sub) {
				t.Fatal("a new subject has live grants")
			}
			k.grant(other)
			if has(sub) {
				t.Fatal("another member's grant counts")
			}
			k.grant(sub)
			if !has(sub) {
				t.Fatalf("%s not counted", k.name)
			}
			_, err := h.S.RevokeGrants(h.Ctx, sub, "")
			ssotest.NoErr(t, err, "RevokeGrants")
			if has(sub) {
				t.Fatalf("%s still counted after RevokeGrants", k.name)
			}
		})
	}
}
