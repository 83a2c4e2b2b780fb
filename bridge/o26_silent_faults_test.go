package bridge_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/policy"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/sso"
)

// o26Faults names the store methods an o26FaultStore fails, and with what.
type o26Faults struct {
	mu      sync.Mutex
	methods map[string]error
}

func (f *o26Faults) set(err error, methods ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.methods = map[string]error{}
	for _, m := range methods {
		f.methods[m] = err
	}
}

func (f *o26Faults) err(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.methods[method]; err != nil {
		return fmt.Errorf("sqlite: %s: %w", method, err)
	}
	return nil
}

// o26FaultStore is the SQLite store whose reads and writes named in faults fail (a busy
// database, a fail-over): the faults a sign-in may meet after the member was read.
type o26FaultStore struct {
	*sqlite.Store
	faults *o26Faults
}

func (s o26FaultStore) Consent(ctx context.Context, subject, clientID string) (*store.Consent, error) {
	if err := s.faults.err("Consent"); err != nil {
		return nil, err
	}
	return s.Store.Consent(ctx, subject, clientID)
}

func (s o26FaultStore) TOTP(ctx context.Context, subject string) (*store.TOTPFactor, error) {
	if err := s.faults.err("TOTP"); err != nil {
		return nil, err
	}
	return s.Store.TOTP(ctx, subject)
}

func (s o26FaultStore) CompleteAuthRequest(ctx context.Context, id string, c sso.Completion) error {
	if err := s.faults.err("CompleteAuthRequest"); err != nil {
		return err
	}
	return s.Store.CompleteAuthRequest(ctx, id, c)
}

func (s o26FaultStore) AddSessionClient(ctx context.Context, id, clientID string, at time.Time) error {
	if err := s.faults.err("AddSessionClient"); err != nil {
		return err
	}
	return s.Store.AddSessionClient(ctx, id, clientID, at)
}

func (s o26FaultStore) DeleteAuthRequest(ctx context.Context, id string) error {
	if err := s.faults.err("DeleteAuthRequest"); err != nil {
		return err
	}
	return s.Store.DeleteAuthRequest(ctx, id)
}

func (s o26FaultStore) EndSessionWithEvents(ctx context.Context, sessionID string, build func(*store.EndedSession) ([]*store.OutboxEvent, error)) (*store.EndedSession, error) {
	if err := s.faults.err("EndSessionWithEvents"); err != nil {
		return nil, err
	}
	return s.Store.EndSessionWithEvents(ctx, sessionID, build)
}

// o26FaultEnv runs the bridge over an o26FaultStore; the "other" app has an access rule that
// fails to evaluate for a member without the extra column "region".
func o26FaultEnv(t *testing.T, mutate ...func(*bridge.Config)) (*env, *o26Faults) {
	faults := &o26Faults{}
	ws := newWrappedSQLite(t, func(s *sqlite.Store) store.Store { return o26FaultStore{Store: s, faults: faults} })
	e := newEnvDeps(t, false, nil, envDeps{store: ws.open}, append([]func(*bridge.Config){func(c *bridge.Config) {
		if c.Policy.Policies == nil {
			c.Policy.Policies = map[string]policy.ClientPolicy{}
		}
		c.Policy.Policies["other"] = policy.ClientPolicy{AccessRule: `member.extra["region"] == "north"`}
	}}, mutate...)...)
	return e, faults
}

var errO26Locked = errors.New("database is locked")

// Session 26 (O), after review s25 W-2's note on the OIDC side: a silent sign-in
// (prompt=none: a hidden iframe, a background redirect) from a signed-in browser that a fault
// stops after the member was read (the consent's read, the second factor's, the completion's
// write, the session's app record, the access rule failing to evaluate) got an HTML 500 page
// nobody sees, and the app waited for an answer that never came. Each is answered at the app's
// redirect_uri (OIDC Core 3.1.2.6, RFC 6749 4.1.2.1) with the request's state and iss (RFC
// 9207): server_error, or temporarily_unavailable when the store said it was unavailable. The
// session is not ended: once the fault is gone the same silent request gets a code.
func TestO26SilentSignInFaultsAnswerTheApp(t *testing.T) {
	e, faults := o26FaultEnv(t)
	apps := map[string]*oauth2.Config{}
	for _, a := range []struct{ id, secret, path string }{{"web", webSecret, "/callback"}, {"third", otherSecret, "/third"}, {"other", otherSecret, "/other"}} {
		apps[a.id], _ = e.oauth(a.id, a.secret, e.rp+a.path, oauth2.AuthStyleInHeader)
	}
	tests := []struct {
		name    string
		app     string
		err     error
		methods []string
		want    string
	}{
		{"consent read", "third", errO26Locked, []string{"Consent"}, "server_error"},
		{"second factor read", "web", errO26Locked, []string{"TOTP"}, "server_error"},
		{"completion write", "web", errO26Locked, []string{"CompleteAuthRequest"}, "server_error"},
		{"completion write, store unavailable", "web", sso.ErrUnavailable, []string{"CompleteAuthRequest"}, "temporarily_unavailable"},
		{"completion write and the request's end", "web", errO26Locked, []string{"CompleteAuthRequest", "DeleteAuthRequest"}, "server_error"},
		{"session's app record", "web", errO26Locked, []string{"AddSessionClient"}, "server_error"},
		{"access rule fails to evaluate", "other", nil, nil, "server_error"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := e.browser()
			e.signIn(b, apps["web"].AuthCodeURL("s"), "alice", "alice-password")
			state := fmt.Sprintf("n%d", i)
			faults.set(tt.err, tt.methods...)
			p := b.Get(apps[tt.app].AuthCodeURL(state, oauth2.SetAuthURLParam("prompt", "none")))
			faults.set(nil)
			if p.Location == "" {
				t.Fatalf("prompt=none with a fault at %s: status %d at %s, no answer to the app: %.300s", tt.name, p.Status, p.URL, p.Body)
			}
			q := p.Redirected(t)
			if q.Get("code") != "" || q.Get("error") != tt.want || q.Get("state") != state || q.Get("iss") != e.issuer {
				t.Fatalf("prompt=none with a fault at %s: answered %v, want error=%s with state %s and iss %s", tt.name, q, tt.want, state, e.issuer)
			}
			// Nothing was ended: the same silent request now gets a code.
			if q := b.Get(apps["web"].AuthCodeURL("again", oauth2.SetAuthURLParam("prompt", "none"))).Redirected(t); q.Get("code") == "" {
				t.Fatalf("prompt=none once the fault is gone: %v, want a code", q)
			}
		})
	}
}

func (s o26FaultStore) PassMFAChallenge(ctx context.Context, idHash, browser string, now time.Time) error {
	if err := s.faults.err("PassMFAChallenge"); err != nil {
		return err
	}
	return s.Store.PassMFAChallenge(ctx, idHash, browser, now)
}

func (s o26FaultStore) WebAuthnCredentials(ctx context.Context, subject string) ([]*store.WebAuthnCredential, error) {
	if err := s.faults.err("WebAuthnCredentials"); err != nil {
		return nil, err
	}
	return s.Store.WebAuthnCredentials(ctx, subject)
}

func (s o26FaultStore) UseWebAuthnCredential(ctx context.Context, c *store.WebAuthnCredential, old uint32) error {
	if err := s.faults.err("UseWebAuthnCredential"); err != nil {
		return err
	}
	return s.Store.UseWebAuthnCredential(ctx, c, old)
}
