package storetest

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var authRequestTests = []test{
	{"CreateGet", testAuthRequestCreateGet},
	{"Minimal", testAuthRequestMinimal},
	{"CreateConflict", testAuthRequestConflict},
	{"Unknown", testAuthRequestUnknown},
	{"Expired", testAuthRequestExpired},
	{"Complete", testAuthRequestComplete},
	{"CompleteOnce", testAuthRequestCompleteOnce},
	{"Bind", testAuthRequestBind},
	{"CompleteBoundBrowser", testAuthRequestCompleteBound},
	{"TransitionsOutOfOrder", testAuthRequestOutOfOrder},
	{"SaveCodeAndByCode", testAuthRequestCode},
	{"SaveCodeRequiresDone", testSaveCodeRequiresDone},
	{"CodeExpired", testCodeExpired},
	{"CodeConflict", testCodeConflict},
	{"CodeRequest", testCodeRequest},
	{"Delete", testAuthRequestDelete},
	{"Resources", testAuthRequestResources},
}

// NewAuthRequest returns a fully populated, pending auth request expiring in an hour.
func (h *H) NewAuthRequest() *sso.AuthRequest {
	maxAge := 300 * time.Second
	return &sso.AuthRequest{
		ID:                  RandomID(),
		ClientID:            "client-" + RandomID()[:8],
		RedirectURI:         "https://app.example.org/callback?x=1&y=\"2\"",
		State:               "state-ÄÖÜ-" + RandomID()[:6],
		Nonce:               RandomID(),
		Scopes:              []string{"openid", "profile", "email", "offline_access"},
		ResponseType:        "code",
		ResponseMode:        "query",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              []string{"login", "consent"},
		MaxAge:              &maxAge,
		LoginHint:           "jane@example.org",
		HintSubject:         "sub-expected",
		UILocales:           []string{"de-CH", "en"},
		Resources:           []string{"https://orders.example.org/api", "urn:example:billing"},
		CreatedAt:           h.Now,
		ExpiresAt:           h.Now.Add(time.Hour),
	}
}

// CreateDoneAuthRequest creates an auth request and completes it in a new live session (a
// code of a session the store does not hold is not exchanged: sso.Issue).
func (h *H) CreateDoneAuthRequest() *sso.AuthRequest {
	h.T.Helper()
	s := h.CreateSession("sub-" + RandomID()[:12])
	return h.completeAuthRequest(s.Subject, s.ID)
}

// completeAuthRequest creates an auth request and completes it as subject's sign-in in
// session id.
func (h *H) completeAuthRequest(subject, sessionID string) *sso.AuthRequest {
	h.T.Helper()
	r := h.NewAuthRequest()
	NoErr(h.T, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	c := sso.Completion{Subject: subject, AuthTime: h.Now, AMR: []string{"pwd"}, SessionID: sessionID}
	NoErr(h.T, h.S.CompleteAuthRequest(h.Ctx, r.ID, c), "CompleteAuthRequest")
	r.Done, r.Subject, r.AuthTime, r.AMR, r.SessionID = true, c.Subject, c.AuthTime, c.AMR, c.SessionID
	return r
}

// CreateCode creates a done auth request with a code expiring in ten minutes and returns the
// request as the store should now return it, and the code hash.
func (h *H) CreateCode() (*sso.AuthRequest, string) {
	h.T.Helper()
	r := h.CreateDoneAuthRequest()
	codeHash := RandomID()
	exp := h.Now.Add(10 * time.Minute)
	NoErr(h.T, h.S.SaveCode(h.Ctx, r.ID, codeHash, exp), "SaveCode")
	r.CodeHash, r.CodeExpiresAt = codeHash, exp
	return r, codeHash
}

func testAuthRequestCreateGet(t *testing.T, h *H) {
	want := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, want), "CreateAuthRequest")
	got, err := h.S.AuthRequest(h.Ctx, want.ID)
	NoErr(t, err, "AuthRequest")
	Equal(t, got, want, "AuthRequest after create")

	// A zero max_age is not "none".
	zero := time.Duration(0)
	want = h.NewAuthRequest()
	want.MaxAge = &zero
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, want), "CreateAuthRequest max_age=0")
	got, err = h.S.AuthRequest(h.Ctx, want.ID)
	NoErr(t, err, "AuthRequest")
	if got.MaxAge == nil || *got.MaxAge != 0 {
		t.Fatalf("MaxAge = %v, want pointer to 0", got.MaxAge)
	}
}

func testAuthRequestMinimal(t *testing.T, h *H) {
	want := &sso.AuthRequest{ID: RandomID(), ClientID: "c", RedirectURI: "https://x/cb", ResponseType: "code",
		Scopes: []string{"openid"}, CreatedAt: h.Now, ExpiresAt: h.Now.Add(time.Minute)}
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, want), "CreateAuthRequest")
	got, err := h.S.AuthRequest(h.Ctx, want.ID)
	NoErr(t, err, "AuthRequest")
	Equal(t, got, want, "minimal AuthRequest")
	if got.MaxAge != nil {
		t.Fatalf("MaxAge = %v, want nil", *got.MaxAge)
	}
}

func testAuthRequestConflict(t *testing.T, h *H) {
	r := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	r2 := h.NewAuthRequest()
	r2.ID = r.ID
	IsErr(t, h.S.CreateAuthRequest(h.Ctx, r2), sso.ErrConflict, "CreateAuthRequest with an existing id")
	got, err := h.S.AuthRequest(h.Ctx, r.ID)
	NoErr(t, err, "AuthRequest")
	Equal(t, got, r, "the first request is unchanged")
}

func testAuthRequestUnknown(t *testing.T, h *H) {
	_, err := h.S.AuthRequest(h.Ctx, RandomID())
	IsErr(t, err, sso.ErrNotFound, "AuthRequest(unknown)")
	_, err = h.S.AuthRequestByCode(h.Ctx, RandomID())
	IsErr(t, err, sso.ErrNotFound, "AuthRequestByCode(unknown)")
	IsErr(t, h.S.CompleteAuthRequest(h.Ctx, RandomID(), sso.Completion{Subject: "s", AuthTime: h.Now}),
		sso.ErrNotFound, "CompleteAuthRequest(unknown)")
	IsErr(t, h.S.SaveCode(h.Ctx, RandomID(), RandomID(), h.Now.Add(time.Minute)), sso.ErrNotFound, "SaveCode(unknown)")
}

func testAuthRequestExpired(t *testing.T, h *H) {
	r := h.NewAuthRequest()
	r.CreatedAt = h.Now.Add(-time.Hour)
	r.ExpiresAt = h.Now.Add(-time.Second)
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest(expired)")
	_, err := h.S.AuthRequest(h.Ctx, r.ID)
	IsErr(t, err, sso.ErrNotFound, "AuthRequest(expired)")
	IsErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, sso.Completion{Subject: "s", AuthTime: h.Now}),
		sso.ErrNotFound, "CompleteAuthRequest(expired)")
	IsErr(t, h.S.SaveCode(h.Ctx, r.ID, RandomID(), h.Now.Add(time.Minute)), sso.ErrNotFound, "SaveCode(expired)")
}

func testAuthRequestComplete(t *testing.T, h *H) {
	r := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	c := sso.Completion{Subject: "subject-1", AuthTime: h.Now.Add(-time.Minute), AMR: []string{"pwd", "otp"}, SessionID: RandomID()}
	NoErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, c), "CompleteAuthRequest")
	got, err := h.S.AuthRequest(h.Ctx, r.ID)
	NoErr(t, err, "AuthRequest")
	r.Done, r.Subject, r.AuthTime, r.AMR, r.SessionID = true, c.Subject, c.AuthTime, c.AMR, c.SessionID
	Equal(t, got, r, "AuthRequest after completion")

}

// testAuthRequestCompleteOnce: a completed request is never completed again (replay), and a
// refused completion changes nothing.
func testAuthRequestCompleteOnce(t *testing.T, h *H) {
	r := h.CreateDoneAuthRequest()
	again := sso.Completion{Subject: "another-member", AuthTime: h.Now.Add(time.Minute), AMR: []string{"hwk"}, SessionID: RandomID()}
	IsErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, again), sso.ErrAuthRequestUsed, "CompleteAuthRequest again")
	got, err := h.S.AuthRequest(h.Ctx, r.ID)
	NoErr(t, err, "AuthRequest")
	Equal(t, got, r, "AuthRequest after a refused second completion")
}

func testAuthRequestBind(t *testing.T, h *H) {
	r := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	NoErr(t, h.S.BindAuthRequest(h.Ctx, r.ID, "browser-1"), "BindAuthRequest")
	NoErr(t, h.S.BindAuthRequest(h.Ctx, r.ID, "browser-1"), "BindAuthRequest again, same browser")
	IsErr(t, h.S.BindAuthRequest(h.Ctx, r.ID, "browser-2"), sso.ErrAuthRequestElsewhere, "BindAuthRequest, another browser")
	got, err := h.S.AuthRequest(h.Ctx, r.ID)
	NoErr(t, err, "AuthRequest")
	r.Browser = "browser-1"
	Equal(t, got, r, "AuthRequest after binding")

	IsErr(t, h.S.BindAuthRequest(h.Ctx, RandomID(), "browser-1"), sso.ErrNotFound, "BindAuthRequest(unknown)")
	expired := h.NewAuthRequest()
	expired.CreatedAt, expired.ExpiresAt = h.Now.Add(-time.Hour), h.Now.Add(-time.Second)
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, expired), "CreateAuthRequest(expired)")
	IsErr(t, h.S.BindAuthRequest(h.Ctx, expired.ID, "browser-1"), sso.ErrNotFound, "BindAuthRequest(expired)")

	// A completed request is not bound any more, not even by the browser that completed it.
	done := h.CreateDoneAuthRequest()
	IsErr(t, h.S.BindAuthRequest(h.Ctx, done.ID, "browser-3"), sso.ErrAuthRequestUsed, "BindAuthRequest(completed)")
}

func testAuthRequestCompleteBound(t *testing.T, h *H) {
	r := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	NoErr(t, h.S.BindAuthRequest(h.Ctx, r.ID, "browser-1"), "BindAuthRequest")
	for _, b := range []string{"", "browser-2"} {
		c := sso.Completion{Subject: "intruder", AuthTime: h.Now, SessionID: RandomID(), Browser: b}
		IsErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, c), sso.ErrAuthRequestElsewhere, "CompleteAuthRequest from browser %q", b)
	}
	got, err := h.S.AuthRequest(h.Ctx, r.ID)
	NoErr(t, err, "AuthRequest")
	r.Browser = "browser-1"
	Equal(t, got, r, "AuthRequest after refused completions")

	c := sso.Completion{Subject: "member", AuthTime: h.Now, AMR: []string{"pwd"}, SessionID: RandomID(), Browser: "browser-1"}
	NoErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, c), "CompleteAuthRequest from the bound browser")
	// Replayed from the same browser: refused as used.
	c2 := c
	c2.Subject = "member-2"
	IsErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, c2), sso.ErrAuthRequestUsed, "CompleteAuthRequest replayed")
	got, err = h.S.AuthRequest(h.Ctx, r.ID)
	NoErr(t, err, "AuthRequest")
	if got.Subject != "member" || !got.Done {
		t.Fatalf("after a replayed completion: done %v subject %q, want the first member", got.Done, got.Subject)
	}
}

// testAuthRequestOutOfOrder runs each transition from each later state: nothing moves back,
// the subject behind an issued or redeemed code never changes, and the code stays the first one.
func testAuthRequestOutOfOrder(t *testing.T, h *H) {
	r, codeHash := h.CreateCode()
	other := sso.Completion{Subject: "another-member", AuthTime: h.Now, SessionID: RandomID()}

	// code issued: no second completion, bind or code.
	IsErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, other), sso.ErrAuthRequestUsed, "CompleteAuthRequest after SaveCode")
	IsErr(t, h.S.BindAuthRequest(h.Ctx, r.ID, "browser-x"), sso.ErrAuthRequestUsed, "BindAuthRequest after SaveCode")
	SomeErr(t, h.S.SaveCode(h.Ctx, r.ID, RandomID(), h.Now.Add(time.Minute)), "SaveCode twice")
	got, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode")
	Equal(t, got, r, "AuthRequestByCode after refused transitions")

	// code redeemed: once; then no completion either.
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: h.NewAccessFamily()}), "IssueTokens")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: h.NewAccessFamily()}),
		sso.ErrCodeConsumed, "IssueTokens with the code again")
	IsErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, other), sso.ErrAuthRequestUsed, "CompleteAuthRequest after redemption")
	got, err = h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode")
	if got.Subject != r.Subject || !got.CodeConsumed {
		t.Fatalf("after redemption: subject %q consumed %v, want %q true", got.Subject, got.CodeConsumed, r.Subject)
	}

	// pending: a code cannot be redeemed before it exists, nor saved before completion.
	p := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, p), "CreateAuthRequest")
	SomeErr(t, h.S.SaveCode(h.Ctx, p.ID, RandomID(), h.Now.Add(time.Minute)), "SaveCode on a pending request")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: RandomID(), ConsumeCodeRequest: p.ID, Family: h.NewAccessFamily()}),
		sso.ErrNotFound, "IssueTokens with a code never saved")
}

func testAuthRequestCode(t *testing.T, h *H) {
	want, codeHash := h.CreateCode()
	got, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode")
	Equal(t, got, want, "AuthRequestByCode")
	got, err = h.S.AuthRequest(h.Ctx, want.ID)
	NoErr(t, err, "AuthRequest")
	Equal(t, got, want, "AuthRequest after SaveCode")

	// A consumed code is still found, and says so.
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: want.ID, Family: h.NewAccessFamily()}), "IssueTokens")
	got, err = h.S.AuthRequestByCode(h.Ctx, codeHash)
	NoErr(t, err, "AuthRequestByCode after consumption")
	if !got.CodeConsumed {
		t.Fatal("CodeConsumed = false after IssueTokens consumed the code")
	}
	want.CodeConsumed = true
	Equal(t, got, want, "AuthRequestByCode after consumption")
}

func testSaveCodeRequiresDone(t *testing.T, h *H) {
	r := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	codeHash := RandomID()
	SomeErr(t, h.S.SaveCode(h.Ctx, r.ID, codeHash, h.Now.Add(time.Minute)), "SaveCode on a pending request")
	_, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	IsErr(t, err, sso.ErrNotFound, "AuthRequestByCode after a refused SaveCode")
}

func testCodeExpired(t *testing.T, h *H) {
	r := h.CreateDoneAuthRequest()
	codeHash := RandomID()
	NoErr(t, h.S.SaveCode(h.Ctx, r.ID, codeHash, h.Now.Add(-time.Second)), "SaveCode(expired)")
	_, err := h.S.AuthRequestByCode(h.Ctx, codeHash)
	IsErr(t, err, sso.ErrNotFound, "AuthRequestByCode(expired code)")
	a := h.NewAccessFamily()
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: a}), sso.ErrNotFound,
		"IssueTokens with an expired code")
	_, err = h.S.Family(h.Ctx, a.FamilyID)
	IsErr(t, err, sso.ErrNotFound, "the family of a refused grant")
}

// testCodeConflict: a store that finds codes by their hash refuses a hash in use. One that finds
// them by their request (sso.CodeRequestReader) may take it (nothing of it is found by hash
// alone): then each request keeps its own code, and consuming one leaves the other.
func testCodeConflict(t *testing.T, h *H) {
	first, codeHash := h.CreateCode()
	r := h.CreateDoneAuthRequest()
	err := h.S.SaveCode(h.Ctx, r.ID, codeHash, h.Now.Add(time.Minute))
	cr, byRequest := h.S.(sso.CodeRequestReader)
	if !byRequest || err != nil {
		IsErr(t, err, sso.ErrConflict, "SaveCode with a code hash in use")
		return
	}
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: r.ID, Family: h.NewAccessFamily()}),
		"IssueTokens of the second request's code")
	got, _, err := cr.CodeRequest(h.Ctx, first.ID)
	NoErr(t, err, "CodeRequest(first)")
	Equal(t, got, first, "the first request after the second's code with the same hash was consumed")
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: codeHash, ConsumeCodeRequest: first.ID, Family: h.NewAccessFamily()}),
		"IssueTokens of the first request's code")
}

// testCodeRequest: a store that finds a code by its request (sso.CodeRequestReader) returns
// the request with its code hash, consumed or not, and whether its session is live exactly
// when Session finds it; a request that is unknown, pending, done without a code, or whose code
// has expired is ErrNotFound. It consumes a code by its request only with that request's hash:
// another hash (another request's code, or none) is ErrNotFound and consumes nothing.
func testCodeRequest(t *testing.T, h *H) {
	cr, ok := h.S.(sso.CodeRequestReader)
	if !ok {
		t.Skip("the store finds codes by their hash")
	}
	withSession := func(s *sso.Session) (*sso.AuthRequest, string) {
		ar := h.NewAuthRequest()
		NoErr(t, h.S.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
		c := sso.Completion{Subject: "sub", AuthTime: h.Now, AMR: []string{"pwd"}}
		if s != nil {
			NoErr(t, h.S.CreateSession(h.Ctx, s), "CreateSession")
			c.SessionID = s.ID
		}
		NoErr(t, h.S.CompleteAuthRequest(h.Ctx, ar.ID, c), "CompleteAuthRequest")
		code := RandomID()
		exp := h.Now.Add(time.Minute)
		NoErr(t, h.S.SaveCode(h.Ctx, ar.ID, code, exp), "SaveCode")
		ar.Done, ar.Subject, ar.AuthTime, ar.AMR, ar.SessionID = true, c.Subject, c.AuthTime, c.AMR, c.SessionID
		ar.CodeHash, ar.CodeExpiresAt = code, exp
		return ar, code
	}
	ended := h.NewSession("sub")
	expired := h.NewSession("sub")
	expired.ExpiresAt = h.Now.Add(-time.Second)
	for _, tc := range []struct {
		name string
		s    *sso.Session
		end  bool
		live bool
	}{
		{"live", h.NewSession("sub"), false, true},
		{"ended", ended, true, false},
		{"expired", expired, false, false},
		{"no session", nil, false, false},
	} {
		want, _ := withSession(tc.s)
		if tc.end {
			NoErr(t, h.S.EndSession(h.Ctx, tc.s.ID), "EndSession")
		}
		got, live, err := cr.CodeRequest(h.Ctx, want.ID)
		NoErr(t, err, "CodeRequest (%s)", tc.name)
		Equal(t, got, want, "CodeRequest (%s)", tc.name)
		if live != tc.live {
			t.Errorf("%s: live %v, want %v", tc.name, live, tc.live)
		}
	}
	// A session id that names no session.
	unknown := h.completeAuthRequest("sub", RandomID())
	NoErr(t, h.S.SaveCode(h.Ctx, unknown.ID, RandomID(), h.Now.Add(time.Minute)), "SaveCode")
	if _, live, err := cr.CodeRequest(h.Ctx, unknown.ID); err != nil || live {
		t.Errorf("unknown session: live %v, %v", live, err)
	}

	a, aHash := withSession(h.NewSession("sub"))
	b, bHash := h.CreateCode()
	for _, in := range []sso.Issue{
		{ConsumeCodeHash: bHash, ConsumeCodeRequest: a.ID, Family: h.NewAccessFamily()},
		{ConsumeCodeHash: RandomID(), ConsumeCodeRequest: a.ID, Family: h.NewAccessFamily()},
		{ConsumeCodeHash: aHash, ConsumeCodeRequest: b.ID, Family: h.NewAccessFamily()},
		{ConsumeCodeHash: aHash, ConsumeCodeRequest: RandomID(), Family: h.NewAccessFamily()},
	} {
		IsErr(t, h.S.IssueTokens(h.Ctx, in), sso.ErrNotFound, "IssueTokens of request %s with another code", in.ConsumeCodeRequest)
		_, err := h.S.Family(h.Ctx, in.Family.FamilyID)
		IsErr(t, err, sso.ErrNotFound, "the family of a refused grant")
	}
	for _, r := range []*sso.AuthRequest{a, b} {
		got, _, err := cr.CodeRequest(h.Ctx, r.ID)
		NoErr(t, err, "CodeRequest")
		if got.CodeConsumed {
			t.Fatalf("request %s: its code was consumed by a grant naming another code", r.ID)
		}
	}
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: aHash, ConsumeCodeRequest: a.ID, Family: h.NewAccessFamily()}), "IssueTokens")
	got, _, err := cr.CodeRequest(h.Ctx, a.ID)
	NoErr(t, err, "CodeRequest after consumption")
	a.CodeConsumed = true
	Equal(t, got, a, "CodeRequest after consumption")
	IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: aHash, ConsumeCodeRequest: a.ID, Family: h.NewAccessFamily()}),
		sso.ErrCodeConsumed, "IssueTokens with the code again")

	// Not found: unknown, pending, done without a code, code expired.
	pending := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, pending), "CreateAuthRequest")
	done := h.CreateDoneAuthRequest()
	old := h.CreateDoneAuthRequest()
	NoErr(t, h.S.SaveCode(h.Ctx, old.ID, RandomID(), h.Now.Add(-time.Second)), "SaveCode(expired)")
	for name, id := range map[string]string{"unknown": RandomID(), "pending": pending.ID, "without a code": done.ID, "code expired": old.ID} {
		_, _, err := cr.CodeRequest(h.Ctx, id)
		IsErr(t, err, sso.ErrNotFound, "CodeRequest (%s)", name)
	}
}

func testAuthRequestDelete(t *testing.T, h *H) {
	r, codeHash := h.CreateCode()
	other := h.NewAuthRequest()
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, other), "CreateAuthRequest")
	NoErr(t, h.S.DeleteAuthRequest(h.Ctx, r.ID), "DeleteAuthRequest")
	_, err := h.S.AuthRequest(h.Ctx, r.ID)
	IsErr(t, err, sso.ErrNotFound, "AuthRequest after delete")
	_, err = h.S.AuthRequestByCode(h.Ctx, codeHash)
	IsErr(t, err, sso.ErrNotFound, "AuthRequestByCode after delete")
	_, err = h.S.AuthRequest(h.Ctx, other.ID)
	NoErr(t, err, "another AuthRequest after delete")
	NoErr(t, h.S.DeleteAuthRequest(h.Ctx, r.ID), "DeleteAuthRequest again (idempotent)")
	NoErr(t, h.S.DeleteAuthRequest(h.Ctx, RandomID()), "DeleteAuthRequest(unknown)")
}

// testAuthRequestResources: the resources (RFC 8707) a request names bind its grant, so they
// must come back as they were stored from every read of the request, at every step of its
// life (pending, completed, with its code, after the code's consumption), in order; a request
// without any (every request stored before they were kept) reads back none.
func testAuthRequestResources(t *testing.T, h *H) {
	res := []string{"https://orders.example.org/api", "https://billing.example.org/", "urn:example:third"}
	r := h.NewAuthRequest()
	r.Resources = res
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	check := func(step string, got *sso.AuthRequest, err error) {
		t.Helper()
		NoErr(t, err, "read (%s)", step)
		Equal(t, got.Resources, res, "Resources (%s)", step)
	}
	got, err := h.S.AuthRequest(h.Ctx, r.ID)
	check("pending", got, err)
	NoErr(t, h.S.CompleteAuthRequest(h.Ctx, r.ID, sso.Completion{Subject: "sub", AuthTime: h.Now, AMR: []string{"pwd"}}), "CompleteAuthRequest")
	got, err = h.S.AuthRequest(h.Ctx, r.ID)
	check("completed", got, err)
	code := RandomID()
	NoErr(t, h.S.SaveCode(h.Ctx, r.ID, code, h.Now.Add(time.Minute)), "SaveCode")
	got, err = h.S.AuthRequestByCode(h.Ctx, code)
	check("by code", got, err)
	if cr, ok := h.S.(sso.CodeRequestReader); ok {
		got, _, err = cr.CodeRequest(h.Ctx, r.ID)
		check("code by its request", got, err)
	}
	NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: code, ConsumeCodeRequest: r.ID, Family: h.NewAccessFamily()}), "IssueTokens")
	got, err = h.S.AuthRequestByCode(h.Ctx, code)
	check("consumed", got, err)

	none := h.NewAuthRequest()
	none.Resources = nil
	NoErr(t, h.S.CreateAuthRequest(h.Ctx, none), "CreateAuthRequest without resources")
	got, err = h.S.AuthRequest(h.Ctx, none.ID)
	NoErr(t, err, "AuthRequest without resources")
	if len(got.Resources) != 0 {
		t.Fatalf("Resources of a request that named none: %q", got.Resources)
	}
}
