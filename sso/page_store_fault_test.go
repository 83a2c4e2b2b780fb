package sso_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// y8Internal is the kind of text a store's error carries (a driver's message, a table name):
// it must reach the log, never the browser or the app.
const y8Internal = "sqlite: save code: database is locked (table auth_requests)"

// y8FaultStore fails, while fail names the operation, with the internal text, wrapping
// sso.ErrUnavailable when unavailable is set.
type y8FaultStore struct {
	*memstore.Store
	fail        *atomic.Value // "create", "read", "save" or ""
	unavailable *atomic.Bool
}

func (s y8FaultStore) err() error {
	if s.unavailable.Load() {
		return fmt.Errorf("%s: %w", y8Internal, sso.ErrUnavailable)
	}
	return errors.New(y8Internal)
}

func (s y8FaultStore) CreateAuthRequest(ctx context.Context, ar *sso.AuthRequest) error {
	if s.fail.Load() == "create" {
		return s.err()
	}
	return s.Store.CreateAuthRequest(ctx, ar)
}

func (s y8FaultStore) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	if s.fail.Load() == "read" {
		return nil, s.err()
	}
	return s.Store.AuthRequest(ctx, id)
}

func (s y8FaultStore) SaveCode(ctx context.Context, id, hash string, exp time.Time) error {
	if s.fail.Load() == "save" {
		return s.err()
	}
	return s.Store.SaveCode(ctx, id, hash, exp)
}

// TestPageStoreFaultHidesInternalText (review s25 Y-8; RFC 6749 4.1.2.1: server_error and
// temporarily_unavailable, error_description "Human-readable ASCII text providing additional
// information"): a store failure in a storage method op's browser endpoints call
// (CreateAuthRequest at /authorize, AuthRequestByID and SaveAuthCode at the authorize callback)
// reaches the app's redirect_uri as server_error, or temporarily_unavailable for a store
// unavailable, with a fixed description, and op's page without a request shows no internal
// text either. Before, op's AuthRequestError copied the error's text (err.Error()) into
// error_description, a driver's message and table name in a URL the app logs and the browser
// keeps.
func TestPageStoreFaultHidesInternalText(t *testing.T) {
	var fail atomic.Value
	fail.Store("")
	var unavailable atomic.Bool
	// The bridge's error page: the message op's page error becomes.
	page := func(c *sso.Config) {
		c.ErrorPage = func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
			w.WriteHeader(status)
			io.WriteString(w, "PAGE: "+msg)
		}
	}
	h := newHarnessWith(t, func(m *memstore.Store) sso.Store { return y8FaultStore{m, &fail, &unavailable} }, page)
	authorizeURL := func() string {
		_, challenge := pkce()
		return h.oauth2Config("web", webSecret, webRedirect, "openid").AuthCodeURL("st-y8",
			oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256"))
	}
	// toLogin runs /authorize and completes the sign-in; it returns the callback URL.
	toLogin := func() string {
		t.Helper()
		resp := h.get(authorizeURL())
		loc, _ := url.Parse(resp.Header.Get("Location"))
		id := loc.Query().Get("id")
		if resp.StatusCode != http.StatusFound || id == "" {
			t.Fatalf("authorize: %d %s", resp.StatusCode, loc)
		}
		ctx := t.Context()
		now := time.Now()
		if err := h.store.CreateSession(ctx, &sso.Session{ID: "sess-" + id, Subject: "alice", AuthTime: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		cb, err := h.p.Complete(ctx, id, sso.Completion{Subject: "alice", AuthTime: now, AMR: []string{"pwd"}, SessionID: "sess-" + id})
		if err != nil {
			t.Fatal(err)
		}
		return cb
	}
	for _, tc := range []struct {
		op          string
		unavailable bool
		redirect    bool   // answered at the app's redirect_uri (else op's page: no request to answer)
		want        string // the redirect's error, or the page's text
	}{
		{"create", false, true, "server_error"},
		{"create", true, true, "temporarily_unavailable"},
		{"save", false, true, "server_error"},
		{"save", true, true, "temporarily_unavailable"},
		{"read", false, false, "PAGE: the sign-in could not be completed; try again from the app"},
		{"read", true, false, "PAGE: the sign-in service is temporarily unavailable; try again shortly"},
	} {
		name := fmt.Sprintf("%s, unavailable %v", tc.op, tc.unavailable)
		unavailable.Store(tc.unavailable)
		var resp *http.Response
		if tc.op == "create" {
			fail.Store("create")
			resp = h.get(authorizeURL())
		} else {
			cb := toLogin()
			fail.Store(tc.op)
			resp = h.get(cb)
		}
		fail.Store("")
		body, _ := io.ReadAll(resp.Body)
		loc := resp.Header.Get("Location")
		if strings.Contains(loc, "sqlite") || strings.Contains(loc, "auth_requests") || strings.Contains(string(body), "sqlite") || strings.Contains(string(body), "auth_requests") {
			t.Errorf("%s: the store's text reached the browser: %d %s %s", name, resp.StatusCode, loc, body)
		}
		if !tc.redirect {
			if resp.StatusCode < 400 || string(body) != tc.want {
				t.Errorf("%s: %d %s %q, want the error page %q", name, resp.StatusCode, loc, body, tc.want)
			}
			continue
		}
		u, err := url.Parse(loc)
		if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, webRedirect+"?") {
			t.Errorf("%s: %d %q, want a redirect to the app", name, resp.StatusCode, loc)
			continue
		}
		q := u.Query()
		if q.Get("error") != tc.want || q.Get("error_description") == "" || q.Get("state") != "st-y8" || q.Get("iss") != h.issuer {
			t.Errorf("%s: %v, want %s with a description, the state and iss", name, q, tc.want)
		}
	}
}
