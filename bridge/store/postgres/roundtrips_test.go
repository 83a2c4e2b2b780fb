package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/postgres"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/sso"
	ssotest "github.com/ssobridge/ssobridge/sso/storetest"
)

// statements counts the statements the store sends, BEGIN and COMMIT included: each is one
// round trip to the server (pgx prepares a statement once per connection, then binds and runs
// it in one exchange).
type statements struct {
	mu   sync.Mutex
	sent []string
}

func (c *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	c.sent = append(c.sent, d.SQL)
	c.mu.Unlock()
	return ctx
}

func (*statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// count runs fn and returns the statements it sent.
func (c *statements) count(fn func()) []string {
	c.mu.Lock()
	c.sent = nil
	c.mu.Unlock()
	fn()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent
}

// TestRoundTripsPerLoginWrite pins the statements of a login's writes on PostgreSQL: the
// sign-in (session, audit row, request completed with its code, session client) is one
// statement, the code exchange (code consumed, family inserted) one, a refresh grant one; each
// was a transaction of BEGIN, two to four statements and COMMIT before. Refusals add the one
// read that says why, and write nothing (the conformance suite checks what each one leaves).
func TestRoundTripsPerLoginWrite(t *testing.T) {
	var st statements
	s, _ := openTest(t, postgres.WithQueryTracer(&st))
	h := &ssotest.H{T: t, S: s, Ctx: t.Context(), Now: ssotest.Now()}
	check := func(what string, want int, fn func() error, wantErr error) {
		t.Helper()
		var err error
		sent := st.count(func() { err = fn() })
		switch {
		case wantErr == nil && err != nil:
			t.Fatalf("%s: %v", what, err)
		case wantErr != nil && !errors.Is(err, wantErr):
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		if len(sent) != want {
			t.Errorf("%s: %d statements, want %d: %q", what, len(sent), want, sent)
		}
	}
	signIn := func(ar *sso.AuthRequest, code string, audit bool) *store.SignIn {
		ss := h.NewSession("sub-" + ssotest.RandomID()[:8])
		in := &store.SignIn{
			Session:       ss,
			RequestID:     ar.ID,
			Completion:    sso.Completion{Subject: ss.Subject, AuthTime: ss.AuthTime, AMR: ss.AMR, SessionID: ss.ID, Browser: "browser-a"},
			RequestClient: ar.ClientID,
			CodeHash:      code,
			CodeExpires:   h.Now.Add(60e9),
		}
		if audit {
			in.Audit = &store.AuditEvent{Event: "login.success", Subject: ss.Subject, Login: "alice", ClientID: ar.ClientID, IP: "192.0.2.1"}
		}
		return in
	}
	bound := func() *sso.AuthRequest {
		ar := h.NewAuthRequest()
		ssotest.NoErr(t, s.CreateAuthRequest(h.Ctx, ar), "CreateAuthRequest")
		ssotest.NoErr(t, s.BindAuthRequest(h.Ctx, ar.ID, "browser-a"), "BindAuthRequest")
		return ar
	}
	for _, audit := range []bool{true, false} {
		for _, code := range []string{ssotest.RandomID(), ""} {
			ar := bound()
			in := signIn(ar, code, audit)
			check("CompleteSignIn", 1, func() error { return s.CompleteSignIn(h.Ctx, in) }, nil)
			sess, err := s.Session(h.Ctx, in.Session.ID)
			ssotest.NoErr(t, err, "Session")
			ssotest.Equal(t, sess.Clients, []string{ar.ClientID}, "session clients")
			if audit && in.Audit.ID == 0 {
				t.Error("CompleteSignIn set no audit row id")
			}
			// Again: the request is done; one more read says so.
			check("CompleteSignIn of a done request", 2, func() error { return s.CompleteSignIn(h.Ctx, signIn(ar, code, audit)) }, sso.ErrAuthRequestUsed)
		}
	}

	ar := bound()
	in := signIn(ar, ssotest.RandomID(), true)
	ssotest.NoErr(t, s.CompleteSignIn(h.Ctx, in), "CompleteSignIn")
	f := h.NewRefreshToken()
	check("code exchange", 1, func() error { return s.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: in.CodeHash, Family: f}) }, nil)
	h.MustFamily(f.FamilyID)
	replay := h.NewRefreshToken()
	check("code replayed", 2, func() error { return s.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: in.CodeHash, Family: replay}) }, sso.ErrCodeConsumed)
	if _, err := s.Family(h.Ctx, replay.FamilyID); !errors.Is(err, sso.ErrNotFound) {
		t.Errorf("family of a replayed code: %v, want ErrNotFound", err)
	}
	check("unknown code", 2, func() error {
		return s.IssueTokens(h.Ctx, sso.Issue{ConsumeCodeHash: ssotest.RandomID(), Family: h.NewRefreshToken()})
	}, sso.ErrNotFound)
	check("family alone", 1, func() error { return s.IssueTokens(h.Ctx, sso.Issue{Family: h.NewRefreshToken()}) }, nil)
	r := ssotest.Rotation(f, h.Now, 0)
	check("refresh grant", 1, func() error { return s.IssueTokens(h.Ctx, sso.Issue{Rotate: r}) }, nil)

	// The shared sign-in throttle (bridge/signin's calls, in order): one statement per call
	// with the store's counter steps (store.CounterSteps), whatever the counters: a sign-in
	// is 2 (Reserve, then the member's check and the success in one: MemberRetryAfterSucceed;
	// 3 before it), a wrong password 2 (Reserve, then the member's check and the failure in
	// one: MemberRetryAfterFail; 3 before it), 2 once its login notes its member (Reserve,
	// Succeed or FailMember). Without them (one statement per
	// counter, as before) it was 5 for a first sign-in, 6 for a wrong password, 6 for a success
	// after it.
	cfg := config.ThrottleConfig{PerLogin: 5, PerIP: 20, Window: time.Minute, Lockout: time.Minute}
	for _, c := range []struct {
		name    string
		counter store.CounterStore
		// first sign-in; wrong password; success of a login that notes its member; attempt
		// released (the AMS down); a refused attempt
		want [5]int
	}{
		{"steps", s, [5]int{2, 2, 2, 2, 2}},
		{"calls", callsOnly{s}, [5]int{5, 6, 6, 4, 3}},
	} {
		th := throttle.NewShared(cfg, c.counter, []byte("secret"), c.name)
		reserve := func(login string) throttle.Reservation {
			res, err := th.Reserve(h.Ctx, login, "192.0.2.9")
			ssotest.NoErr(t, err, "Reserve")
			return res
		}
		check(c.name+": first sign-in", c.want[0], func() error {
			if res := reserve("alice"); res.Member || res.RetryAfter != 0 {
				return fmt.Errorf("reservation %+v", res)
			}
			_, err := th.MemberRetryAfterSucceed(h.Ctx, "alice", "192.0.2.9", "K-"+c.name)
			return err
		}, nil)
		check(c.name+": wrong password", c.want[1], func() error {
			reserve("alice")
			_, err := th.MemberRetryAfterFail(h.Ctx, "alice", "K-"+c.name)
			return err
		}, nil)
		check(c.name+": success of a login that notes its member", c.want[2], func() error {
			if res := reserve("alice"); !res.Member {
				return fmt.Errorf("reservation %+v: the member is not checked", res)
			}
			return th.Succeed(h.Ctx, "alice", "192.0.2.9")
		}, nil)
		check(c.name+": release", c.want[3], func() error {
			reserve("bob")
			return th.Release(h.Ctx, "bob", "192.0.2.9")
		}, nil)
		for range cfg.PerLogin {
			reserve("carol")
		}
		check(c.name+": refused attempt", c.want[4], func() error {
			if res := reserve("carol"); res.RetryAfter == 0 {
				return fmt.Errorf("reservation %+v: not refused", res)
			}
			return nil
		}, nil)
	}
}

// callsOnly is a counter store without its steps.
type callsOnly struct{ store.CounterStore }

// TestRoundTripsShadowPutIf pins the statements of a sign-in's shadow-user write on PostgreSQL
// (PutShadowUserIf, one event): BEGIN, the epoch read, the shadow user's read, the insert or the
// update, the event, COMMIT. Before, an update of an existing user also sent the insert that
// does nothing (ON CONFLICT) first, through putShadow: 7 statements instead of 6.
func TestRoundTripsShadowPutIf(t *testing.T) {
	var st statements
	s, _ := openTest(t, postgres.WithQueryTracer(&st))
	ctx := t.Context()
	e0 := time.Unix(1_700_000_000, 0)
	ssotest.NoErr(t, s.SetWatermark(ctx, "epoch", e0), "SetWatermark")
	user := func(digest string) *store.ShadowUser {
		return &store.ShadowUser{ClientID: "portal", Subject: "sub-1", Digest: digest, Active: true, View: []byte(`{}`)}
	}
	event := func() *store.OutboxEvent {
		return &store.OutboxEvent{ID: ssotest.RandomID(), Key: "k", Type: "user.updated", Channel: "webhook",
			ClientID: "portal", Subject: "sub-1", Payload: []byte(`{}`)}
	}
	var prev *store.ShadowUser
	for _, c := range []struct {
		what   string
		digest string
		want   int
	}{{"insert", "d1", 6}, {"update", "d2", 6}} {
		var changed bool
		var err error
		sent := st.count(func() {
			changed, err = s.PutShadowUserIf(ctx, store.ShadowCond{Epoch: "epoch", EpochValue: e0, Prev: prev}, user(c.digest), event())
		})
		ssotest.NoErr(t, err, "PutShadowUserIf %s", c.what)
		if !changed || len(sent) != c.want {
			t.Errorf("%s: changed %v, %d statements, want %d: %q", c.what, changed, len(sent), c.want, sent)
		}
		prev, err = s.ShadowUser(ctx, "portal", "sub-1")
		ssotest.NoErr(t, err, "ShadowUser")
	}
}
