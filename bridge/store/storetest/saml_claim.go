package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// The SAML login claim (store.KindSAMLLoginClaim): claimed at a step, taken over by the claim's
// browser while its step has not passed (TakeOverSAMLLoginClaim), final once the step passed or
// when it is at no step (review final18 R3-2).

// newStep stores a pending second-factor step of browser, expiring at expires.
func (h *H) newStep(browser string, expires time.Time) string {
	h.T.Helper()
	id := ssotest.RandomID()
	ssotest.NoErr(h.T, h.S.CreateMFAChallenge(h.Ctx, &store.MFAChallenge{IDHash: id, Kind: "signin", Subject: "sub-1",
		Browser: browser, AMR: []string{"pwd"}, CreatedAt: h.Now, ExpiresAt: expires}), "CreateMFAChallenge (step)")
	return id
}

// newClaim stores a SAML login claim of browser at step ("": none), expiring at expires.
func (h *H) newClaim(browser, step string, expires time.Time) string {
	h.T.Helper()
	id := ssotest.RandomID()
	var data []byte
	if step != "" {
		data = []byte(step)
	}
	ssotest.NoErr(h.T, h.S.CreateMFAChallenge(h.Ctx, &store.MFAChallenge{IDHash: id, Kind: store.KindSAMLLoginClaim, Subject: "sub-1",
		AuthRequestID: "saml-request", Browser: browser, AMR: []string{"pwd"}, Data: data, CreatedAt: h.Now, ExpiresAt: expires}),
		"CreateMFAChallenge (claim)")
	return id
}

// claimAt reads the claim's step and subject.
func (h *H) claimAt(claim string) (string, string) {
	h.T.Helper()
	c, err := h.S.MFAChallenge(h.Ctx, claim)
	ssotest.NoErr(h.T, err, "MFAChallenge (claim)")
	return string(c.Data), c.Subject
}

// testSAMLLoginClaimTakeOver: each transition of the claim from each state, replayed and out of
// order: a take-over of a pending, an expired and a purged step moves the claim and deletes the
// pending step (which can then never pass); one from another browser, at a step the claim is
// not at, replayed, after the step passed, of a claim at no step, changes nothing (ErrConflict);
// of no claim or an expired one, ErrNotFound.
func testSAMLLoginClaimTakeOver(t *testing.T, h *H) {
	hour := h.Now.Add(time.Hour)
	take := func(claim, browser, from, to string) error {
		return h.S.TakeOverSAMLLoginClaim(h.Ctx, &store.SAMLClaimTakeOver{Claim: claim, Browser: browser, From: from, To: to,
			Subject: "sub-2", At: h.Now})
	}

	a := h.newStep("b1", h.Now.Add(10*time.Minute))
	claim := h.newClaim("b1", a, hour)
	b := h.newStep("b1", h.Now.Add(10*time.Minute))
	ssotest.IsErr(t, take(claim, "b2", a, b), sso.ErrConflict, "take-over from another browser")
	ssotest.IsErr(t, take(claim, "b1", b, b), sso.ErrConflict, "take-over from a step the claim is not at")
	ssotest.IsErr(t, take(claim, "b1", "", b), sso.ErrConflict, "take-over from no step")
	ssotest.IsErr(t, take(ssotest.RandomID(), "b1", a, b), sso.ErrNotFound, "take-over of no claim")
	if at, sub := h.claimAt(claim); at != a || sub != "sub-1" {
		t.Fatalf("the claim after refused take-overs: at %q (%q), want %q (sub-1)", at, sub, a)
	}
	if ch, err := h.S.MFAChallenge(h.Ctx, a); err != nil || ch.Passed {
		t.Fatalf("the step after refused take-overs: %+v, %v (want pending)", ch, err)
	}

	// Pending step -> taken over: the old step is gone and never passes.
	ssotest.NoErr(t, take(claim, "b1", a, b), "take-over of a pending step")
	if at, sub := h.claimAt(claim); at != b || sub != "sub-2" {
		t.Fatalf("the claim after the take-over: at %q (%q), want %q (sub-2)", at, sub, b)
	}
	ssotest.IsErr(t, h.S.PassMFAChallenge(h.Ctx, a, "b1", h.Now), sso.ErrNotFound, "PassMFAChallenge of the step taken over")
	ssotest.IsErr(t, take(claim, "b1", a, b), sso.ErrConflict, "the take-over replayed")

	// Passed step: final.
	ssotest.NoErr(t, h.S.PassMFAChallenge(h.Ctx, b, "b1", h.Now), "PassMFAChallenge")
	c := h.newStep("b1", h.Now.Add(10*time.Minute))
	ssotest.IsErr(t, take(claim, "b1", b, c), sso.ErrConflict, "take-over after the step passed")
	if at, _ := h.claimAt(claim); at != b {
		t.Fatalf("the claim after a refused take-over of a passed step: at %q, want %q", at, b)
	}
	if ch, err := h.S.MFAChallenge(h.Ctx, b); err != nil || !ch.Passed {
		t.Fatalf("the passed step after a refused take-over: %+v, %v", ch, err)
	}

	// Expired step (not yet purged) -> taken over; the claim may go on to no step.
	expired := h.newStep("b1", h.Now.Add(-time.Minute))
	claim2 := h.newClaim("b1", expired, hour)
	ssotest.NoErr(t, take(claim2, "b1", expired, c), "take-over of an expired step")
	// Purged step -> taken over, to no step: then final.
	claim3 := h.newClaim("b1", ssotest.RandomID(), hour)
	at, _ := h.claimAt(claim3)
	ssotest.NoErr(t, take(claim3, "b1", at, ""), "take-over of a purged step, to no step")
	if at, _ := h.claimAt(claim3); at != "" {
		t.Fatalf("the claim taken over to no step: at %q", at)
	}
	ssotest.IsErr(t, take(claim3, "b1", "", c), sso.ErrConflict, "take-over of a claim at no step")

	// A claim at no step from the start; an expired claim.
	none := h.newClaim("b1", "", hour)
	ssotest.IsErr(t, take(none, "b1", "", c), sso.ErrConflict, "take-over of a claim created at no step")
	old := h.newClaim("b1", c, h.Now.Add(-time.Second))
	ssotest.IsErr(t, take(old, "b1", c, ssotest.RandomID()), sso.ErrNotFound, "take-over of an expired claim")
	if ch, err := h.S.MFAChallenge(h.Ctx, c); err != nil || ch.Passed {
		t.Fatalf("the step of an expired claim after a refused take-over: %+v, %v (want pending)", ch, err)
	}
}

// testSAMLLoginClaimTakeOverConcurrent: two tabs (eight) take over one claim from the same
// step at once: exactly one wins and the claim is at its step.
func testSAMLLoginClaimTakeOverConcurrent(t *testing.T, h *H) {
	a := h.newStep("b1", h.Now.Add(10*time.Minute))
	claim := h.newClaim("b1", a, h.Now.Add(time.Hour))
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []string
		others []error
	)
	for i := range 8 {
		to := fmt.Sprintf("step-%d", i)
		wg.Go(func() {
			err := h.S.TakeOverSAMLLoginClaim(h.Ctx, &store.SAMLClaimTakeOver{Claim: claim, Browser: "b1", From: a, To: to,
				Subject: "sub-1", At: h.Now})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				wins = append(wins, to)
			} else if !errors.Is(err, sso.ErrConflict) {
				others = append(others, err)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 || len(others) != 0 {
		t.Fatalf("concurrent take-overs: won %v, errors other than ErrConflict %v; want one win", wins, others)
	}
	if at, _ := h.claimAt(claim); at != wins[0] {
		t.Fatalf("the claim after concurrent take-overs: at %q, want the winner's %q", at, wins[0])
	}
}

// testSAMLLoginClaimTakeOverRacesStep: a take-over and the step's own pass at once (a tab
// passing the step while another sends the password form again): exactly one succeeds; the
// step passed and the claim unmoved, or the claim moved and the step gone.
func testSAMLLoginClaimTakeOverRacesStep(t *testing.T, h *H) {
	for i := range 10 {
		a := h.newStep("b1", h.Now.Add(10*time.Minute))
		claim := h.newClaim("b1", a, h.Now.Add(time.Hour))
		var passErr, takeErr error
		var wg sync.WaitGroup
		wg.Go(func() { passErr = h.S.PassMFAChallenge(h.Ctx, a, "b1", h.Now) })
		wg.Go(func() {
			takeErr = h.S.TakeOverSAMLLoginClaim(h.Ctx, &store.SAMLClaimTakeOver{Claim: claim, Browser: "b1", From: a, To: "next",
				Subject: "sub-1", At: h.Now})
		})
		wg.Wait()
		at, _ := h.claimAt(claim)
		ch, chErr := h.S.MFAChallenge(h.Ctx, a)
		switch {
		case passErr == nil && errors.Is(takeErr, sso.ErrConflict):
			if at != a || chErr != nil || !ch.Passed {
				t.Fatalf("round %d, the step won: claim at %q, step %+v %v", i, at, ch, chErr)
			}
		case takeErr == nil && errors.Is(passErr, sso.ErrNotFound):
			if at != "next" || !errors.Is(chErr, sso.ErrNotFound) {
				t.Fatalf("round %d, the take-over won: claim at %q, step %+v %v", i, at, ch, chErr)
			}
		default:
			t.Fatalf("round %d: pass %v, take-over %v: want exactly one to succeed", i, passErr, takeErr)
		}
	}
}

// testSAMLLoginClaimStepPassedThenPurged: PassMFAChallenge of the claim's step marks the claim
// passed, in the same compare-and-set, so that once the passed step is purged the claim is not
// taken for one whose step was abandoned: the take-over is refused (ErrConflict) and the claim
// stays at its step. A claim at another step is not marked; the pass replayed changes nothing.
// Before, the purged step's take-over succeeded (helper S's report, s19).
func testSAMLLoginClaimStepPassedThenPurged(t *testing.T, h *H) {
	a := h.newStep("b1", h.Now.Add(10*time.Minute))
	claim := h.newClaim("b1", a, h.Now.Add(24*time.Hour))
	other := h.newClaim("b1", h.newStep("b1", h.Now.Add(10*time.Minute)), h.Now.Add(24*time.Hour))
	ssotest.NoErr(t, h.S.PassMFAChallenge(h.Ctx, a, "b1", h.Now), "PassMFAChallenge")
	ssotest.IsErr(t, h.S.PassMFAChallenge(h.Ctx, a, "b1", h.Now), sso.ErrAuthRequestUsed, "PassMFAChallenge replayed")
	if c, err := h.S.MFAChallenge(h.Ctx, claim); err != nil || !c.Passed || string(c.Data) != a {
		t.Fatalf("the claim after its step passed: %+v, %v; want passed, at its step", c, err)
	}
	if c, err := h.S.MFAChallenge(h.Ctx, other); err != nil || c.Passed {
		t.Fatalf("a claim at another step after the pass: %+v, %v; want not passed", c, err)
	}
	_, err := h.S.Purge(h.Ctx, h.Now.Add(time.Hour)) // the step (10 min) goes, the claims (24 h) stay
	ssotest.NoErr(t, err, "Purge")
	ssotest.IsErr(t, mfaErr(h, a), sso.ErrNotFound, "the passed step after the purge")
	err = h.S.TakeOverSAMLLoginClaim(h.Ctx, &store.SAMLClaimTakeOver{Claim: claim, Browser: "b1", From: a, To: "next",
		Subject: "sub-2", At: h.Now.Add(time.Hour)})
	ssotest.IsErr(t, err, sso.ErrConflict, "take-over of a claim whose step passed and was purged")
	if at, sub := h.claimAt(claim); at != a || sub != "sub-1" {
		t.Fatalf("the claim after the refused take-over: at %q (%q), want %q (sub-1)", at, sub, a)
	}
}

// mfaErr is MFAChallenge's error for id.
func mfaErr(h *H, id string) error { _, err := h.S.MFAChallenge(h.Ctx, id); return err }
