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

// r2ReadFaultStore fails AuthRequest reads while fail is set, wrapping sso.ErrUnavailable when
// unavailable is set.
type r2ReadFaultStore struct {
	*memstore.Store
	fail, unavailable *atomic.Bool
}

func (s r2ReadFaultStore) AuthRequest(ctx context.Context, id string) (*sso.AuthRequest, error) {
	if s.fail.Load() {
		if s.unavailable.Load() {
			return nil, fmt.Errorf("sqlite: read auth request: %w", sso.ErrUnavailable)
		}
		return nil, errors.New("sqlite: read auth request: disk I/O error")
	}
	return s.Store.AuthRequest(ctx, id)
}

// TestR2CallbackStoreFaultIsNotBadRequest (review s26 R2-2; RFC 9110 15.5.1 / 15.6.1 / 15.6.4):
// a store fault reading the auth request at op's authorize callback (no request to answer at a
// redirect_uri) is shown on the error page as the server's fault: 500, or 503 when the store is
// unavailable, not 400 "Bad Request" (op's AuthRequestError writes http.Error(w, ..., 400) for
// any error without a request, and servePage hands that status to the page). The text is
// already fixed (review s25 Y-8); the status still tells the browser, monitoring and any
// retrying client that the request itself was wrong. Fails on main and on P's tip (400).
func TestR2CallbackStoreFaultIsNotBadRequest(t *testing.T) {
	var fail, unavailable atomic.Bool
	page := func(c *sso.Config) {
		c.ErrorPage = func(w http.ResponseWriter, _ *http.Request, status int, msg string) {
			w.WriteHeader(status)
			io.WriteString(w, "PAGE: "+msg)
		}
	}
	h := newHarnessWith(t, func(m *memstore.Store) sso.Store { return r2ReadFaultStore{m, &fail, &unavailable} }, page)
	for _, tc := range []struct {
		unavailable bool
		want        int
	}{
		{false, http.StatusInternalServerError},
		{true, http.StatusServiceUnavailable},
	} {
		_, challenge := pkce()
		resp := h.get(h.oauth2Config("web", webSecret, webRedirect, "openid").AuthCodeURL("st-r2",
			oauth2.SetAuthURLParam("code_challenge", challenge), oauth2.SetAuthURLParam("code_challenge_method", "S256")))
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
		unavailable.Store(tc.unavailable)
		fail.Store(true)
		resp = h.get(cb)
		fail.Store(false)
		body, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(body), "sqlite") {
			t.Errorf("unavailable %v: the store's text on the page: %s", tc.unavailable, body)
		}
		if ra := resp.Header.Get("Retry-After"); (tc.want == http.StatusServiceUnavailable) != (ra != "") {
			t.Errorf("unavailable %v: Retry-After %q (wanted with 503 only, RFC 9110 15.6.4)", tc.unavailable, ra)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("unavailable %v: the callback's store fault answered %d %q, want %d (the server's fault, not a bad request)",
				tc.unavailable, resp.StatusCode, body, tc.want)
		}
	}
}
