package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// events is a builder for EndSessionWithEvents that writes evs whatever the session.
func events(evs ...*store.OutboxEvent) func(*store.EndedSession) ([]*store.OutboxEvent, error) {
	return func(*store.EndedSession) ([]*store.OutboxEvent, error) { return evs, nil }
}

// participant adds a SAML participant of session id at sp.
func (h *H) participant(id, sp string) error {
	return h.S.AddSAMLParticipant(h.Ctx, &store.SAMLParticipant{SessionID: id, SP: sp, NameID: "n-" + id,
		SessionIndex: "ix-" + id, CreatedAt: h.Now, ExpiresAt: h.Now.Add(time.Hour)})
}

func participantSPs(ps []*store.SAMLParticipant) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.SP)
	}
	return out
}

// testOutboxEndSessionBuild: EndSessionWithEvents builds the events from the session as it
// ends (its subject, clients and SAML participants), writes them with the end, and returns
// that session; a session ended already (or unknown) is not built for again: nil, nothing
// written; a nil build ends it all the same; a build that fails ends nothing.
func testOutboxEndSessionBuild(t *testing.T, h *H) {
	s := h.createSession(ssotest.RandomID(), "portal")
	sp := "https://sp.example/" + s.ID
	ssotest.NoErr(t, h.participant(s.ID, sp), "AddSAMLParticipant")
	e := event("bcl-" + s.ID)
	var built []*store.EndedSession
	build := func(ended *store.EndedSession) ([]*store.OutboxEvent, error) {
		built = append(built, ended)
		return []*store.OutboxEvent{e}, nil
	}
	ended, err := h.S.EndSessionWithEvents(h.Ctx, s.ID, build)
	ssotest.NoErr(t, err, "EndSessionWithEvents")
	if len(built) == 0 || ended == nil {
		t.Fatalf("EndSessionWithEvents returned %+v, built %d times", ended, len(built))
	}
	for _, got := range []*store.EndedSession{ended, built[len(built)-1]} {
		if got.Session == nil || got.Session.ID != s.ID || got.Session.Subject != s.Subject || !got.Session.Ended ||
			!slices.Equal(got.Session.Clients, []string{"portal"}) || !slices.Equal(participantSPs(got.SAMLParticipants), []string{sp}) {
			t.Fatalf("ended session %+v (participants %v), want %s of %s, ended, clients [portal], participants [%s]",
				got.Session, participantSPs(got.SAMLParticipants), s.ID, s.Subject, sp)
		}
	}
	_, err = h.S.Session(h.Ctx, s.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "session after EndSessionWithEvents")
	_, err = h.S.OutboxEvent(h.Ctx, e.ID)
	ssotest.NoErr(t, err, "its event")

	built, e = nil, event("bcl-again")
	again, err := h.S.EndSessionWithEvents(h.Ctx, s.ID, build)
	ssotest.NoErr(t, err, "EndSessionWithEvents(ended already)")
	if again != nil || len(built) != 0 {
		t.Fatalf("EndSessionWithEvents(ended already) = %+v, built %d times", again, len(built))
	}
	_, err = h.S.OutboxEvent(h.Ctx, e.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "an event of a session ended already")
	unknown, err := h.S.EndSessionWithEvents(h.Ctx, ssotest.RandomID(), build)
	ssotest.NoErr(t, err, "EndSessionWithEvents(unknown)")
	if unknown != nil || len(built) != 0 {
		t.Fatalf("EndSessionWithEvents(unknown) = %+v, built %d times", unknown, len(built))
	}

	s2 := h.createSession(ssotest.RandomID(), "portal")
	ended, err = h.S.EndSessionWithEvents(h.Ctx, s2.ID, nil)
	ssotest.NoErr(t, err, "EndSessionWithEvents(nil build)")
	if ended == nil || ended.Session == nil || ended.Session.ID != s2.ID {
		t.Fatalf("EndSessionWithEvents(nil build) = %+v", ended)
	}
	_, err = h.S.Session(h.Ctx, s2.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "session after EndSessionWithEvents(nil build)")

	// A build that fails rolls the end back: the session is live, nothing written.
	s3 := h.createSession(ssotest.RandomID(), "portal")
	refused := errors.New("not now")
	e = event("bcl-refused")
	ended, err = h.S.EndSessionWithEvents(h.Ctx, s3.ID, func(*store.EndedSession) ([]*store.OutboxEvent, error) {
		return []*store.OutboxEvent{e}, refused
	})
	if !errors.Is(err, refused) || ended != nil {
		t.Fatalf("EndSessionWithEvents(failing build) = %+v, %v; want nil and the build's error", ended, err)
	}
	_, err = h.S.Session(h.Ctx, s3.ID)
	ssotest.NoErr(t, err, "session after a failing build")
	_, err = h.S.OutboxEvent(h.Ctx, e.ID)
	ssotest.IsErr(t, err, sso.ErrNotFound, "the event of a failing build")
	ended, err = h.S.EndSessionWithEvents(h.Ctx, s3.ID, events(e))
	ssotest.NoErr(t, err, "EndSessionWithEvents after a failing build")
	if ended == nil {
		t.Fatal("EndSessionWithEvents after a failing build ended nothing")
	}
}

// testOutboxEndSessionAppsAddedBefore (review s20 X20-1): the apps the session signed into
// after the caller read it (another tab's sign-in: a client, a SAML SP) are among those the
// events are built from; one signing in after the end is refused, so that no app holds a
// sign-in of the session without a logout event.
func testOutboxEndSessionAppsAddedBefore(t *testing.T, h *H) {
	s := h.createSession(ssotest.RandomID(), "portal")
	ssotest.NoErr(t, h.S.AddSessionClient(h.Ctx, s.ID, "other", h.Now), "AddSessionClient (after the caller's read)")
	sp := "https://sp.example/" + s.ID
	ssotest.NoErr(t, h.participant(s.ID, sp), "AddSAMLParticipant (after the caller's read)")
	var seen *store.EndedSession
	ended, err := h.S.EndSessionWithEvents(h.Ctx, s.ID, func(e *store.EndedSession) ([]*store.OutboxEvent, error) {
		seen = e
		var out []*store.OutboxEvent
		for _, c := range e.Session.Clients {
			out = append(out, event("bcl-"+c+"-"+e.Session.ID))
		}
		return out, nil
	})
	ssotest.NoErr(t, err, "EndSessionWithEvents")
	wantClients, wantSPs := []string{"portal", "other"}, []string{sp}
	for _, got := range []*store.EndedSession{seen, ended} {
		if got == nil || !slices.Equal(got.Session.Clients, wantClients) || !slices.Equal(participantSPs(got.SAMLParticipants), wantSPs) {
			t.Fatalf("built from %+v, returned %+v; want clients %v, participants %v", seen, ended, wantClients, wantSPs)
		}
	}
	ssotest.IsErr(t, h.S.AddSessionClient(h.Ctx, s.ID, "late", h.Now), sso.ErrNotFound, "AddSessionClient after the end")
	late := "https://late.example/" + s.ID
	ssotest.IsErr(t, h.participant(s.ID, late), sso.ErrNotFound, "AddSAMLParticipant after the end")
	ssotest.IsErr(t, h.participant(s.ID, sp), sso.ErrNotFound, "AddSAMLParticipant (refresh) after the end")
	ps, err := h.S.SAMLParticipants(h.Ctx, s.ID)
	ssotest.NoErr(t, err, "SAMLParticipants")
	if got := participantSPs(ps); !slices.Equal(got, wantSPs) {
		t.Fatalf("participants after a refused AddSAMLParticipant: %v, want %v", got, wantSPs)
	}
	// A session the store does not hold (purged, or an id nobody issued) is refused as an ended
	// one: the end that would read its participants came (or will come) to no row, so the SP
	// would never be sent its logout (session 22, Q3).
	gone := ssotest.RandomID()
	ssotest.IsErr(t, h.participant(gone, sp), sso.ErrNotFound, "AddSAMLParticipant(session not stored)")
	ps, err = h.S.SAMLParticipants(h.Ctx, gone)
	ssotest.NoErr(t, err, "SAMLParticipants(session not stored)")
	if len(ps) != 0 {
		t.Fatalf("participants of a session not stored after a refused AddSAMLParticipant: %v", participantSPs(ps))
	}
}

// testOutboxEndSessionAppsRace (review s20 X20-1): an AddSessionClient and an
// AddSAMLParticipant racing EndSessionWithEvents each either land before the end, and are
// among the apps the events are built from, or are refused; never added and left out.
func testOutboxEndSessionAppsRace(t *testing.T, h *H) {
	for i := range 30 {
		s := h.createSession(ssotest.RandomID(), "portal")
		sp := "https://sp.example/" + s.ID
		var (
			wg                     sync.WaitGroup
			addErr, spErr, endErr  error
			ended                  *store.EndedSession
			builtClients, builtSPs []string
			builtMu                sync.Mutex
		)
		wg.Add(3)
		go func() { defer wg.Done(); addErr = h.S.AddSessionClient(h.Ctx, s.ID, "other", h.Now) }()
		go func() { defer wg.Done(); spErr = h.participant(s.ID, sp) }()
		go func() {
			defer wg.Done()
			ended, endErr = h.S.EndSessionWithEvents(h.Ctx, s.ID, func(e *store.EndedSession) ([]*store.OutboxEvent, error) {
				builtMu.Lock()
				builtClients, builtSPs = slices.Clone(e.Session.Clients), participantSPs(e.SAMLParticipants)
				builtMu.Unlock()
				return nil, nil
			})
		}()
		wg.Wait()
		ssotest.NoErr(t, endErr, "EndSessionWithEvents")
		if ended == nil {
			t.Fatalf("round %d: EndSessionWithEvents ended nothing", i)
		}
		for _, c := range []struct {
			what  string
			err   error
			built []string
			app   string
		}{{"AddSessionClient", addErr, builtClients, "other"}, {"AddSAMLParticipant", spErr, builtSPs, sp}} {
			switch {
			case c.err == nil && !slices.Contains(c.built, c.app):
				t.Fatalf("round %d: %s succeeded but the events were built from %v", i, c.what, c.built)
			case errors.Is(c.err, sso.ErrNotFound) && slices.Contains(c.built, c.app):
				t.Fatalf("round %d: %s was refused but the events were built from %v", i, c.what, c.built)
			case c.err != nil && !errors.Is(c.err, sso.ErrNotFound):
				t.Fatalf("round %d: %s: %v", i, c.what, c.err)
			}
		}
	}
}

// codeOf makes a code of a sign-in in session sess (a completed request holding the code's
// hash) and returns the request's id and the hash.
func (h *H) codeOf(sess *sso.Session) (string, string) {
	h.T.Helper()
	r := h.sso().NewAuthRequest()
	ssotest.NoErr(h.T, h.S.CreateAuthRequest(h.Ctx, r), "CreateAuthRequest")
	ssotest.NoErr(h.T, h.S.CompleteAuthRequest(h.Ctx, r.ID, sso.Completion{Subject: sess.Subject, AuthTime: h.Now, AMR: []string{"pwd"},
		SessionID: sess.ID}), "CompleteAuthRequest")
	hash := ssotest.RandomID()
	ssotest.NoErr(h.T, h.S.SaveCode(h.Ctx, r.ID, hash, h.Now.Add(10*time.Minute)), "SaveCode")
	return r.ID, hash
}

// codeFamily is the family a code exchange of sess writes: session-bound (no refresh token)
// unless offline.
func (h *H) codeFamily(sess *sso.Session, offline bool) *sso.RefreshToken {
	f := h.sso().NewAccessFamily()
	if offline {
		f = h.sso().NewRefreshToken()
	}
	f.Subject, f.ClientID, f.SessionID = sess.Subject, "portal", sess.ID
	return f
}

// testCodeOfEndedSession (review s20, noticed with X20-1): a code of a session that has ended
// is not exchanged: IssueTokens refuses it in the transaction that would consume it
// (ErrSessionEnded), writes no family and leaves the code as it was, whether the grant would
// be session-bound or offline. The provider checks the session before (it reads it live), so
// this is the sign-out landing between that check and the exchange. A live session's code is
// exchanged, and its session-bound family ends with the session.
func testCodeOfEndedSession(t *testing.T, h *H) {
	for _, offline := range []bool{false, true} {
		sess := h.createSession(ssotest.RandomID(), "portal")
		id, hash := h.codeOf(sess)
		ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
		for _, try := range []string{"first", "again"} {
			f := h.codeFamily(sess, offline)
			ssotest.IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: hash, ConsumeCodeRequest: id, Family: f}),
				sso.ErrSessionEnded, "IssueTokens(code of an ended session, %s, offline %v)", try, offline)
			_, err := h.S.Family(h.Ctx, f.FamilyID)
			ssotest.IsErr(t, err, sso.ErrNotFound, "the family of a refused code")
		}
	}
	sess := h.createSession(ssotest.RandomID(), "portal")
	id, hash := h.codeOf(sess)
	f := h.codeFamily(sess, false)
	ssotest.NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: hash, ConsumeCodeRequest: id, Family: f}), "IssueTokens(live session)")
	ssotest.NoErr(t, h.S.EndSession(h.Ctx, sess.ID), "EndSession")
	if !h.sso().Revoked(f.FamilyID) {
		t.Fatal("the session-bound family of a live session's code outlived the session")
	}
	// Consumed, then the session ended: a replay is still a replay.
	ssotest.IsErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: hash, ConsumeCodeRequest: id, Family: h.codeFamily(sess, false)}),
		sso.ErrCodeConsumed, "IssueTokens(used code, session ended since)")
}

// testCodeExchangeRacesEnd (review s20, noticed with X20-1): a code exchange racing the end
// of its session either is refused (ErrSessionEnded, no family) or lands before the end, which
// then revokes its session-bound family: never a family of the session left live after it.
func testCodeExchangeRacesEnd(t *testing.T, h *H) {
	for i := range 30 {
		sess := h.createSession(ssotest.RandomID(), "portal")
		id, hash := h.codeOf(sess)
		f := h.codeFamily(sess, false)
		var (
			wg               sync.WaitGroup
			issueErr, endErr error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			issueErr = h.S.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: hash, ConsumeCodeRequest: id, Family: f})
		}()
		go func() { defer wg.Done(); endErr = h.S.EndSession(h.Ctx, sess.ID) }()
		wg.Wait()
		ssotest.NoErr(t, endErr, "EndSession")
		switch {
		case issueErr == nil:
			if !h.sso().Revoked(f.FamilyID) {
				t.Fatalf("round %d: the code was exchanged and the session ended, but its session-bound family is live", i)
			}
		case errors.Is(issueErr, sso.ErrSessionEnded):
			if _, err := h.S.Family(h.Ctx, f.FamilyID); !errors.Is(err, sso.ErrNotFound) {
				t.Fatalf("round %d: the exchange was refused, but its family is stored (%v)", i, err)
			}
		default:
			t.Fatalf("round %d: IssueTokens: %v", i, issueErr)
		}
	}
}
