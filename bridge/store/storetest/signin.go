package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

var signInTests = []test{
	{"Completes", testSignInCompletes},
	{"RequestNotPending", testSignInRequestNotPending},
	{"FailedWriteWritesNothing", testSignInFailedWriteWritesNothing},
	{"Race", testSignInRace},
	{"CodeWithCompletion", testSignInCodeWithCompletion},
	{"WithoutAudit", testSignInWithoutAudit},
	{"CodeConflictWritesNothing", testSignInCodeConflictWritesNothing},
	{"Claim", testClaimAuthRequest},
	{"ClaimRace", testClaimAuthRequestRace},
	{"ResetNoticeTakenOnce", testResetNoticeTakenOnce},
}

// signIn is a sign-in of ar by browser with a fresh session and audit row.
func (h *H) signIn(ar *sso.AuthRequest, browser string) *store.SignIn {
	s := h.sso().NewSession("sub-" + ssotest.RandomID()[:8])
	s.Clients = nil
	return &store.SignIn{
		Session:       s,
		Audit:         &store.AuditEvent{Event: "login.success", Subject: s.Subject, Login: "alice", ClientID: ar.ClientID, IP: "192.0.2.1", Detail: "pwd"},
		RequestID:     ar.ID,
		Completion:    sso.Completion{Subject: s.Subject, AuthTime: s.AuthTime, AMR: s.AMR, SessionID: s.ID, Browser: browser},
		RequestClient: ar.ClientID,
	}
}

// boundRequest is a new pending auth request bound to browser.
func (h *H) boundRequest(browser string) *sso.AuthRequest {
	h.T.Helper()
	ar := h.sso().NewAuthRequest()
	ssotest.NoErr(h.T, h.S.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
	ssotest.NoErr(h.T, h.S.BindAuthRequest(h.Ctx, ar.ID, browser), "BindAuthRequest")
	return ar
}

// auditRows counts the audit rows of subject.
func (h *H) auditRows(subject string) int {
	h.T.Helper()
	evs, err := h.S.AuditEvents(h.Ctx, store.AuditFilter{Subject: subject})
	ssotest.NoErr(h.T, err, "AuditEvents")
	return len(evs)
}

func testSignInCompletes(t *testing.T, h *H) {
	ar := h.boundRequest("browser-a")
	in := h.signIn(ar, "browser-a")
	ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, in), "CompleteSignIn")
	if in.Audit.ID == 0 || in.Audit.Time.IsZero() {
		t.Errorf("audit row id %d time %v: not set", in.Audit.ID, in.Audit.Time)
	}
	got, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if !got.Done || got.Subject != in.Session.Subject || got.SessionID != in.Session.ID || !slices.Equal(got.AMR, in.Session.AMR) ||
		!got.AuthTime.Equal(in.Session.AuthTime) {
		t.Errorf("request after CompleteSignIn: done %v subject %q session %q amr %v auth time %v", got.Done, got.Subject, got.SessionID, got.AMR, got.AuthTime)
	}
	sess, err := h.S.Session(h.Ctx, in.Session.ID)
	ssotest.NoErr(t, err, "Session")
	if sess.Subject != in.Session.Subject || !slices.Equal(sess.Clients, []string{ar.ClientID}) {
		t.Errorf("session subject %q clients %v, want %q [%s]", sess.Subject, sess.Clients, in.Session.Subject, ar.ClientID)
	}
	if n := h.auditRows(in.Session.Subject); n != 1 {
		t.Errorf("%d audit rows, want 1", n)
	}
	// The completed request goes on as one completed by CompleteAuthRequest: one code.
	ssotest.NoErr(t, h.S.SaveCode(h.Ctx, ar.ID, ssotest.RandomID(), h.Now.Add(60e9)), "SaveCode")
	// And cannot be completed again, by either method.
	ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, h.signIn(ar, "browser-a")), sso.ErrAuthRequestUsed, "CompleteSignIn again")
	ssotest.IsErr(t, h.S.CompleteAuthRequest(h.Ctx, ar.ID, h.signIn(ar, "browser-a").Completion), sso.ErrAuthRequestUsed, "CompleteAuthRequest after")
}

// testSignInRequestNotPending: a request completed already, bound to another browser, or
// unknown is left as it is; the session (without the client) and the audit row are written
// as the separate writes did, and the error says why.
func testSignInRequestNotPending(t *testing.T, h *H) {
	used := h.boundRequest("browser-a")
	first := h.signIn(used, "browser-a")
	ssotest.NoErr(t, h.S.CompleteAuthRequest(h.Ctx, used.ID, first.Completion), "CompleteAuthRequest")
	elsewhere := h.boundRequest("browser-b")
	unknown := h.sso().NewAuthRequest()
	for _, tc := range []struct {
		name string
		ar   *sso.AuthRequest
		want error
	}{
		{"used", used, sso.ErrAuthRequestUsed},
		{"elsewhere", elsewhere, sso.ErrAuthRequestElsewhere},
		{"unknown", unknown, sso.ErrNotFound},
	} {
		in := h.signIn(tc.ar, "browser-a")
		ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, in), tc.want, "CompleteSignIn of a %s request", tc.name)
		sess, err := h.S.Session(h.Ctx, in.Session.ID)
		ssotest.NoErr(t, err, "Session after a %s request", tc.name)
		if len(sess.Clients) != 0 {
			t.Errorf("%s: session clients %v, want none", tc.name, sess.Clients)
		}
		if n := h.auditRows(in.Session.Subject); n != 1 {
			t.Errorf("%s: %d audit rows, want 1", tc.name, n)
		}
	}
	got, err := h.S.AuthRequest(h.Ctx, used.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if got.SessionID != first.Session.ID || got.Subject != first.Session.Subject {
		t.Errorf("used request now has session %q subject %q, want the first completion's", got.SessionID, got.Subject)
	}
	got, err = h.S.AuthRequest(h.Ctx, elsewhere.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if got.Done || got.Subject != "" {
		t.Errorf("request of another browser changed: done %v subject %q", got.Done, got.Subject)
	}
}

// testSignInFailedWriteWritesNothing: a write that fails (the session id exists) rolls back
// the audit row and leaves the request pending.
func testSignInFailedWriteWritesNothing(t *testing.T, h *H) {
	ar := h.boundRequest("browser-a")
	in := h.signIn(ar, "browser-a")
	existing := h.sso().NewSession("someone-else")
	existing.ID, existing.Clients = in.Session.ID, nil
	ssotest.NoErr(t, h.S.CreateSession(h.Ctx, existing), "CreateSession")
	err := h.S.CompleteSignIn(h.Ctx, in)
	if err == nil || errors.Is(err, sso.ErrAuthRequestUsed) || errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("CompleteSignIn with a taken session id = %v, want a write error", err)
	}
	if n := h.auditRows(in.Session.Subject); n != 0 {
		t.Errorf("%d audit rows after a failed write, want 0", n)
	}
	got, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if got.Done {
		t.Error("request completed by a failed write")
	}
	// It can still be completed.
	ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, h.signIn(ar, "browser-a")), "CompleteSignIn after a failed one")
}

// testSignInRace: sign-ins racing for one request (two tabs posting the form at once): one
// completes it, the others get ErrAuthRequestUsed, whether they use CompleteSignIn or
// CompleteAuthRequest.
func testSignInRace(t *testing.T, h *H) {
	ar := h.boundRequest("browser-a")
	const n = 8
	ins := make([]*store.SignIn, n)
	for i := range ins {
		ins[i] = h.signIn(ar, "browser-a")
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 3 {
				errs[i] = h.S.CompleteAuthRequest(h.Ctx, ar.ID, ins[i].Completion)
				return
			}
			errs[i] = h.S.CompleteSignIn(h.Ctx, ins[i])
		}()
	}
	wg.Wait()
	won := oneWinner(t, errs, sso.ErrAuthRequestUsed, "sign-in")
	got, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if got.SessionID != ins[won].Session.ID {
		t.Errorf("request completed with session %q, want the winner's %q", got.SessionID, ins[won].Session.ID)
	}
}

// testResetNoticeTakenOnce: every password sign-in asks for the factor-reset notice; of
// sign-ins racing for one notice exactly one is told, and a member without one is told nothing.
func testResetNoticeTakenOnce(t *testing.T, h *H) {
	sub := ssotest.RandomID()
	if got, err := h.S.TakeFactorResetNotice(h.Ctx, sub); err != nil || got {
		t.Fatalf("TakeFactorResetNotice of an unknown member = %v, %v", got, err)
	}
	if _, err := h.S.ResetFactors(h.Ctx, sub, h.Now); err != nil {
		t.Fatal(err)
	}
	const n = 8
	got := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = h.S.TakeFactorResetNotice(h.Ctx, sub)
		}()
	}
	wg.Wait()
	told := 0
	for i := range n {
		ssotest.NoErr(t, errs[i], "TakeFactorResetNotice #%d", i)
		if got[i] {
			told++
		}
	}
	if told != 1 {
		t.Fatalf("%d of %d racing sign-ins told of one notice, want 1", told, n)
	}
}

// testSignInCodeWithCompletion: a sign-in that carries its code (CodeHash) completes the request
// with the code attached, as CompleteAuthRequest then SaveCode would: the code finds the
// completed request, no second code can be saved, and the request cannot be completed again. A
// sign-in whose request is not pending attaches no code.
func testSignInCodeWithCompletion(t *testing.T, h *H) {
	ar := h.boundRequest("browser-a")
	in := h.signIn(ar, "browser-a")
	in.CodeHash, in.CodeExpires = ssotest.RandomID(), h.Now.Add(60e9)
	ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, in), "CompleteSignIn with a code")
	got, err := h.S.AuthRequestByCode(h.Ctx, in.CodeHash)
	ssotest.NoErr(t, err, "AuthRequestByCode")
	if got.ID != ar.ID || !got.Done || got.CodeConsumed || got.SessionID != in.Session.ID || got.Subject != in.Session.Subject {
		t.Errorf("request by code: id %q done %v consumed %v session %q subject %q", got.ID, got.Done, got.CodeConsumed, got.SessionID, got.Subject)
	}
	ssotest.IsErr(t, h.S.SaveCode(h.Ctx, ar.ID, ssotest.RandomID(), h.Now.Add(60e9)), sso.ErrNotFound, "SaveCode of a request with its code")
	again := h.signIn(ar, "browser-a")
	again.CodeHash, again.CodeExpires = ssotest.RandomID(), h.Now.Add(60e9)
	ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, again), sso.ErrAuthRequestUsed, "CompleteSignIn with a code again")
	if _, err := h.S.AuthRequestByCode(h.Ctx, again.CodeHash); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("the second sign-in's code: %v, want ErrNotFound", err)
	}
	if got, err := h.S.AuthRequestByCode(h.Ctx, in.CodeHash); err != nil || got.SessionID != in.Session.ID {
		t.Errorf("the first code after a second sign-in: %v, %v", got, err)
	}
	// Bound to another browser, or unknown: no code either.
	for _, ar := range []*sso.AuthRequest{h.boundRequest("browser-b"), h.sso().NewAuthRequest()} {
		in := h.signIn(ar, "browser-a")
		in.CodeHash, in.CodeExpires = ssotest.RandomID(), h.Now.Add(60e9)
		if err := h.S.CompleteSignIn(h.Ctx, in); err == nil {
			t.Fatal("CompleteSignIn of a request not pending for this browser succeeded")
		}
		if _, err := h.S.AuthRequestByCode(h.Ctx, in.CodeHash); !errors.Is(err, sso.ErrNotFound) {
			t.Errorf("code of a refused sign-in: %v, want ErrNotFound", err)
		}
	}
}

// testSignInWithoutAudit: a sign-in without an audit row (Audit nil) writes the session,
// completes the request (with its code when it carries one) and adds the client, as one with an
// audit row does; a second one of the same request is refused and adds no client to its session.
func testSignInWithoutAudit(t *testing.T, h *H) {
	for _, code := range []string{"", ssotest.RandomID()} {
		ar := h.boundRequest("browser-a")
		in := h.signIn(ar, "browser-a")
		in.Audit, in.CodeHash, in.CodeExpires = nil, code, h.Now.Add(60e9)
		ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, in), "CompleteSignIn without audit (code %q)", code)
		got, err := h.S.AuthRequest(h.Ctx, ar.ID)
		ssotest.NoErr(t, err, "AuthRequest")
		if !got.Done || got.SessionID != in.Session.ID || got.CodeHash != code {
			t.Errorf("request after CompleteSignIn without audit: done %v session %q code %q, want true %q %q", got.Done, got.SessionID, got.CodeHash, in.Session.ID, code)
		}
		sess, err := h.S.Session(h.Ctx, in.Session.ID)
		ssotest.NoErr(t, err, "Session")
		if !slices.Equal(sess.Clients, []string{ar.ClientID}) {
			t.Errorf("session clients %v, want [%s]", sess.Clients, ar.ClientID)
		}
		if n := h.auditRows(in.Session.Subject); n != 0 {
			t.Errorf("%d audit rows of a sign-in without one, want 0", n)
		}
		again := h.signIn(ar, "browser-a")
		again.Audit = nil
		ssotest.IsErr(t, h.S.CompleteSignIn(h.Ctx, again), sso.ErrAuthRequestUsed, "CompleteSignIn without audit again")
		sess, err = h.S.Session(h.Ctx, again.Session.ID)
		ssotest.NoErr(t, err, "Session of the refused sign-in")
		if len(sess.Clients) != 0 {
			t.Errorf("refused sign-in's session clients %v, want none", sess.Clients)
		}
	}
}

// testSignInCodeConflictWritesNothing: the completion and its code are committed together or
// not at all: a code hash already in use, in a store that refuses it (one that finds codes by
// their hash), fails the whole sign-in (no session, no audit row, the request still pending),
// and the request can then be completed. A store that takes it (codes found by their request,
// sso.CodeRequestReader: SQLite since version 30, whose sign-in's savepoint is shown to undo
// with TestRawBatchSignInSavepointUndoes) completes both, each request with its own code.
func testSignInCodeConflictWritesNothing(t *testing.T, h *H) {
	first := h.boundRequest("browser-a")
	in := h.signIn(first, "browser-a")
	in.CodeHash, in.CodeExpires = ssotest.RandomID(), h.Now.Add(60e9)
	ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, in), "CompleteSignIn")
	ar := h.boundRequest("browser-a")
	clash := h.signIn(ar, "browser-a")
	clash.CodeHash, clash.CodeExpires = in.CodeHash, h.Now.Add(60e9)
	err := h.S.CompleteSignIn(h.Ctx, clash)
	if err == nil {
		for _, id := range []string{first.ID, ar.ID} {
			got, _, err := h.S.CodeRequest(h.Ctx, id)
			if err != nil || got.CodeHash != in.CodeHash || !got.Done || got.CodeConsumed {
				t.Errorf("request %s with a code hash in use: %+v, %v; want it done with its code", id, got, err)
			}
		}
		ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: in.CodeHash, ConsumeCodeRequest: ar.ID, Family: h.sso().NewAccessFamily()}),
			"IssueTokens of the second request's code")
		got, _, err := h.S.CodeRequest(h.Ctx, first.ID)
		if err != nil || got.CodeConsumed {
			t.Errorf("the first request after the second's code was consumed: %+v, %v; want its code unconsumed", got, err)
		}
		return
	}
	if errors.Is(err, sso.ErrAuthRequestUsed) || errors.Is(err, sso.ErrNotFound) {
		t.Fatalf("CompleteSignIn with a code hash in use = %v, want a write error", err)
	}
	if _, err := h.S.Session(h.Ctx, clash.Session.ID); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("session after a failed sign-in: %v, want ErrNotFound", err)
	}
	if n := h.auditRows(clash.Session.Subject); n != 0 {
		t.Errorf("%d audit rows after a failed sign-in, want 0", n)
	}
	got, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if got.Done {
		t.Error("request completed by a failed sign-in")
	}
	if got, _, err := h.S.CodeRequest(h.Ctx, first.ID); err != nil || got.CodeHash != in.CodeHash {
		t.Errorf("the first request's code: %v, %v; want it kept", got, err)
	}
	retry := h.signIn(ar, "browser-a")
	retry.CodeHash, retry.CodeExpires = ssotest.RandomID(), h.Now.Add(60e9)
	ssotest.NoErr(t, h.S.CompleteSignIn(h.Ctx, retry), "CompleteSignIn after a failed one")
}

// testClaimAuthRequest: ClaimAuthRequest binds a pending, unbound request and returns it as
// stored (BindAuthRequest's compare-and-set, with the read); a request bound already (to this
// browser or another), finished, expired or unknown is left as it is and nil is returned.
func testClaimAuthRequest(t *testing.T, h *H) {
	ar := h.sso().NewAuthRequest()
	ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
	got, err := h.S.ClaimAuthRequest(h.Ctx, ar.ID, "browser-a")
	ssotest.NoErr(t, err, "ClaimAuthRequest")
	if got == nil || got.Browser != "browser-a" {
		t.Fatalf("claimed request %+v, want bound to browser-a", got)
	}
	stored, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	ssotest.Equal(t, got, stored, "claimed request")
	for _, b := range []string{"browser-a", "browser-b"} {
		if again, err := h.S.ClaimAuthRequest(h.Ctx, ar.ID, b); err != nil || again != nil {
			t.Errorf("claim of a bound request by %s: %+v, %v; want nil, nil", b, again, err)
		}
	}
	ssotest.IsErr(t, h.S.BindAuthRequest(h.Ctx, ar.ID, "browser-b"), sso.ErrAuthRequestElsewhere, "BindAuthRequest by another browser after a claim")
	ssotest.NoErr(t, h.S.BindAuthRequest(h.Ctx, ar.ID, "browser-a"), "BindAuthRequest by the claiming browser")

	done := h.sso().NewAuthRequest()
	ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, done), "CreateAuthRequest")
	ssotest.NoErr(t, h.S.CompleteAuthRequest(h.Ctx, done.ID, sso.Completion{Subject: "sub", AuthTime: h.Now, SessionID: "sid"}), "CompleteAuthRequest")
	expired := h.sso().NewAuthRequest()
	expired.ExpiresAt = h.Now.Add(-time.Second)
	ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, expired), "CreateAuthRequest")
	for name, id := range map[string]string{"finished": done.ID, "expired": expired.ID, "unknown": ssotest.RandomID()} {
		if got, err := h.S.ClaimAuthRequest(h.Ctx, id, "browser-a"); err != nil || got != nil {
			t.Errorf("claim of a %s request: %+v, %v; want nil, nil", name, got, err)
		}
	}
	if got, err := h.S.AuthRequest(h.Ctx, done.ID); err != nil || got.Browser != "" {
		t.Errorf("finished request after a claim: %+v, %v; want unbound", got, err)
	}
}

// testClaimAuthRequestRace: browsers opening one request at once: one claims it, the others get
// nil, and the request is bound to the one that claimed it.
func testClaimAuthRequestRace(t *testing.T, h *H) {
	ar := h.sso().NewAuthRequest()
	ssotest.NoErr(t, h.S.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
	const n = 8
	got := make([]*sso.AuthRequest, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = h.S.ClaimAuthRequest(h.Ctx, ar.ID, fmt.Sprintf("browser-%d", i))
		}()
	}
	wg.Wait()
	won := -1
	for i := range n {
		ssotest.NoErr(t, errs[i], "ClaimAuthRequest #%d", i)
		if got[i] == nil {
			continue
		}
		if won >= 0 {
			t.Fatalf("browsers %d and %d both claimed the request", won, i)
		}
		won = i
	}
	if won < 0 {
		t.Fatal("no browser claimed the request")
	}
	stored, err := h.S.AuthRequest(h.Ctx, ar.ID)
	ssotest.NoErr(t, err, "AuthRequest")
	if want := fmt.Sprintf("browser-%d", won); stored.Browser != want {
		t.Errorf("request bound to %q, want the claimer %q", stored.Browser, want)
	}
}

// oneWinner checks the outcome of concurrent compare-and-sets: exactly one succeeded (its index
// is returned) and every other failed with lost (what names the attempts in messages).
func oneWinner(t *testing.T, errs []error, lost error, what string) int {
	t.Helper()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("%ss %d and %d both succeeded", what, won, i)
		case err == nil:
			won = i
		case !errors.Is(err, lost):
			t.Fatalf("%s %d: %v, want %v", what, i, err, lost)
		}
	}
	if won < 0 {
		t.Fatalf("no %s succeeded", what)
	}
	return won
}
