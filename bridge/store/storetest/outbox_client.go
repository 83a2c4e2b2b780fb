package storetest

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// testOutboxEventsDieWithClient: deleting a client deletes its events that are not delivered
// (pending, in flight or dead) in the same transaction, so that a client registered later under
// the same id (another app) is never sent what was queued for the app that is gone, by the
// queue or by a retry of a dead event; another client's events and the delivered history stay.
// An outcome recorded for an event deleted while in flight finds no event (sso.ErrNotFound).
func testOutboxEventsDieWithClient(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient")
	delivered, dead, leased, retrying := clientEvent("gone", "m1"), clientEvent("gone", "m2"), clientEvent("gone", "m3"), clientEvent("gone", "m4")
	pending, later, other := clientEvent("gone", "m5"), clientEvent("gone", "m3"), clientEvent("stays", "m1")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, dueAt(h.Now, delivered, dead, leased, retrying)...), "Enqueue")
	at := h.Now.Add(time.Minute)
	lease := leases(h.claimExactly(at, "claim", delivered, dead, leased, retrying))
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, delivered.ID, lease[delivered.ID], at), "MarkDelivered")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, dead.ID, lease[dead.ID], at, "410", true), "MarkFailed(dead)")
	ssotest.NoErr(t, h.S.MarkFailed(h.Ctx, retrying.ID, lease[retrying.ID], at.Add(time.Minute), "503", false), "MarkFailed(retry)")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, pending, later, other), "Enqueue")

	ssotest.NoErr(t, h.S.DeleteClient(h.Ctx, "gone"), "DeleteClient")
	for _, e := range []*store.OutboxEvent{dead, leased, retrying, pending, later} {
		_, err := h.S.OutboxEvent(h.Ctx, e.ID)
		ssotest.IsErr(t, err, sso.ErrNotFound, "event %s of the deleted client", e.ID)
	}
	got, err := h.S.OutboxEvent(h.Ctx, delivered.ID)
	ssotest.NoErr(t, err, "the deleted client's delivered event (history)")
	ssotest.Equal(t, got.State, store.OutboxDelivered, "its state")
	ssotest.IsErr(t, h.S.MarkDelivered(h.Ctx, leased.ID, lease[leased.ID], at), sso.ErrNotFound, "MarkDelivered of an event deleted in flight")

	// The same id registered again: nothing of the old app's is claimed or retried for it.
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient again")
	n, err := h.S.RetryEvents(h.Ctx, "", at)
	ssotest.NoErr(t, err, "RetryEvents")
	ssotest.Equal(t, n, 0, "dead events re-queued after the client was deleted")
	ssotest.Equal(t, ids(h.claim(at.Add(time.Hour), 10)), []string{other.ID}, "claimed after the deletion")
}

// testShadowGoneWithClient: deleting a client deletes its provisioned users (shadow records)
// in the same transaction: a client registered later under the same id (another app) finds no
// digest (so every member is provisioned to it) and no external id (so the old app's user ids
// are never PUT to the new app, where they can name other people) (review s17 R2-1). Another
// client's records stay.
func testShadowGoneWithClient(t *testing.T, h *H) {
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient")
	for _, u := range []*store.ShadowUser{
		{ClientID: "gone", Subject: "alice", Digest: "d1", Active: true, View: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now},
		{ClientID: "gone", Subject: "bob", Digest: "d2", Active: true, View: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now},
		{ClientID: "stays", Subject: "alice", Digest: "d3", Active: true, View: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now},
	} {
		_, err := h.S.PutShadowUser(h.Ctx, u)
		ssotest.NoErr(t, err, "PutShadowUser")
	}
	ssotest.NoErr(t, h.S.SetShadowExternalID(h.Ctx, "gone", "alice", "42"), "SetShadowExternalID")
	ssotest.NoErr(t, h.S.DeleteClient(h.Ctx, "gone"), "DeleteClient")
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient again")
	for _, sub := range []string{"alice", "bob"} {
		_, err := h.S.ShadowUser(h.Ctx, "gone", sub)
		ssotest.IsErr(t, err, sso.ErrNotFound, "shadow user %s of the deleted client", sub)
	}
	got, err := h.S.ShadowUser(h.Ctx, "stays", "alice")
	ssotest.NoErr(t, err, "another client's shadow user after DeleteClient")
	ssotest.Equal(t, got.Digest, "d3", "its digest")
}

// testClientRemovalCounted: DeleteClientCounted says what the deletion destroyed, counted in its
// transaction: the live grants with a refresh token (an access-only family is revoked, not
// counted), the consents, the events not delivered (a delivered one is history, kept), the
// sessions it took part in and its provisioned users; another client's are neither deleted nor
// counted. Deleting it again, or a client never registered, deletes nothing: all zero, Existed
// false (review s17 R2-5: the audit said only "N grants revoked").
func testClientRemovalCounted(t *testing.T, h *H) {
	sh := &ssotest.H{T: t, S: h.S, Ctx: h.Ctx, Now: h.Now}
	ssotest.NoErr(t, h.S.CreateClient(h.Ctx, &sso.StoredClient{ID: "gone", Config: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now}), "CreateClient")
	sh.Grant("alice", "gone")
	sh.Grant("bob", "gone")
	sh.Grant("alice", "stays")
	access := sh.NewAccessFamily()
	access.ClientID = "gone"
	ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: access}), "IssueTokens(access only)")
	for _, c := range []*store.Consent{
		{Subject: "alice", ClientID: "gone", Scopes: []string{"openid"}, GrantedAt: h.Now},
		{Subject: "bob", ClientID: "gone", Scopes: []string{"openid"}, GrantedAt: h.Now},
		{Subject: "alice", ClientID: "stays", Scopes: []string{"openid"}, GrantedAt: h.Now},
	} {
		ssotest.NoErr(t, h.S.PutConsent(h.Ctx, c), "PutConsent")
	}
	delivered := clientEvent("gone", "m1")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, delivered), "Enqueue")
	at := h.Now.Add(time.Minute) // past the store clock's enqueue time even when a loaded run takes seconds
	l := h.claim(at, 10)
	ssotest.Equal(t, ids(l), []string{delivered.ID}, "claimed")
	ssotest.NoErr(t, h.S.MarkDelivered(h.Ctx, delivered.ID, l[0].LeaseUntil, at), "MarkDelivered")
	ssotest.NoErr(t, h.S.Enqueue(h.Ctx, clientEvent("gone", "m2"), clientEvent("gone", "m3"), clientEvent("stays", "m1")), "Enqueue")
	sh.CreateSession("alice", "gone", "stays")
	sh.CreateSession("bob", "gone")
	sh.CreateSession("carol", "stays")
	for _, u := range []*store.ShadowUser{
		{ClientID: "gone", Subject: "alice", Digest: "d1", Active: true, View: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now},
		{ClientID: "stays", Subject: "alice", Digest: "d2", Active: true, View: []byte("{}"), CreatedAt: h.Now, UpdatedAt: h.Now},
	} {
		_, err := h.S.PutShadowUser(h.Ctx, u)
		ssotest.NoErr(t, err, "PutShadowUser")
	}
	ar := sh.NewAuthRequest()
	ar.ClientID = "gone"
	ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
	sh.CreateCode() // another client's
	want := store.ClientRemoval{Existed: true, Grants: 2, Consents: 2, Events: 2, Sessions: 2, ShadowUsers: 1, Requests: 1}
	if ds, ok := h.S.(sso.DeviceStore); ok {
		dev, stays := ssotest.NewDevice(h.Now), ssotest.NewDevice(h.Now)
		dev.ClientID = "gone"
		ssotest.NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, dev), "CreateDeviceAuthorization")
		ssotest.NoErr(t, ds.CreateDeviceAuthorization(h.Ctx, stays), "CreateDeviceAuthorization")
		want.Devices = 1
	}
	r, err := h.S.DeleteClientCounted(h.Ctx, "gone")
	ssotest.NoErr(t, err, "DeleteClientCounted")
	ssotest.Equal(t, r, want, "what the deletion deleted")
	for _, id := range []string{"gone", "never"} {
		r, err = h.S.DeleteClientCounted(h.Ctx, id)
		ssotest.NoErr(t, err, "DeleteClientCounted(%s) again", id)
		ssotest.Equal(t, r, store.ClientRemoval{}, "what deleting %s deleted", id)
	}
	rts, err := h.S.ListRefreshTokens(h.Ctx, "", "stays")
	ssotest.NoErr(t, err, "ListRefreshTokens(stays)")
	ssotest.Equal(t, len(rts), 1, "another client's grants")
}
