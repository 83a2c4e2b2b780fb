package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var factorTests = []test{
	{"UserHandle", testUserHandle},
	{"TOTPLifecycle", testTOTPLifecycle},
	{"TOTPStepReplay", testTOTPStepReplay},
	{"TOTPStepConcurrent", testTOTPStepConcurrent},
	{"RecoveryCodesOnce", testRecoveryCodesOnce},
	{"WebAuthnCredentials", testWebAuthnCredentials},
	{"WebAuthnSignCountCAS", testWebAuthnSignCountCAS},
	{"ResetFactors", testResetFactors},
	{"FactorPresence", testFactorPresence},
	{"ResetFactorsAndDeactivate", testResetFactorsAndDeactivate},
	{"ChallengeStates", testChallengeStates},
	{"ChallengeExpired", testChallengeExpired},
	{"UpgradeSessionCAS", testUpgradeSessionCAS},
	{"AuthRequestACRValues", testAuthRequestACRValues},
	{"EnrolmentInviteOnce", testEnrolmentInviteOnce},
	{"EnrolmentInviteReplaced", testEnrolmentInviteReplaced},
	{"EnrolmentInviteConcurrent", testEnrolmentInviteConcurrent},
	{"EnrolmentInvitePurge", testEnrolmentInvitePurge},
	{"EnrolmentInviteConcurrentIssue", testEnrolmentInviteConcurrentIssue},
	{"ConfirmTOTPInvited", testConfirmTOTPInvited},
	{"AddWebAuthnCredentialInvited", testAddWebAuthnCredentialInvited},
	{"InvitedFirstFactorsRace", testInvitedFirstFactorsRace},
	{"EnrolmentInviteUsable", testEnrolmentInviteUsable},
	{"ConfirmTOTPNotFirst", testConfirmTOTPNotFirst},
	{"AddWebAuthnCredentialNotFirst", testAddWebAuthnCredentialNotFirst},
	{"NotFirstAfterRemoval", testNotFirstAfterRemoval},
}

// invite stores an unused invitation of sub that expires in ttl.
func (h *H) invite(sub string, ttl time.Duration) *store.EnrolmentInvite {
	inv := &store.EnrolmentInvite{Hash: ssotest.RandomID(), Subject: sub, IssuedBy: "admin", CreatedAt: h.Now, ExpiresAt: h.Now.Add(ttl)}
	ssotest.NoErr(h.T, h.S.CreateEnrolmentInvite(h.Ctx, inv), "CreateEnrolmentInvite")
	return inv
}

// useInvite uses sub's invitation of hash at at the way an enrolment does: with a first factor
// (a passkey, AddWebAuthnCredentialInvited), in its transaction. ErrNoInvite (an
// sso.ErrNotFound) when it cannot be used.
func (h *H) useInvite(sub, hash string, at time.Time) error {
	return h.S.AddWebAuthnCredentialInvited(h.Ctx, &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()), Subject: sub,
		Name: "Key", Data: []byte("{}"), CreatedAt: at}, hash, at)
}

// testEnrolmentInviteOnce: an invitation is used once, by its member, before it expires; a
// used, expired, unknown or other member's one is sso.ErrNotFound; its hash is taken once.
func testEnrolmentInviteOnce(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	inv := h.invite(sub, time.Hour)
	ssotest.IsErr(t, h.useInvite(other, inv.Hash, h.Now), sso.ErrNotFound, "another member's")
	ssotest.IsErr(t, h.useInvite(sub, ssotest.RandomID(), h.Now), sso.ErrNotFound, "unknown")
	ssotest.IsErr(t, h.useInvite(sub, inv.Hash, h.Now.Add(time.Hour)), sso.ErrNotFound, "at its expiry")
	ssotest.NoErr(t, h.useInvite(sub, inv.Hash, h.Now.Add(time.Minute)), "consume")
	ssotest.IsErr(t, h.useInvite(sub, inv.Hash, h.Now.Add(2*time.Minute)), sso.ErrNotFound, "replayed")
	// The same hash again (used or not) is a conflict, not a second life.
	dup := &store.EnrolmentInvite{Hash: inv.Hash, Subject: sub, CreatedAt: h.Now, ExpiresAt: h.Now.Add(time.Hour)}
	ssotest.IsErr(t, h.S.CreateEnrolmentInvite(h.Ctx, dup), sso.ErrConflict, "a used invitation's hash again")
	fresh := h.invite(other, time.Hour)
	dup = &store.EnrolmentInvite{Hash: fresh.Hash, Subject: other, CreatedAt: h.Now, ExpiresAt: h.Now.Add(time.Hour)}
	ssotest.IsErr(t, h.S.CreateEnrolmentInvite(h.Ctx, dup), sso.ErrConflict, "an unused invitation's hash again")
	old := h.invite(ssotest.RandomID(), -time.Minute)
	ssotest.IsErr(t, h.useInvite(old.Subject, old.Hash, h.Now), sso.ErrNotFound, "expired")
}

// testEnrolmentInviteReplaced: a member has one unused invitation: a new one voids the earlier,
// and leaves other members' alone.
func testEnrolmentInviteReplaced(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	first, theirs := h.invite(sub, time.Hour), h.invite(other, time.Hour)
	second := h.invite(sub, time.Hour)
	ssotest.IsErr(t, h.useInvite(sub, first.Hash, h.Now), sso.ErrNotFound, "the voided invitation")
	ssotest.NoErr(t, h.useInvite(sub, second.Hash, h.Now), "the new invitation")
	ssotest.NoErr(t, h.useInvite(other, theirs.Hash, h.Now), "another member's, untouched")
}

// testEnrolmentInvitePurge: Purge deletes expired invitations and used ones, and keeps an
// unused one until its expiry. A deleted invitation's hash may be stored again (while its row is
// kept, that is sso.ErrConflict: testEnrolmentInviteOnce), which is how its row is seen gone.
func testEnrolmentInvitePurge(t *testing.T, h *H) {
	expired := h.invite(ssotest.RandomID(), time.Hour)
	used := h.invite(ssotest.RandomID(), 3*time.Hour)
	ssotest.NoErr(t, h.useInvite(used.Subject, used.Hash, h.Now), "consume")
	kept := h.invite(ssotest.RandomID(), 3*time.Hour)
	at := h.Now.Add(2 * time.Hour)
	n, err := h.S.Purge(h.Ctx, at)
	ssotest.NoErr(t, err, "Purge")
	if n < 2 {
		t.Fatalf("Purge deleted %d rows, want at least 2 (an expired and a used invitation)", n)
	}
	for what, inv := range map[string]*store.EnrolmentInvite{"expired": expired, "used": used} {
		again := &store.EnrolmentInvite{Hash: inv.Hash, Subject: inv.Subject, CreatedAt: at, ExpiresAt: at.Add(time.Hour)}
		ssotest.NoErr(t, h.S.CreateEnrolmentInvite(h.Ctx, again), "the hash of an %s invitation again after Purge", what)
	}
	ssotest.NoErr(t, h.useInvite(kept.Subject, kept.Hash, at), "an unused, unexpired invitation after Purge")
}

// testEnrolmentInviteConcurrent: of eight uses of one invitation at once, one succeeds.
func testEnrolmentInviteConcurrent(t *testing.T, h *H) {
	inv := h.invite(ssotest.RandomID(), time.Hour)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if err := h.useInvite(inv.Subject, inv.Hash, h.Now); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent uses of one invitation succeeded, want 1", ok)
	}
}

func testUserHandle(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	first, err := h.S.MFAUserHandle(h.Ctx, sub, []byte("handle-one"))
	ssotest.NoErr(t, err, "MFAUserHandle")
	again, err := h.S.MFAUserHandle(h.Ctx, sub, []byte("handle-two"))
	ssotest.NoErr(t, err, "MFAUserHandle again")
	if string(first) != "handle-one" || string(again) != "handle-one" {
		t.Fatalf("handles %q, %q: the first one stored must stay", first, again)
	}
	got, err := h.S.SubjectByUserHandle(h.Ctx, []byte("handle-one"))
	ssotest.NoErr(t, err, "SubjectByUserHandle")
	if got != sub {
		t.Fatalf("SubjectByUserHandle = %q, want %q", got, sub)
	}
	_, err = h.S.SubjectByUserHandle(h.Ctx, []byte("handle-two"))
	ssotest.IsErr(t, err, sso.ErrNotFound, "unknown handle")
}

func testTOTPLifecycle(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	_, err := h.S.TOTP(h.Ctx, sub)
	ssotest.IsErr(t, err, sso.ErrNotFound, "TOTP before enrolment")
	ssotest.NoErr(t, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("sealed-1"), CreatedAt: h.Now}), "PutTOTP")
	// A pending factor is replaced by a new enrolment.
	ssotest.NoErr(t, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("sealed-2"), CreatedAt: h.Now}), "PutTOTP again")
	f, err := h.S.TOTP(h.Ctx, sub)
	ssotest.NoErr(t, err, "TOTP")
	if f.Confirmed || string(f.SecretSealed) != "sealed-2" {
		t.Fatalf("pending factor: %+v", f)
	}
	// A pending factor is no second factor: its steps cannot be used.
	ssotest.IsErr(t, h.S.UseTOTPStep(h.Ctx, sub, 100), sso.ErrNotFound, "UseTOTPStep on a pending factor")
	// The confirmation is of the secret the code was checked against: not of one that replaced it.
	ssotest.IsErr(t, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed-1"), 100, []string{"r0"}), sso.ErrNotFound, "ConfirmTOTP of a replaced secret")
	ssotest.NoErr(t, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed-2"), 100, []string{"r1", "r2"}), "ConfirmTOTP")
	ssotest.IsErr(t, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed-2"), 101, []string{"r3"}), sso.ErrNotFound, "ConfirmTOTP twice")
	f, err = h.S.TOTP(h.Ctx, sub)
	ssotest.NoErr(t, err, "TOTP")
	if !f.Confirmed || f.LastStep != 100 {
		t.Fatalf("confirmed factor: %+v", f)
	}
	if n, err := h.S.RecoveryCodesLeft(h.Ctx, sub); err != nil || n != 2 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want 2 (the second confirm wrote nothing)", n, err)
	}
	// A confirmed factor is not overwritten by a new enrolment.
	ssotest.IsErr(t, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("x")}), sso.ErrConflict, "PutTOTP over confirmed")
	// The confirmation's step was used.
	ssotest.IsErr(t, h.S.UseTOTPStep(h.Ctx, sub, 100), sso.ErrConflict, "the confirmation's step again")
	ssotest.NoErr(t, h.S.DeleteTOTP(h.Ctx, sub), "DeleteTOTP")
	_, err = h.S.TOTP(h.Ctx, sub)
	ssotest.IsErr(t, err, sso.ErrNotFound, "TOTP after delete")
	if n, err := h.S.RecoveryCodesLeft(h.Ctx, sub); err != nil || n != 0 {
		t.Fatalf("RecoveryCodesLeft after delete = %d, %v", n, err)
	}
}

func (h *H) confirmedTOTP(sub string, step int64, codes ...string) {
	h.T.Helper()
	ssotest.NoErr(h.T, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("sealed"), CreatedAt: h.Now}), "PutTOTP")
	ssotest.NoErr(h.T, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed"), step, codes), "ConfirmTOTP")
}

func testTOTPStepReplay(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	h.confirmedTOTP(sub, 10)
	ssotest.NoErr(t, h.S.UseTOTPStep(h.Ctx, sub, 12), "step 12")
	ssotest.IsErr(t, h.S.UseTOTPStep(h.Ctx, sub, 12), sso.ErrConflict, "step 12 replayed")
	ssotest.IsErr(t, h.S.UseTOTPStep(h.Ctx, sub, 11), sso.ErrConflict, "an older step after a newer one")
	ssotest.NoErr(t, h.S.UseTOTPStep(h.Ctx, sub, 13), "step 13")
	ssotest.IsErr(t, h.S.UseTOTPStep(h.Ctx, ssotest.RandomID(), 13), sso.ErrNotFound, "no factor")
}

func testTOTPStepConcurrent(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	h.confirmedTOTP(sub, 1)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Go(func() {
			if err := h.S.UseTOTPStep(h.Ctx, sub, 5); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent uses of one step succeeded, want 1", ok)
	}
}

func testRecoveryCodesOnce(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	h.confirmedTOTP(sub, 1, "hash-a", "hash-b")
	ssotest.NoErr(t, h.S.UseRecoveryCode(h.Ctx, sub, "hash-a", h.Now), "use a")
	ssotest.IsErr(t, h.S.UseRecoveryCode(h.Ctx, sub, "hash-a", h.Now), sso.ErrNotFound, "use a again")
	ssotest.IsErr(t, h.S.UseRecoveryCode(h.Ctx, ssotest.RandomID(), "hash-b", h.Now), sso.ErrNotFound, "another member's code")
	ssotest.IsErr(t, h.S.UseRecoveryCode(h.Ctx, sub, "hash-z", h.Now), sso.ErrNotFound, "unknown code")
	if n, err := h.S.RecoveryCodesLeft(h.Ctx, sub); err != nil || n != 1 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want 1", n, err)
	}
}

func testWebAuthnCredentials(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	a := &store.WebAuthnCredential{ID: []byte("cred-a"), Subject: sub, Name: "Laptop", Data: []byte(`{"a":1}`), SignCount: 3,
		BackupEligible: true, BackupState: true, CreatedAt: h.Now}
	b := &store.WebAuthnCredential{ID: []byte("cred-b"), Subject: sub, Name: "Key", Data: []byte(`{"b":1}`), CreatedAt: h.Now.Add(time.Second)}
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, a), "add a")
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, b), "add b")
	ssotest.IsErr(t, h.S.AddWebAuthnCredential(h.Ctx, &store.WebAuthnCredential{ID: []byte("cred-a"), Subject: other, Data: []byte("{}")}),
		sso.ErrConflict, "same credential id for another member")
	got, err := h.S.WebAuthnCredentials(h.Ctx, sub)
	ssotest.NoErr(t, err, "WebAuthnCredentials")
	if len(got) != 2 || !bytes.Equal(got[0].ID, a.ID) || got[0].Name != "Laptop" || got[0].SignCount != 3 ||
		!got[0].BackupEligible || !got[0].BackupState || string(got[0].Data) != `{"a":1}` || !bytes.Equal(got[1].ID, b.ID) {
		t.Fatalf("credentials: %+v", got)
	}
	ssotest.IsErr(t, h.S.DeleteWebAuthnCredential(h.Ctx, other, a.ID), sso.ErrNotFound, "delete another member's credential")
	ssotest.NoErr(t, h.S.DeleteWebAuthnCredential(h.Ctx, sub, a.ID), "delete a")
	ssotest.IsErr(t, h.S.DeleteWebAuthnCredential(h.Ctx, sub, a.ID), sso.ErrNotFound, "delete a twice")
	got, _ = h.S.WebAuthnCredentials(h.Ctx, sub)
	if len(got) != 1 || !bytes.Equal(got[0].ID, b.ID) {
		t.Fatalf("after delete: %+v", got)
	}
}

func testWebAuthnSignCountCAS(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	c := &store.WebAuthnCredential{ID: []byte("cred"), Subject: sub, Data: []byte("{}"), SignCount: 5, CreatedAt: h.Now}
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, c), "add")
	used := *c
	used.SignCount, used.LastUsedAt, used.Data = 6, h.Now, []byte(`{"n":6}`)
	ssotest.NoErr(t, h.S.UseWebAuthnCredential(h.Ctx, &used, 5), "use 5 -> 6")
	again := used
	again.SignCount = 7
	ssotest.IsErr(t, h.S.UseWebAuthnCredential(h.Ctx, &again, 5), sso.ErrConflict, "use from a stale count")
	unknown := used
	unknown.ID = []byte("nope")
	ssotest.IsErr(t, h.S.UseWebAuthnCredential(h.Ctx, &unknown, 6), sso.ErrNotFound, "unknown credential")
	got, _ := h.S.WebAuthnCredentials(h.Ctx, sub)
	if len(got) != 1 || got[0].SignCount != 6 || string(got[0].Data) != `{"n":6}` || got[0].LastUsedAt.IsZero() {
		t.Fatalf("after use: %+v", got)
	}
}

func testResetFactors(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	if n, err := h.S.FactorResetNotice(h.Ctx, sub); err != nil || n {
		t.Fatalf("notice of an unknown member: %v, %v", n, err)
	}
	if n, err := h.S.TakeFactorResetNotice(h.Ctx, sub); err != nil || n {
		t.Fatalf("notice before any reset: %v, %v", n, err)
	}
	h.confirmedTOTP(sub, 1, "code")
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, &store.WebAuthnCredential{ID: []byte("c1"), Subject: sub, Data: []byte("{}")}), "add")
	handle, err := h.S.MFAUserHandle(h.Ctx, sub, []byte("h"))
	ssotest.NoErr(t, err, "MFAUserHandle")
	n, err := h.S.ResetFactors(h.Ctx, sub, h.Now)
	ssotest.NoErr(t, err, "ResetFactors")
	if n != 2 {
		t.Fatalf("ResetFactors removed %d factors, want 2", n)
	}
	if _, err := h.S.TOTP(h.Ctx, sub); err == nil {
		t.Fatal("TOTP survived the reset")
	}
	if cs, _ := h.S.WebAuthnCredentials(h.Ctx, sub); len(cs) != 0 {
		t.Fatalf("credentials survived the reset: %d", len(cs))
	}
	if left, _ := h.S.RecoveryCodesLeft(h.Ctx, sub); left != 0 {
		t.Fatalf("recovery codes survived the reset: %d", left)
	}
	if again, _ := h.S.MFAUserHandle(h.Ctx, sub, []byte("other")); !bytes.Equal(again, handle) {
		t.Fatal("the user handle changed with the reset")
	}
	for i := range 2 { // reading leaves it
		if got, err := h.S.FactorResetNotice(h.Ctx, sub); err != nil || !got {
			t.Fatalf("FactorResetNotice #%d = %v, %v; want true", i+1, got, err)
		}
	}
	for i, want := range []bool{true, false} {
		got, err := h.S.TakeFactorResetNotice(h.Ctx, sub)
		if err != nil || got != want {
			t.Fatalf("TakeFactorResetNotice #%d = %v, %v; want %v (told once)", i+1, got, err, want)
		}
	}
	if got, err := h.S.FactorResetNotice(h.Ctx, sub); err != nil || got {
		t.Fatalf("FactorResetNotice after it was taken = %v, %v", got, err)
	}
	// A reset of a member who never had a factor still leaves the notice.
	fresh := ssotest.RandomID()
	if n, err := h.S.ResetFactors(h.Ctx, fresh, h.Now); err != nil || n != 0 {
		t.Fatalf("ResetFactors of a member without factors: %d, %v", n, err)
	}
	if got, _ := h.S.TakeFactorResetNotice(h.Ctx, fresh); !got {
		t.Fatal("no notice after resetting a member without factors")
	}
}

// testResetFactorsAndDeactivate: an administrator's reset removes the factors, ends the member's
// sessions, revokes their grants and queues the logouts in one transaction: a failure in any
// part leaves all of it as it was.
func testResetFactorsAndDeactivate(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	h.confirmedTOTP(sub, 1, "code")
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, &store.WebAuthnCredential{ID: []byte("c-" + sub), Subject: sub, Data: []byte("{}")}), "add")
	sess := h.createSession(sub, "portal")
	other := h.createSession(ssotest.RandomID(), "portal")
	rt := h.grant(sub, "portal")

	// An event the outbox refuses (no id): nothing of the reset is kept.
	_, _, err := h.S.ResetFactorsAndDeactivate(h.Ctx, &store.Deactivation{Subject: sub, EndSessions: true,
		Events: []*store.OutboxEvent{{}}})
	if err == nil {
		t.Fatal("ResetFactorsAndDeactivate with an invalid event succeeded")
	}
	if _, err := h.S.TOTP(h.Ctx, sub); err != nil {
		t.Fatalf("TOTP gone after a failed reset: %v", err)
	}
	_, err = h.S.Session(h.Ctx, sess.ID)
	ssotest.NoErr(t, err, "session after a failed reset")
	if h.sso().Revoked(rt.FamilyID) {
		t.Fatal("family revoked by a failed reset")
	}
	if got, _ := h.S.TakeFactorResetNotice(h.Ctx, sub); got {
		t.Fatal("reset notice set by a failed reset")
	}

	var seen []*store.EndedSession
	n, ended, err := h.S.ResetFactorsAndDeactivate(h.Ctx, &store.Deactivation{Subject: sub, EndSessions: true,
		Logout: func(l []*store.EndedSession) ([]*store.OutboxEvent, error) {
			seen = l
			e := event("bcl-" + sub)
			e.Type, e.Channel = "logout.backchannel", "backchannel"
			return []*store.OutboxEvent{e}, nil
		}})
	ssotest.NoErr(t, err, "ResetFactorsAndDeactivate")
	if n != 2 || len(ended) != 1 || ended[0].ID != sess.ID || len(seen) != 1 {
		t.Fatalf("removed %d factors, ended %d sessions (Logout saw %d); want 2, 1, 1", n, len(ended), len(seen))
	}
	if _, err := h.S.TOTP(h.Ctx, sub); err == nil {
		t.Fatal("TOTP survived the reset")
	}
	if cs, _ := h.S.WebAuthnCredentials(h.Ctx, sub); len(cs) != 0 {
		t.Fatalf("credentials survived the reset: %d", len(cs))
	}
	_, err = h.S.Session(h.Ctx, sess.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "session after the reset")
	_, err = h.S.Session(h.Ctx, other.ID)
	ssotest.NoErr(t, err, "another member's session")
	if !h.sso().Revoked(rt.FamilyID) {
		t.Fatal("family not revoked by the reset")
	}
	if got, _ := h.S.TakeFactorResetNotice(h.Ctx, sub); !got {
		t.Fatal("no reset notice")
	}
	evs, err := h.S.OutboxEvents(h.Ctx, store.OutboxFilter{State: store.OutboxPending})
	ssotest.NoErr(t, err, "OutboxEvents")
	if !slices.ContainsFunc(evs, func(e *store.OutboxEvent) bool { return e.Key == "bcl-"+sub }) {
		t.Fatal("the logout event was not queued")
	}
}

func testChallengeStates(t *testing.T, h *H) {
	c := &store.MFAChallenge{IDHash: ssotest.RandomID(), Kind: "signin", Subject: "sub", AuthRequestID: "ar", Browser: "b1",
		AMR: []string{"pwd"}, Data: []byte(`{"x":1}`), CreatedAt: h.Now, ExpiresAt: h.Now.Add(5 * time.Minute)}
	ssotest.NoErr(t, h.S.CreateMFAChallenge(h.Ctx, c), "create")
	ssotest.IsErr(t, h.S.CreateMFAChallenge(h.Ctx, c), sso.ErrConflict, "create twice")
	got, err := h.S.MFAChallenge(h.Ctx, c.IDHash)
	ssotest.NoErr(t, err, "MFAChallenge")
	if got.Kind != "signin" || got.Subject != "sub" || got.AuthRequestID != "ar" || got.Browser != "b1" || got.Passed ||
		!slices.Equal(got.AMR, []string{"pwd"}) || string(got.Data) != `{"x":1}` {
		t.Fatalf("challenge: %+v", got)
	}
	ssotest.IsErr(t, h.S.PassMFAChallenge(h.Ctx, c.IDHash, "b2", h.Now), sso.ErrAuthRequestElsewhere, "pass from another browser")
	ssotest.IsErr(t, h.S.PassMFAChallenge(h.Ctx, ssotest.RandomID(), "b1", h.Now), sso.ErrNotFound, "pass unknown")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 6 {
		wg.Go(func() {
			if h.S.PassMFAChallenge(h.Ctx, c.IDHash, "b1", h.Now) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d concurrent passes succeeded, want 1", ok)
	}
	ssotest.IsErr(t, h.S.PassMFAChallenge(h.Ctx, c.IDHash, "b1", h.Now), sso.ErrAuthRequestUsed, "pass replayed")
	if got, _ := h.S.MFAChallenge(h.Ctx, c.IDHash); got == nil || !got.Passed {
		t.Fatalf("after pass: %+v", got)
	}
}

func testChallengeExpired(t *testing.T, h *H) {
	c := &store.MFAChallenge{IDHash: ssotest.RandomID(), Kind: "stepup", Browser: "b", CreatedAt: h.Now.Add(-time.Hour),
		ExpiresAt: h.Now.Add(-time.Minute)}
	ssotest.NoErr(t, h.S.CreateMFAChallenge(h.Ctx, c), "create")
	_, err := h.S.MFAChallenge(h.Ctx, c.IDHash)
	ssotest.IsErr(t, err, sso.ErrNotFound, "expired challenge")
	ssotest.IsErr(t, h.S.PassMFAChallenge(h.Ctx, c.IDHash, "b", h.Now), sso.ErrNotFound, "pass expired")
	// Purge removes it.
	if _, err := h.S.Purge(h.Ctx, h.Now); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	ssotest.NoErr(t, h.S.CreateMFAChallenge(h.Ctx, c), "the purged id is free again")
}

func testUpgradeSessionCAS(t *testing.T, h *H) {
	sess := h.createSession(ssotest.RandomID())
	later := h.Now.Add(time.Minute)
	mfa := []string{"pwd", "otp", "mfa"}
	ssotest.NoErr(t, h.S.UpgradeSession(h.Ctx, sess.ID, sess.AMR, mfa, later), "upgrade")
	ssotest.IsErr(t, h.S.UpgradeSession(h.Ctx, sess.ID, sess.AMR, []string{"pwd", "hwk", "mfa"}, later), sso.ErrConflict, "upgrade from a stale amr")
	got, err := h.S.Session(h.Ctx, sess.ID)
	ssotest.NoErr(t, err, "Session")
	if !slices.Equal(got.AMR, mfa) || !got.AuthTime.Equal(later) {
		t.Fatalf("upgraded session: amr %v auth_time %v", got.AMR, got.AuthTime)
	}
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	ssotest.IsErr(t, h.S.UpgradeSession(h.Ctx, sess.ID, mfa, []string{"x"}, later), sso.ErrNotFound, "upgrade an ended session")
}

func testAuthRequestACRValues(t *testing.T, h *H) {
	ar := h.sso().NewAuthRequest()
	ar.ACRValues = []string{sso.ACRMFA, "other"}
	ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
	got, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if !slices.Equal(got.ACRValues, ar.ACRValues) {
		t.Fatalf("acr_values %v, want %v", got.ACRValues, ar.ACRValues)
	}
}

// testFactorPresence: FactorPresence reports a confirmed TOTP factor (not a pending one), any
// WebAuthn credential and the reset notice, each as the separate reads would, and changes
// nothing (the notice is still there to take).
func testFactorPresence(t *testing.T, h *H) {
	check := func(name, sub string, want store.FactorPresence) {
		t.Helper()
		got, err := h.S.FactorPresence(h.Ctx, sub)
		ssotest.NoErr(t, err, "FactorPresence (%s)", name)
		if got != want {
			t.Errorf("%s: %+v, want %+v", name, got, want)
		}
	}
	sub := ssotest.RandomID()
	check("unknown member", sub, store.FactorPresence{})
	ssotest.NoErr(t, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte("sealed"), CreatedAt: h.Now}), "PutTOTP")
	check("pending TOTP", sub, store.FactorPresence{})
	ssotest.NoErr(t, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed"), 100, []string{"r1"}), "ConfirmTOTP")
	check("confirmed TOTP", sub, store.FactorPresence{TOTP: true})
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, &store.WebAuthnCredential{ID: []byte("p-" + sub), Subject: sub, Data: []byte("{}")}), "add")
	check("TOTP and passkey", sub, store.FactorPresence{TOTP: true, Passkeys: true})
	_, err := h.S.ResetFactors(h.Ctx, sub, h.Now)
	ssotest.NoErr(t, err, "ResetFactors")
	check("after a reset", sub, store.FactorPresence{ResetNotice: true})
	check("asked twice", sub, store.FactorPresence{ResetNotice: true})
	if took, err := h.S.TakeFactorResetNotice(h.Ctx, sub); err != nil || !took {
		t.Fatalf("TakeFactorResetNotice after FactorPresence: %v, %v", took, err)
	}
	check("notice taken", sub, store.FactorPresence{})
	other := ssotest.RandomID()
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, &store.WebAuthnCredential{ID: []byte("p-" + other), Subject: other, Data: []byte("{}")}), "add")
	check("passkey alone", other, store.FactorPresence{Passkeys: true})
	check("first member unchanged by another's passkey", sub, store.FactorPresence{})
}

// testEnrolmentInviteConcurrentIssue: of eight invitations issued at once for one member, one
// stays usable (a new one voids the earlier, also when they race; review s17 R2-4).
func testEnrolmentInviteConcurrentIssue(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	invs := make([]*store.EnrolmentInvite, 8)
	var wg sync.WaitGroup
	for i := range invs {
		invs[i] = &store.EnrolmentInvite{Hash: ssotest.RandomID(), Subject: sub, IssuedBy: "admin", CreatedAt: h.Now, ExpiresAt: h.Now.Add(time.Hour)}
		wg.Go(func() { ssotest.NoErr(t, h.S.CreateEnrolmentInvite(h.Ctx, invs[i]), "CreateEnrolmentInvite") })
	}
	wg.Wait()
	ok := 0
	for _, inv := range invs {
		if err := h.useInvite(sub, inv.Hash, h.Now); err == nil {
			ok++
		} else if !errors.Is(err, sso.ErrNotFound) {
			t.Fatalf("useInvite: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of 8 invitations issued at once for one member were usable, want 1", ok)
	}
}

// pendingTOTP stores a pending TOTP factor of sub sealed as sealed.
func (h *H) pendingTOTP(sub, sealed string) {
	ssotest.NoErr(h.T, h.S.PutTOTP(h.Ctx, &store.TOTPFactor{Subject: sub, SecretSealed: []byte(sealed), CreatedAt: h.Now}), "PutTOTP")
}

// testConfirmTOTPInvited: a first authenticator app confirmed with an invitation uses it in
// the same transaction; an invitation that cannot be used (unknown, another member's, expired,
// used) confirms nothing, and a pending factor that is gone leaves the invitation unused.
func testConfirmTOTPInvited(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	inv, theirs, old := h.invite(sub, time.Hour), h.invite(other, time.Hour), h.invite(ssotest.RandomID(), -time.Minute)
	h.pendingTOTP(sub, "sealed-1")
	for _, c := range []struct{ name, subject, hash string }{
		{"unknown invitation", sub, ssotest.RandomID()},
		{"another member's invitation", sub, theirs.Hash},
		{"expired invitation", old.Subject, old.Hash},
	} {
		sealed := "sealed-1"
		if c.subject != sub {
			sealed = "sealed-x"
			h.pendingTOTP(c.subject, sealed)
		}
		ssotest.IsErr(t, h.S.ConfirmTOTPInvited(h.Ctx, c.subject, []byte(sealed), 100, []string{"r"}, c.hash, h.Now),
			store.ErrNoInvite, "%s", c.name)
		if f, err := h.S.TOTP(h.Ctx, c.subject); err != nil || f.Confirmed {
			t.Fatalf("%s: factor %+v, %v; want pending", c.name, f, err)
		}
	}
	// The pending factor was replaced: nothing is confirmed and the invitation stays unused.
	err := h.S.ConfirmTOTPInvited(h.Ctx, sub, []byte("sealed-0"), 100, []string{"r"}, inv.Hash, h.Now)
	ssotest.IsErr(t, err, sso.ErrNotFound, "a replaced secret")
	if errors.Is(err, store.ErrNoInvite) {
		t.Fatalf("a replaced secret: %v, want the factor's sso.ErrNotFound, not ErrNoInvite", err)
	}
	ssotest.NoErr(t, h.S.ConfirmTOTPInvited(h.Ctx, sub, []byte("sealed-1"), 100, []string{"r1", "r2"}, inv.Hash, h.Now), "ConfirmTOTPInvited")
	if f, err := h.S.TOTP(h.Ctx, sub); err != nil || !f.Confirmed || f.LastStep != 100 {
		t.Fatalf("factor %+v, %v; want confirmed at step 100", f, err)
	}
	if n, err := h.S.RecoveryCodesLeft(h.Ctx, sub); err != nil || n != 2 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want 2", n, err)
	}
	ssotest.IsErr(t, h.useInvite(sub, inv.Hash, h.Now), sso.ErrNotFound, "the invitation after its use")
	// Replayed: the invitation is used (and the factor confirmed).
	h.pendingTOTP(other, "sealed-o")
	ssotest.IsErr(t, h.S.ConfirmTOTPInvited(h.Ctx, other, []byte("sealed-o"), 100, nil, inv.Hash, h.Now), store.ErrNoInvite, "a used invitation, by another member")
	ssotest.IsErr(t, h.S.ConfirmTOTPInvited(h.Ctx, sub, []byte("sealed-1"), 101, nil, inv.Hash, h.Now), sso.ErrNotFound, "replayed")
	ssotest.NoErr(t, h.useInvite(other, theirs.Hash, h.Now), "the other member's invitation, untouched")
}

// testAddWebAuthnCredentialInvited: a first passkey added with an invitation uses it in the
// same transaction; an invitation that cannot be used adds nothing, and a credential id taken
// already leaves the invitation unused.
func testAddWebAuthnCredentialInvited(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	inv, theirs, old := h.invite(sub, time.Hour), h.invite(other, time.Hour), h.invite(sub+"-old", -time.Minute)
	cred := func(s string) *store.WebAuthnCredential {
		return &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()), Subject: s, Name: "Key", Data: []byte("{}"), CreatedAt: h.Now}
	}
	for _, c := range []struct {
		name string
		cred *store.WebAuthnCredential
		hash string
	}{
		{"unknown invitation", cred(sub), ssotest.RandomID()},
		{"another member's invitation", cred(sub), theirs.Hash},
		{"expired invitation", cred(old.Subject), old.Hash},
	} {
		ssotest.IsErr(t, h.S.AddWebAuthnCredentialInvited(h.Ctx, c.cred, c.hash, h.Now), store.ErrNoInvite, "%s", c.name)
		if got, err := h.S.WebAuthnCredentials(h.Ctx, c.cred.Subject); err != nil || len(got) != 0 {
			t.Fatalf("%s: credentials %d, %v; want none", c.name, len(got), err)
		}
	}
	taken := cred(other)
	ssotest.NoErr(t, h.S.AddWebAuthnCredential(h.Ctx, taken), "AddWebAuthnCredential")
	dup := cred(sub)
	dup.ID = taken.ID
	ssotest.IsErr(t, h.S.AddWebAuthnCredentialInvited(h.Ctx, dup, inv.Hash, h.Now), sso.ErrConflict, "a credential id taken")
	first := cred(sub)
	ssotest.NoErr(t, h.S.AddWebAuthnCredentialInvited(h.Ctx, first, inv.Hash, h.Now), "AddWebAuthnCredentialInvited (the invitation unused after the conflict)")
	ssotest.IsErr(t, h.S.AddWebAuthnCredentialInvited(h.Ctx, cred(sub), inv.Hash, h.Now), store.ErrNoInvite, "the invitation again")
	got, err := h.S.WebAuthnCredentials(h.Ctx, sub)
	ssotest.NoErr(t, err, "WebAuthnCredentials")
	if len(got) != 1 || !bytes.Equal(got[0].ID, first.ID) {
		t.Fatalf("credentials: %d, want the one added with the invitation", len(got))
	}
}

// testInvitedFirstFactorsRace: eight first factors, authenticator apps and passkeys, enrolled at
// once with one invitation: one succeeds, and the member ends with exactly one factor.
func testInvitedFirstFactorsRace(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	inv := h.invite(sub, time.Hour)
	h.pendingTOTP(sub, "sealed-race")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for i := range 8 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				err = h.S.ConfirmTOTPInvited(h.Ctx, sub, []byte("sealed-race"), int64(100+i), []string{"r"}, inv.Hash, h.Now)
			} else {
				err = h.S.AddWebAuthnCredentialInvited(h.Ctx, &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()), Subject: sub,
					Data: []byte("{}"), CreatedAt: h.Now}, inv.Hash, h.Now)
			}
			switch {
			case err == nil:
				mu.Lock()
				ok++
				mu.Unlock()
			case !errors.Is(err, sso.ErrNotFound):
				t.Errorf("enrolment: %v", err)
			}
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d enrolments with one invitation succeeded, want 1", ok)
	}
	p, err := h.S.FactorPresence(h.Ctx, sub)
	ssotest.NoErr(t, err, "FactorPresence")
	creds, err := h.S.WebAuthnCredentials(h.Ctx, sub)
	ssotest.NoErr(t, err, "WebAuthnCredentials")
	if n := len(creds) + map[bool]int{true: 1}[p.TOTP]; n != 1 {
		t.Fatalf("the member has %d factors (totp %v, %d passkeys), want 1", n, p.TOTP, len(creds))
	}
}

// testEnrolmentInviteUsable: the read of an invitation answers nil for the member's unused,
// unexpired one and ErrNoInvite for any other (unknown, another member's, at its expiry, voided
// by a newer one, used), and uses nothing: the invitation read is used afterwards, once.
func testEnrolmentInviteUsable(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	voided := h.invite(sub, time.Hour)
	inv, theirs := h.invite(sub, time.Hour), h.invite(other, time.Hour)
	for _, c := range []struct {
		name, subject, hash string
		at                  time.Time
	}{
		{"unknown", sub, ssotest.RandomID(), h.Now},
		{"another member's", sub, theirs.Hash, h.Now},
		{"of another member, asked by its hash", other, inv.Hash, h.Now},
		{"at its expiry", sub, inv.Hash, h.Now.Add(time.Hour)},
		{"voided by a newer one", sub, voided.Hash, h.Now},
	} {
		ssotest.IsErr(t, h.S.EnrolmentInviteUsable(h.Ctx, c.subject, c.hash, c.at), store.ErrNoInvite, "%s", c.name)
	}
	for range 2 {
		ssotest.NoErr(t, h.S.EnrolmentInviteUsable(h.Ctx, sub, inv.Hash, h.Now.Add(time.Minute)), "EnrolmentInviteUsable (read twice)")
	}
	h.pendingTOTP(sub, "sealed-u")
	ssotest.NoErr(t, h.S.ConfirmTOTPInvited(h.Ctx, sub, []byte("sealed-u"), 100, []string{"r"}, inv.Hash, h.Now), "ConfirmTOTPInvited after the reads")
	ssotest.IsErr(t, h.S.EnrolmentInviteUsable(h.Ctx, sub, inv.Hash, h.Now), store.ErrNoInvite, "used")
	ssotest.NoErr(t, h.S.EnrolmentInviteUsable(h.Ctx, other, theirs.Hash, h.Now), "the other member's, untouched")
}

// passkey adds a WebAuthn credential of sub (AddWebAuthnCredential) and returns it.
func (h *H) passkey(sub string) *store.WebAuthnCredential {
	c := &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()), Subject: sub, Name: "Key", Data: []byte("{}"), CreatedAt: h.Now}
	ssotest.NoErr(h.T, h.S.AddWebAuthnCredential(h.Ctx, c), "AddWebAuthnCredential")
	return c
}

// isFirstFactor fails t unless err is store.ErrFirstFactor and neither sso.ErrNotFound nor
// sso.ErrConflict (what the callers tell apart).
func isFirstFactor(t *testing.T, err error, what string) {
	t.Helper()
	ssotest.IsErr(t, err, store.ErrFirstFactor, "%s", what)
	if errors.Is(err, sso.ErrNotFound) || errors.Is(err, sso.ErrConflict) {
		t.Fatalf("%s: %v, want ErrFirstFactor alone", what, err)
	}
}

// totpConfirmed reports whether sub's TOTP factor is confirmed.
func (h *H) totpConfirmed(sub string) bool {
	f, err := h.S.TOTP(h.Ctx, sub)
	if err != nil && !errors.Is(err, sso.ErrNotFound) {
		h.T.Fatalf("TOTP: %v", err)
	}
	return err == nil && f.Confirmed
}

// testConfirmTOTPNotFirst: an authenticator app confirmed without an invitation under
// mfa.first_enrolment: invitation is confirmed only beside a passkey of the member's: without
// one (or with another member's) it is ErrFirstFactor and stays pending, its recovery codes
// untouched; with one it is confirmed as ConfirmTOTP confirms it; a pending factor that is
// gone or replaced is ConfirmTOTP's sso.ErrNotFound, also when replayed.
func testConfirmTOTPNotFirst(t *testing.T, h *H) {
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	h.passkey(other)
	ssotest.IsErr(t, h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-1"), 100, []string{"r"}), sso.ErrNotFound, "no pending factor")
	h.pendingTOTP(sub, "sealed-1")
	isFirstFactor(t, h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-1"), 100, []string{"r"}), "no other factor (another member's passkey)")
	if h.totpConfirmed(sub) {
		t.Fatal("confirmed without another factor")
	}
	if n, err := h.S.RecoveryCodesLeft(h.Ctx, sub); err != nil || n != 0 {
		t.Fatalf("RecoveryCodesLeft = %d, %v after a refusal; want 0", n, err)
	}
	h.passkey(sub)
	err := h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-0"), 100, []string{"r"})
	ssotest.IsErr(t, err, sso.ErrNotFound, "a replaced secret")
	if errors.Is(err, store.ErrFirstFactor) {
		t.Fatalf("a replaced secret beside a passkey: %v, want sso.ErrNotFound alone", err)
	}
	ssotest.NoErr(t, h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-1"), 100, []string{"r1", "r2"}), "ConfirmTOTPNotFirst beside a passkey")
	if f, err := h.S.TOTP(h.Ctx, sub); err != nil || !f.Confirmed || f.LastStep != 100 {
		t.Fatalf("factor %+v, %v; want confirmed at step 100", f, err)
	}
	if n, err := h.S.RecoveryCodesLeft(h.Ctx, sub); err != nil || n != 2 {
		t.Fatalf("RecoveryCodesLeft = %d, %v; want 2", n, err)
	}
	ssotest.IsErr(t, h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-1"), 101, nil), sso.ErrNotFound, "replayed")
	ssotest.IsErr(t, h.S.UseTOTPStep(h.Ctx, sub, 100), sso.ErrConflict, "the confirming step again")
}

// testAddWebAuthnCredentialNotFirst: a passkey added without an invitation under
// mfa.first_enrolment: invitation is added only beside a confirmed authenticator app or
// another passkey of the member's: with none, a pending app only, or another member's factors,
// it is ErrFirstFactor and nothing is added; a credential id taken is sso.ErrConflict.
func testAddWebAuthnCredentialNotFirst(t *testing.T, h *H) {
	cred := func(s string) *store.WebAuthnCredential {
		return &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()), Subject: s, Name: "Key", Data: []byte("{}"), CreatedAt: h.Now}
	}
	count := func(s string) int {
		got, err := h.S.WebAuthnCredentials(h.Ctx, s)
		ssotest.NoErr(t, err, "WebAuthnCredentials")
		return len(got)
	}
	sub, other := ssotest.RandomID(), ssotest.RandomID()
	h.passkey(other)
	h.pendingTOTP(other, "sealed-o")
	ssotest.NoErr(t, h.S.ConfirmTOTP(h.Ctx, other, []byte("sealed-o"), 100, nil), "ConfirmTOTP of another member")
	isFirstFactor(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, cred(sub)), "no factor (another member's)")
	h.pendingTOTP(sub, "sealed-1")
	isFirstFactor(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, cred(sub)), "a pending authenticator app only")
	if n := count(sub); n != 0 {
		t.Fatalf("%d credentials after refusals, want 0", n)
	}
	ssotest.NoErr(t, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed-1"), 100, nil), "ConfirmTOTP")
	first := cred(sub)
	ssotest.NoErr(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, first), "beside a confirmed authenticator app")
	dup := cred(sub)
	dup.ID = first.ID
	ssotest.IsErr(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, dup), sso.ErrConflict, "a credential id taken")
	ssotest.NoErr(t, h.S.DeleteTOTP(h.Ctx, sub), "DeleteTOTP")
	second := cred(sub)
	ssotest.NoErr(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, second), "beside another passkey")
	got, err := h.S.WebAuthnCredentials(h.Ctx, sub)
	ssotest.NoErr(t, err, "WebAuthnCredentials")
	if len(got) != 2 || !slices.ContainsFunc(got, func(c *store.WebAuthnCredential) bool {
		return bytes.Equal(c.ID, second.ID) && c.Name == "Key" && string(c.Data) == "{}" && c.Subject == sub
	}) {
		t.Fatalf("credentials: %d, want the two added, as they were added", len(got))
	}
}

// testNotFirstAfterRemoval: the factor a request read before it was removed does not let a
// factor in without an invitation (review s18 R3-4): the member removes their only passkey (or
// authenticator app) in another tab, or an administrator resets their factors, and then the
// enrolment begun beside it is stored: ErrFirstFactor, nothing stored.
func testNotFirstAfterRemoval(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	only := h.passkey(sub)
	h.pendingTOTP(sub, "sealed-1")
	ssotest.NoErr(t, h.S.DeleteWebAuthnCredential(h.Ctx, sub, only.ID), "DeleteWebAuthnCredential")
	isFirstFactor(t, h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-1"), 100, []string{"r"}), "the only passkey removed")
	if h.totpConfirmed(sub) {
		t.Fatal("confirmed after the only passkey was removed")
	}

	sub = ssotest.RandomID()
	h.pendingTOTP(sub, "sealed-2")
	ssotest.NoErr(t, h.S.ConfirmTOTP(h.Ctx, sub, []byte("sealed-2"), 100, nil), "ConfirmTOTP")
	ssotest.NoErr(t, h.S.DeleteTOTP(h.Ctx, sub), "DeleteTOTP")
	isFirstFactor(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()),
		Subject: sub, Data: []byte("{}"), CreatedAt: h.Now}), "the only authenticator app removed")

	sub = ssotest.RandomID()
	h.passkey(sub)
	_, err := h.S.ResetFactors(h.Ctx, sub, h.Now)
	ssotest.NoErr(t, err, "ResetFactors")
	isFirstFactor(t, h.S.AddWebAuthnCredentialNotFirst(h.Ctx, &store.WebAuthnCredential{ID: []byte(ssotest.RandomID()),
		Subject: sub, Data: []byte("{}"), CreatedAt: h.Now}), "after an administrator's reset")
	h.pendingTOTP(sub, "sealed-3")
	isFirstFactor(t, h.S.ConfirmTOTPNotFirst(h.Ctx, sub, []byte("sealed-3"), 100, nil), "an app after an administrator's reset")
	if creds, err := h.S.WebAuthnCredentials(h.Ctx, sub); err != nil || len(creds) != 0 || h.totpConfirmed(sub) {
		t.Fatalf("after the reset: %d credentials, %v, totp %v; want none", len(creds), err, h.totpConfirmed(sub))
	}
}
