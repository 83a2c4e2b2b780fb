package signin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/access"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/identity"
	"github.com/ssobridge/ssobridge/bridge/signin"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/legacy"
)

// directory knows alice (password "right"); down makes every call fail as unreachable.
type directory struct {
	down  bool
	calls int
}

var alice = &legacy.Member{Key: "K1", Login: "alice"}

func (d *directory) Authenticate(_ context.Context, login, password string) (*legacy.Member, error) {
	d.calls++
	if d.down {
		return nil, fmt.Errorf("%w: no route", legacy.ErrUnavailable)
	}
	if login == "alice" && password == "right" {
		return alice, nil
	}
	return nil, legacy.ErrBadCredentials
}

func (d *directory) MemberByLogin(_ context.Context, login string) (*legacy.Member, error) {
	if login == "alice" {
		return alice, nil
	}
	return nil, legacy.ErrNotFound
}

type subjects struct{}

func (subjects) Subject(key string) string { return "sub-" + key }

// decider refuses everyone when lapsed.
type decider struct{ lapsed bool }

func (d decider) Decide(context.Context, *legacy.Member, string, string, time.Time) access.Decision {
	if d.lapsed {
		return access.Decision{Rule: access.Standing, Reason: "account_expired", Cause: legacy.ErrAccountExpired}
	}
	return access.Decision{Rule: access.Allow, Reason: access.ReasonOK}
}

type fixture struct {
	c      *signin.Checker
	dir    *directory
	audits []*store.AuditEvent
}

func newFixture(lapsed bool) *fixture {
	f := &fixture{dir: &directory{}}
	f.c = &signin.Checker{Directory: f.dir, Subjects: subjects{}, Access: decider{lapsed},
		// One failure per login locks it (and no slowing: no delays in tests).
		Throttle:  throttle.New(config.ThrottleConfig{PerLogin: 1, PerIP: 100, Window: time.Minute, Lockout: time.Minute}),
		Anonymous: func(_ context.Context, e *store.AuditEvent) { f.audits = append(f.audits, e) },
		Logins:    identity.NewLoginHasher([]byte("0123456789abcdef0123456789abcdef")),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	return f
}

func (f *fixture) check(login, password string, access bool) (*legacy.Member, error) {
	return f.c.Check(context.Background(), signin.Attempt{Login: login, Password: password, ClientID: "app", IP: "192.0.2.1",
		Detail: "grant=password", CheckAccess: access})
}

// TestCheck: each outcome of a password check, what it records and what the next attempt meets.
func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lapsed   bool
		down     bool
		login    string
		password string
		access   bool
		wantErr  error // nil: success
		// audit is the audit row written (event and detail; "" none); subject its subject.
		audit, detail, subject string
		// nextRefused: the next attempt at the same login is throttled.
		nextRefused bool
		// asked: the directory was asked.
		asked bool
	}{
		{name: "right password", login: "alice", password: "right", asked: true},
		{name: "wrong password", login: "alice", password: "wrong", wantErr: legacy.ErrBadCredentials,
			audit: "login.failure", detail: "bad_credentials grant=password", subject: "sub-K1", nextRefused: true, asked: true},
		{name: "unknown login", login: "mallory", password: "x", wantErr: legacy.ErrBadCredentials,
			audit: "login.failure", detail: "bad_credentials grant=password", nextRefused: true, asked: true},
		{name: "invisible characters", login: "ali\u200bce", password: "right", wantErr: legacy.ErrBadCredentials,
			audit: "login.failure", detail: "bad_credentials grant=password", nextRefused: true},
		{name: "AMS unreachable: released", down: true, login: "alice", password: "right", wantErr: legacy.ErrUnavailable,
			audit: "login.failure", detail: "ams_unavailable grant=password", asked: true},
		{name: "lapsed, access asked", lapsed: true, login: "alice", password: "right", access: true, wantErr: legacy.ErrAccountExpired,
			audit: "login.failure", detail: "account_expired grant=password", subject: "sub-K1", nextRefused: true, asked: true},
		{name: "lapsed, access not asked", lapsed: true, login: "alice", password: "right", asked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(tc.lapsed)
			f.dir.down = tc.down
			m, err := f.check(tc.login, tc.password, tc.access)
			if tc.wantErr == nil {
				if err != nil || m != alice {
					t.Fatalf("Check = %v, %v; want alice", m, err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check err = %v, want %v", err, tc.wantErr)
			}
			if asked := f.dir.calls > 0; asked != tc.asked {
				t.Fatalf("directory asked = %v, want %v", asked, tc.asked)
			}
			switch {
			case tc.audit == "" && len(f.audits) != 0:
				t.Fatalf("audit rows %+v, want none", f.audits[0])
			case tc.audit != "":
				if len(f.audits) != 1 {
					t.Fatalf("%d audit rows, want 1", len(f.audits))
				}
				e := f.audits[0]
				if e.Event != tc.audit || e.Detail != tc.detail || e.Subject != tc.subject || e.ClientID != "app" || e.IP != "192.0.2.1" {
					t.Fatalf("audit %+v, want %s %q subject %q", e, tc.audit, tc.detail, tc.subject)
				}
				if e.Login == tc.login || e.Login != f.c.Hash(tc.login) {
					t.Fatalf("audit login %q: want the typed login's keyed hash", e.Login)
				}
			}
			f.audits = nil
			f.dir.down = false
			_, err = f.check(tc.login, "wrong", false)
			var th *signin.ThrottledError
			if refused := errors.As(err, &th); refused != tc.nextRefused {
				t.Fatalf("next attempt refused = %v (%v), want %v", refused, err, tc.nextRefused)
			}
			if tc.nextRefused {
				if th.AfterFailure || th.RetryAfter <= 0 || len(f.audits) != 1 || f.audits[0].Event != "login.throttled" || f.audits[0].Detail != "grant=password" {
					t.Fatalf("refusal %+v, audit %+v", th, f.audits)
				}
			}
		})
	}
}

// TestCheckMemberCounter: failures through other spellings of a login count against the
// member: a right password is then refused as after a wrong one, and the refusal says it came
// with this attempt.
func TestCheckMemberCounter(t *testing.T) {
	f := newFixture(false)
	// "Alice" and "alice " are other typed logins that resolve to the same member.
	f.dir = &directory{}
	f.c.Directory = spellings{f.dir}
	if _, err := f.check("Alice", "wrong", false); !errors.Is(err, legacy.ErrBadCredentials) {
		t.Fatalf("first: %v", err)
	}
	_, err := f.check("al-ice", "right", false)
	var th *signin.ThrottledError
	if !errors.As(err, &th) || !th.AfterFailure {
		t.Fatalf("member counter: %v, want a ThrottledError after the failure", err)
	}
}

// spellings resolves "al-ice" and "Alice" to alice, as a collating AMS does.
type spellings struct{ *directory }

func norm(login string) string {
	switch login {
	case "Alice", "al-ice":
		return "alice"
	}
	return login
}

func (s spellings) Authenticate(ctx context.Context, login, password string) (*legacy.Member, error) {
	return s.directory.Authenticate(ctx, norm(login), password)
}

func (s spellings) MemberByLogin(ctx context.Context, login string) (*legacy.Member, error) {
	return s.directory.MemberByLogin(ctx, norm(login))
}

// TestMessage: a wrong password and an unknown login read the same; an unreachable AMS says
// so; a standing says its own.
func TestMessage(t *testing.T) {
	if signin.Message(legacy.ErrBadCredentials) != signin.Message(legacy.ErrNotFound) || signin.Message(legacy.ErrBadCredentials) != signin.BadCredentials {
		t.Fatal("bad credentials and unknown login must read the same")
	}
	if signin.Message(errors.Join(legacy.ErrUnavailable)) == signin.BadCredentials {
		t.Fatal("an unreachable AMS must not read as bad credentials")
	}
	if signin.Message(legacy.ErrLockedOut) == signin.BadCredentials {
		t.Fatal("a standing must have its own message")
	}
}
