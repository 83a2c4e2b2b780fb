package storetest

import (
	"testing"

	"github.com/ssobridge/ssobridge/sso"
)

// testClientDeleteClosesPending (session 23, left by s22 H3, which listed memstore's DeleteClient
// as leaving them open): deleting a client closes its grants not yet redeemed on every store, as
// RevokeGrants does for a member: its unexchanged code is not exchanged and its approved device
// authorization is not redeemed, even once a client is registered again under the id; another
// client's stay redeemable.
func testClientDeleteClosesPending(t *testing.T, h *H) {
	gone, other := "gone-"+RandomID()[:8], "stays-"+RandomID()[:8]
	NoErr(t, h.S.CreateClient(h.Ctx, newClient(gone, h.Now)), "CreateClient")
	mine, theirs := h.codeOf0("alice", gone), h.codeOf0("alice", other)
	ds, devices := h.S.(sso.DeviceStore)
	var dGone, dOther *sso.DeviceAuthorization
	if devices {
		approve := func(client string) *sso.DeviceAuthorization {
			d := NewDevice(h.Now)
			d.ClientID = client
			NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, d), "create device authorization")
			NoErr(t, ds.DecideDeviceAuthorization(h.Ctx, d.UserCode, true, sso.Completion{Subject: "alice", SessionID: RandomID()}, h.Now), "approve")
			return d
		}
		dGone, dOther = approve(gone), approve(other)
	}
	NoErr(t, h.S.DeleteClient(h.Ctx, gone), "DeleteClient")
	NoErr(t, h.S.CreateClient(h.Ctx, newClient(gone, h.Now)), "CreateClient again")

	if h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: mine.hash, ConsumeCodeRequest: mine.id, Family: h.NewAccessFamily()}) == nil {
		t.Fatal("a deleted client's unexchanged code was exchanged")
	}
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: theirs.hash, ConsumeCodeRequest: theirs.id, Family: h.NewAccessFamily()}),
		"exchange of another client's code")
	if !devices {
		return
	}
	if ds.ConsumeDeviceAuthorization(h.Ctx, dGone.DeviceCodeHash, gone, h.Now) == nil {
		t.Fatal("a deleted client's approved device authorization was redeemed")
	}
	NoErr(t, ds.ConsumeDeviceAuthorization(h.Ctx, dOther.DeviceCodeHash, other, h.Now), "redeem another client's device authorization")
}
