package storetest

import (
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

var sessionTests = []test{
	{"CreateGet", testSessionCreateGet},
	{"CreateConflict", testSessionConflict},
	{"UnknownExpiredEnded", testSessionNotLive},
	{"AddClient", testSessionAddClient},
	{"AddClientConcurrently", testSessionAddClientConcurrently},
	{"End", testSessionEnd},
	{"List", testSessionList},
	{"EndSubjectSessions", testEndSubjectSessions},
	{"EndRevokesSessionBoundGrants", testEndRevokesSessionBound},
}

// testEndRevokesSessionBound: ending a session (EndSession, EndSubjectSessions) revokes the
// session's families without a refresh token (no offline_access: they last as long as the
// session, OIDC Core 11); its offline_access family and other sessions' are kept (review s18
// X18-5).
func testEndRevokesSessionBound(t *testing.T, h *H) {
	for _, end := range []struct {
		name string
		fn   func(s *sso.Session) error
	}{
		{"EndSession", func(s *sso.Session) error { return h.S.EndSession(h.Ctx, s.ID) }},
		{"EndSubjectSessions", func(s *sso.Session) error { _, err := h.S.EndSubjectSessions(h.Ctx, s.Subject); return err }},
	} {
		t.Run(end.name, func(t *testing.T) {
			sub := RandomID()
			sess, other := h.CreateSession(sub), h.CreateSession(RandomID())
			family := func(s *sso.Session, offline bool) string {
				f := h.NewRefreshToken()
				if !offline {
					f = h.NewAccessFamily()
				}
				f.Subject, f.SessionID = s.Subject, s.ID
				NoErr(t, h.S.IssueTokens(h.Ctx, sso.Issue{Family: f}), "IssueTokens")
				return f.FamilyID
			}
			bound, offline, others := family(sess, false), family(sess, true), family(other, false)
			NoErr(t, end.fn(sess), "%s", end.name)
			if !h.Revoked(bound) || h.Revoked(offline) || h.Revoked(others) {
				t.Fatalf("after %s: revoked bound %v (want true), offline %v, another session's %v (want false)",
					end.name, h.Revoked(bound), h.Revoked(offline), h.Revoked(others))
			}
		})
	}
}

// NewSession returns a live session of subject lasting a day.
func (h *H) NewSession(subject string) *sso.Session {
	return &sso.Session{
		ID:        RandomID(),
		Subject:   subject,
		AuthTime:  h.Now.Add(-time.Minute),
		AMR:       []string{"pwd"},
		CreatedAt: h.Now,
		LastSeen:  h.Now,
		ExpiresAt: h.Now.Add(24 * time.Hour),
	}
}

// createExpiredSession stores a session of subject that expired a second before h.Now, so
// before the store's clock, and has not ended: held until Purge deletes it.
func (h *H) createExpiredSession(subject string) *sso.Session {
	h.T.Helper()
	s := h.NewSession(subject)
	s.CreatedAt, s.LastSeen, s.ExpiresAt = h.Now.Add(-time.Hour), h.Now.Add(-time.Hour), h.Now.Add(-time.Second)
	NoErr(h.T, h.S.CreateSession(h.Ctx, s), "CreateSession(expired)")
	return s
}

// CreateSession stores a new live session of subject.
func (h *H) CreateSession(subject string, clients ...string) *sso.Session {
	h.T.Helper()
	s := h.NewSession(subject)
	s.Clients = clients
	NoErr(h.T, h.S.CreateSession(h.Ctx, s), "CreateSession")
	return s
}

func sessionIDs(l []*sso.Session) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.ID
	}
	return out
}

func testSessionCreateGet(t *testing.T, h *H) {
	s := h.CreateSession("alice")
	got, err := h.S.Session(h.Ctx, s.ID)
	NoErr(t, err, "Session")
	Equal(t, got, s, "Session")

	s = h.CreateSession("alice", "client-b", "client-a")
	got, err = h.S.Session(h.Ctx, s.ID)
	NoErr(t, err, "Session")
	Equal(t, got, s, "Session created with clients")
}

func testSessionConflict(t *testing.T, h *H) {
	s := h.CreateSession("alice")
	s2 := h.NewSession("mallory")
	s2.ID = s.ID
	IsErr(t, h.S.CreateSession(h.Ctx, s2), sso.ErrConflict, "CreateSession with an existing id")
	got, err := h.S.Session(h.Ctx, s.ID)
	NoErr(t, err, "Session")
	Equal(t, got, s, "the first session is unchanged")
}

func testSessionNotLive(t *testing.T, h *H) {
	_, err := h.S.Session(h.Ctx, RandomID())
	IsErr(t, err, sso.ErrNotFound, "Session(unknown)")

	exp := h.NewSession("alice")
	exp.CreatedAt, exp.ExpiresAt = h.Now.Add(-time.Hour), h.Now.Add(-time.Second)
	NoErr(t, h.S.CreateSession(h.Ctx, exp), "CreateSession(expired)")
	_, err = h.S.Session(h.Ctx, exp.ID)
	IsErr(t, err, sso.ErrNotFound, "Session(expired)")
	IsErr(t, h.S.AddSessionClient(h.Ctx, exp.ID, "c", h.Now), sso.ErrNotFound, "AddSessionClient(expired)")

	ended := h.CreateSession("alice")
	NoErr(t, h.S.EndSession(h.Ctx, ended.ID), "EndSession")
	_, err = h.S.Session(h.Ctx, ended.ID)
	IsErr(t, err, sso.ErrNotFound, "Session(ended)")
	IsErr(t, h.S.AddSessionClient(h.Ctx, ended.ID, "c", h.Now), sso.ErrNotFound, "AddSessionClient(ended)")
	IsErr(t, h.S.AddSessionClient(h.Ctx, RandomID(), "c", h.Now), sso.ErrNotFound, "AddSessionClient(unknown)")

	l, err := h.S.Sessions(h.Ctx, "alice")
	NoErr(t, err, "Sessions")
	if len(l) != 0 {
		t.Fatalf("Sessions(alice) = %d sessions, want none live", len(l))
	}
}

func testSessionAddClient(t *testing.T, h *H) {
	s := h.CreateSession("alice")
	t1, t2 := h.Now.Add(time.Minute), h.Now.Add(2*time.Minute)
	NoErr(t, h.S.AddSessionClient(h.Ctx, s.ID, "client-z", t1), "AddSessionClient")
	NoErr(t, h.S.AddSessionClient(h.Ctx, s.ID, "client-a", t1), "AddSessionClient")
	NoErr(t, h.S.AddSessionClient(h.Ctx, s.ID, "client-z", t2), "AddSessionClient again (idempotent)")
	NoErr(t, h.S.AddSessionClient(h.Ctx, s.ID, "client-m", t2), "AddSessionClient")
	got, err := h.S.Session(h.Ctx, s.ID)
	NoErr(t, err, "Session")
	s.Clients = []string{"client-z", "client-a", "client-m"} // first-sign-in order
	s.LastSeen = t2
	Equal(t, got, s, "Session after AddSessionClient")

	other := h.CreateSession("alice")
	got, err = h.S.Session(h.Ctx, other.ID)
	NoErr(t, err, "Session")
	if len(got.Clients) != 0 {
		t.Fatalf("another session has clients %q", got.Clients)
	}
}

func testSessionAddClientConcurrently(t *testing.T, h *H) {
	s := h.CreateSession("alice")
	clients := []string{"a", "b", "c", "d"}
	errs := Parallel(16, func(i int) error {
		return h.S.AddSessionClient(h.Ctx, s.ID, clients[i%len(clients)], h.Now.Add(time.Second))
	})
	for i, err := range errs {
		NoErr(t, err, "AddSessionClient %d", i)
	}
	got, err := h.S.Session(h.Ctx, s.ID)
	NoErr(t, err, "Session")
	SameSet(t, got.Clients, clients, "clients after concurrent AddSessionClient")
}

func testSessionEnd(t *testing.T, h *H) {
	s := h.CreateSession("alice", "client-a")
	keep := h.CreateSession("alice")
	NoErr(t, h.S.EndSession(h.Ctx, s.ID), "EndSession")
	_, err := h.S.Session(h.Ctx, s.ID)
	IsErr(t, err, sso.ErrNotFound, "Session after EndSession")
	NoErr(t, h.S.EndSession(h.Ctx, s.ID), "EndSession again (idempotent)")
	NoErr(t, h.S.EndSession(h.Ctx, RandomID()), "EndSession(unknown)")
	_, err = h.S.Session(h.Ctx, keep.ID)
	NoErr(t, err, "another Session after EndSession")
}

func testSessionList(t *testing.T, h *H) {
	a1 := h.CreateSession("alice", "client-1", "client-2")
	a2 := h.CreateSession("alice")
	b1 := h.CreateSession("bob", "client-1")
	ended := h.CreateSession("alice", "client-1")
	NoErr(t, h.S.EndSession(h.Ctx, ended.ID), "EndSession")
	exp := h.NewSession("alice")
	exp.ExpiresAt = h.Now.Add(-time.Second)
	NoErr(t, h.S.CreateSession(h.Ctx, exp), "CreateSession(expired)")

	l, err := h.S.Sessions(h.Ctx, "alice")
	NoErr(t, err, "Sessions(alice)")
	SameSet(t, sessionIDs(l), []string{a1.ID, a2.ID}, "Sessions(alice)")
	for _, s := range l {
		if s.ID == a1.ID {
			Equal(t, s, a1, "listed session")
		}
	}
	l, err = h.S.Sessions(h.Ctx, "")
	NoErr(t, err, "Sessions()")
	SameSet(t, sessionIDs(l), []string{a1.ID, a2.ID, b1.ID}, "Sessions()")
	l, err = h.S.Sessions(h.Ctx, "nobody")
	NoErr(t, err, "Sessions(nobody)")
	if len(l) != 0 {
		t.Fatalf("Sessions(nobody) = %d, want 0", len(l))
	}
}

func testEndSubjectSessions(t *testing.T, h *H) {
	a1 := h.CreateSession("alice", "client-1", "client-2")
	a2 := h.CreateSession("alice", "client-3")
	b1 := h.CreateSession("bob", "client-1")
	old := h.CreateSession("alice", "client-9")
	NoErr(t, h.S.EndSession(h.Ctx, old.ID), "EndSession")

	l, err := h.S.EndSubjectSessions(h.Ctx, "alice")
	NoErr(t, err, "EndSubjectSessions(alice)")
	SameSet(t, sessionIDs(l), []string{a1.ID, a2.ID}, "EndSubjectSessions(alice)")
	for _, s := range l {
		want := a1
		if s.ID == a2.ID {
			want = a2
		}
		SameSet(t, s.Clients, want.Clients, "clients of an ended session")
		if s.Subject != "alice" {
			t.Fatalf("ended session of subject %q", s.Subject)
		}
	}
	for _, id := range []string{a1.ID, a2.ID} {
		_, err := h.S.Session(h.Ctx, id)
		IsErr(t, err, sso.ErrNotFound, "Session after EndSubjectSessions")
	}
	_, err = h.S.Session(h.Ctx, b1.ID)
	NoErr(t, err, "another subject's Session")

	l, err = h.S.EndSubjectSessions(h.Ctx, "alice")
	NoErr(t, err, "EndSubjectSessions(alice) again")
	if len(l) != 0 {
		t.Fatalf("EndSubjectSessions(alice) again = %d sessions, want 0", len(l))
	}
}
