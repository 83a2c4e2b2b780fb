package bridge_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	crewjam "github.com/crewjam/saml"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/bridgetest"
	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
)

// TestSessionEndRevokesSessionBoundGrants (review s18 X18-5): every way a bridge session ends
// revokes the grants signed in with it that have no offline_access (OIDC Core 11: they last as
// long as the session), so that their access tokens stop at introspection and userinfo at once
// (README "Security properties"); the same session's offline_access grant outlives it: its
// access token stays active and its refresh token refreshes. The entry points: the bridge's
// sign-out page (the account page's "Sign out everywhere"), RP-initiated logout
// (end_session), the AMS website's sign-out (/logout/ams), an administrator ending the session
// by id (the console and CLI run the same service) and an SP's SAML LogoutRequest. Each ends
// the session through the store's EndSessionWithEvents, whose conformance case
// (Sessions/EndRevokesSessionBoundGrants) runs on every store.
func TestSessionEndRevokesSessionBoundGrants(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(t *testing.T, s *endScene)
	}{
		{"sign-out page", func(t *testing.T, s *endScene) {
			out := s.b.Get(s.e.issuer + "/logout")
			f := out.Hidden()
			if f.Get("csrf") == "" {
				t.Fatalf("no sign-out form: %d %.300s", out.Status, out.Body)
			}
			s.b.Post(s.e.issuer+"/logout", f)
		}},
		{"end_session", func(t *testing.T, s *endScene) {
			q := url.Values{"id_token_hint": {s.bound.Extra("id_token").(string)}, "post_logout_redirect_uri": {s.e.rp + "/signed-out"}}
			s.b.Get(s.e.issuer + "/end_session?" + q.Encode())
		}},
		{"AMS website's sign-out", func(t *testing.T, s *endScene) {
			req, _ := http.NewRequest(http.MethodGet, s.e.issuer+"/logout/ams", nil)
			req.Header.Set("Referer", s.e.issuer+"/demo-ams/")
			resp, err := s.b.Client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}},
		{"admin API by id", func(t *testing.T, s *endScene) {
			l := s.admin.ok(http.MethodGet, "/admin/sessions?login=alice", nil)["sessions"].([]any)
			if len(l) != 1 {
				t.Fatalf("alice's sessions: %v", l)
			}
			id := l[0].(map[string]any)["id"].(string)
			if n := s.admin.ok(http.MethodPost, "/admin/sessions/revoke", map[string]string{"id": id})["ended"]; n != 1.0 {
				t.Fatalf("end by id: %v", n)
			}
		}},
		{"SAML LogoutRequest", func(t *testing.T, s *endScene) {
			req, err := s.sp.mw.ServiceProvider.MakeAuthenticationRequest(s.e.issuer+saml.PathSSO, crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding)
			if err != nil {
				t.Fatal(err)
			}
			u, err := req.Redirect("", &s.sp.mw.ServiceProvider)
			if err != nil {
				t.Fatal(err)
			}
			// Signed in already: the bridge answers the SP without a form.
			answer := s.b.Get(u.String())
			doc, _ := base64.StdEncoding.DecodeString(formFields(answer.Body).Get("SAMLResponse"))
			m := regexp.MustCompile(`<saml:NameID[^>]*>([^<]+)</saml:NameID>`).FindSubmatch(doc)
			if m == nil {
				t.Fatalf("no assertion: %d %.300s", answer.Status, answer.Body)
			}
			lr, err := s.sp.mw.ServiceProvider.MakeRedirectLogoutRequest(string(m[1]), "")
			if err != nil {
				t.Fatal(err)
			}
			s.b.Get(lr.String())
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newEndScene(t)
			tc.end(t, s)
			if st := s.b.Get(s.e.issuer + "/account").Status; st != http.StatusUnauthorized {
				t.Fatalf("still signed in after %s: /account %d", tc.name, st)
			}
			if s.active(s.bound.AccessToken) {
				t.Errorf("after %s, the session's grant without offline_access: access token still active", tc.name)
			}
			if st := s.userinfo(s.bound.AccessToken); st != http.StatusUnauthorized {
				t.Errorf("after %s, userinfo with the session-bound access token: %d, want 401", tc.name, st)
			}
			if !s.active(s.offline.AccessToken) {
				t.Errorf("after %s, the session's offline_access grant: access token inactive", tc.name)
			}
			if _, err := s.offlineCfg.TokenSource(s.e.ctx(), &oauth2.Token{RefreshToken: s.offline.RefreshToken}).Token(); err != nil {
				t.Errorf("after %s, the offline_access refresh token: %v", tc.name, err)
			}
		})
	}
}

// endScene is alice signed in to web twice in one bridge session: a grant without
// offline_access (bound) and one with it (offline), with the AMS website, an SP and the admin
// API there for the ways to end the session.
type endScene struct {
	e              *env
	b              *bridgetest.Browser
	sp             *samlSP
	admin          adminClient
	offlineCfg     *oauth2.Config
	bound, offline *oauth2.Token
}

func newEndScene(t *testing.T) *endScene {
	sp := newSAMLSP(t)
	e := newEnvWith(t, true, withGrantClients, func(c *bridge.Config) {
		c.Admin.Token = adminToken
		c.SAML.ServiceProviders = []config.SAMLServiceProvider{sp.config("lms", "Learning Portal")}
	})
	sp.start(t, e, crewjam.HTTPRedirectBinding, "lms_token")
	srv := httptest.NewServer(e.bridge.AdminHandler())
	t.Cleanup(srv.Close)
	s := &endScene{e: e, b: e.browser(), sp: sp, admin: adminClient{t: t, url: srv.URL}}
	boundCfg, _ := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader, "openid", "profile")
	s.offlineCfg, _ = e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	var err error
	if s.bound, err = boundCfg.Exchange(e.ctx(), e.signIn(s.b, boundCfg.AuthCodeURL("b"), "alice", "alice-password")); err != nil {
		t.Fatal(err)
	}
	if s.offline, err = s.offlineCfg.Exchange(e.ctx(), e.signIn(s.b, s.offlineCfg.AuthCodeURL("o"), "", "")); err != nil {
		t.Fatal(err)
	}
	if s.bound.RefreshToken != "" || s.offline.RefreshToken == "" {
		t.Fatalf("refresh tokens: without offline_access %q, with it %q", s.bound.RefreshToken, s.offline.RefreshToken)
	}
	if !s.active(s.bound.AccessToken) || !s.active(s.offline.AccessToken) {
		t.Fatal("access tokens inactive before the session ended")
	}
	return s
}

func (s *endScene) active(token string) bool {
	s.e.t.Helper()
	resp, body := postForm(s.e.t, s.e.issuer+"/oauth/introspect", map[string]string{"token": token}, "web", webSecret)
	if resp.StatusCode != http.StatusOK {
		s.e.t.Fatalf("introspection: %d %v", resp.StatusCode, body)
	}
	return body["active"] == true
}

func (s *endScene) userinfo(token string) int {
	s.e.t.Helper()
	req, _ := http.NewRequestWithContext(s.e.ctx(), http.MethodGet, s.e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
