package console

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/admin"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// loginState is what a sign-in started here carries to the callback (sealed cookie, SameSite
// Lax: the callback arrives from the bridge's origin).
type loginState struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Return   string `json:"return"`
	Exp      int64  `json:"exp"`
}

const loginWindow = 10 * time.Minute

func (c *Console) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: ClientID, ClientSecret: c.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: c.origin + Path + "callback", Scopes: []string{oidc.ScopeOpenID}}
}

// safeReturn keeps only a console path (no open redirect).
func safeReturn(p string) string {
	if !strings.HasPrefix(p, Path) || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return Path
	}
	return p
}

// startLogin sends the browser to the bridge's authorization endpoint (code flow, PKCE S256).
func (c *Console) startLogin(w http.ResponseWriter, r *http.Request) {
	p, err := c.oidcProvider(r.Context())
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	st := loginState{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(),
		Return: safeReturn(r.URL.Query().Get("return")), Exp: c.cfg.Now().Add(loginWindow).Unix()}
	if err := c.setCookie(w, c.login, st, loginWindow, http.SameSiteLaxMode); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier)}
	if c.cfg.RequireSecondFactor {
		// The bridge asks for the second factor (steps a live session up; an administrator
		// without one enrols) before it answers.
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", sso.ACRMFA))
	}
	http.Redirect(w, r, c.oauth(p).AuthCodeURL(st.State, opts...), http.StatusSeeOther)
}

// callback finishes the sign-in: state, issuer (RFC 9207), code exchange with the PKCE
// verifier, ID token and nonce, then the administrator's AMS roles.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	var st loginState
	ok := c.readCookie(r, c.login, &st) && st.State != "" && c.cfg.Now().Unix() <= st.Exp &&
		subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) == 1
	c.clearCookie(w, c.login, http.SameSiteLaxMode)
	if !ok {
		c.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in expired",
			"This sign-in was not started here, or took too long. Start again from the console.")
		return
	}
	// RFC 9207 2.4: the bridge's discovery says authorization_response_iss_parameter_supported,
	// so an answer without iss is refused as one from another issuer is.
	if iss, ok := q["iss"]; !ok || len(iss) != 1 || iss[0] != c.cfg.Issuer {
		c.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in refused", "The answer did not come from this bridge: its issuer (iss) is missing or another one.")
		return
	}
	if e := q.Get("error"); e != "" {
		c.errorPage(w, r, nil, http.StatusForbidden, "Sign-in not completed", "The bridge answered: "+e+" "+q.Get("error_description"))
		return
	}
	p, err := c.oidcProvider(ctx)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	octx := oidc.ClientContext(ctx, c.cfg.HTTP)
	tok, err := c.oauth(p).Exchange(octx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: ClientID, Now: c.cfg.Now}).Verify(octx, raw)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		c.errorPage(w, r, nil, http.StatusBadRequest, "Sign-in refused", "The bridge's ID token did not verify.")
		return
	}
	var claims struct {
		ACR      string   `json:"acr"`
		AMR      []string `json:"amr"`
		AuthTime int64    `json:"auth_time"`
		SID      string   `json:"sid"`
	}
	if err := idt.Claims(&claims); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	secondFactor := claims.ACR == sso.ACRMFA && mfa.HasMFA(claims.AMR)
	if c.cfg.RequireSecondFactor && !secondFactor {
		// Fail closed: whatever the bridge answered, a password alone does not open the console.
		c.cfg.Admin.Audit(ctx, &store.AuditEvent{Time: c.cfg.Now(), Event: "console.login_refused", Subject: idt.Subject,
			ClientID: ClientID, IP: peer(r), Detail: "no second factor"})
		c.errorPage(w, r, nil, http.StatusForbidden, "Second factor required",
			"The admin console opens only after a second factor (an authenticator app or a passkey), and this sign-in did not use one. Start again from the console: the sign-in asks for it, and lets you set one up if you have none.")
		return
	}
	login, roles, err := c.cfg.Admin.MemberRoles(ctx, idt.Subject)
	if err != nil && !errors.Is(err, admin.ErrNotFound) {
		c.fail(w, r, nil, err)
		return
	}
	if err != nil || !admin.HasRole(roles, c.cfg.Roles) {
		c.cfg.Admin.Audit(ctx, &store.AuditEvent{Time: c.cfg.Now(), Event: "console.login_refused", Subject: idt.Subject,
			ClientID: ClientID, IP: peer(r), Detail: "no console role"})
		c.errorPage(w, r, nil, http.StatusForbidden, "Not an administrator",
			"You are signed in, but your membership account does not hold a role that may use the admin console ("+
				strings.Join(c.cfg.Roles, ", ")+"). Ask the person who runs the bridge if you need access.")
		return
	}
	now := c.cfg.Now()
	// The console session belongs to the bridge session this sign-in came from (OWASP ASVS
	// 3.3.1: signing out at the bridge, or an administrator ending that session, ends it too).
	bridgeID, bridgeEnd, err := c.cfg.BridgeSession(ctx, idt.Subject, claims.SID)
	if errors.Is(err, sso.ErrNotFound) {
		c.bridgeSessionGone(w, r)
		return
	}
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	// A console session this browser held before ends: one browser, one session.
	if old := c.cookieID(r); old != "" {
		if err := c.cfg.Sessions.EndConsoleSession(ctx, old, now, endSignedInAgain); err != nil && !errors.Is(err, sso.ErrNotFound) {
			c.fail(w, r, nil, err)
			return
		}
	}
	authTime := time.Unix(claims.AuthTime, 0)
	if claims.AuthTime <= 0 || authTime.After(now) {
		authTime = now // no auth_time: the sign-in is no later than now (the password rule errs to ending)
	}
	id := randomToken()
	rec := &store.ConsoleSession{IDHash: sso.HashToken(id), Subject: idt.Subject, Login: login, CSRF: randomToken(),
		AuthTime: authTime, AMR: claims.AMR, MFA: secondFactor, CreatedAt: now, SeenAt: now, CheckedAt: now,
		ExpiresAt: now.Add(maxSession), BridgeSession: bridgeID}
	if bridgeEnd.Before(rec.ExpiresAt) {
		rec.ExpiresAt = bridgeEnd
	}
	// A compare-and-set on the bridge session: refused when it ended since it was read.
	if err := c.cfg.Sessions.CreateConsoleSession(ctx, rec); errors.Is(err, sso.ErrNotFound) {
		c.bridgeSessionGone(w, r)
		return
	} else if err != nil {
		c.fail(w, r, nil, fmt.Errorf("console: create session: %w", err))
		return
	}
	if err := c.setCookie(w, c.session, sessionCookie{ID: id}, maxSession, http.SameSiteStrictMode); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.cfg.Admin.Audit(ctx, &store.AuditEvent{Time: now, Event: "console.login", Subject: rec.Subject, Login: login, ClientID: ClientID, IP: peer(r)})
	// A page, not a redirect: the Strict cookie is sent on the same-site navigation it starts,
	// never on a redirect chain that began at the bridge's origin.
	c.render(w, r, nil, http.StatusOK, "signedin", struct {
		base
		Return string
	}{c.base(nil, "Signed in", ""), st.Return})
}

// bridgeSessionGone answers a sign-in whose bridge session ended before the console session
// could be made from it (or whose ID token names none).
func (c *Console) bridgeSessionGone(w http.ResponseWriter, r *http.Request) {
	c.errorPage(w, r, nil, http.StatusForbidden, "Sign-in not completed",
		"The bridge session this sign-in came from has ended (signed out, or ended by an administrator). Start again from the console.")
}

// logout ends the console session, in the store (every copy of the cookie is signed out) and
// in this browser; the bridge session stays (the page links to it). The rule is one way: the
// console session belongs to the bridge session, so ending the bridge session ends it, and
// signing out of the console alone leaves the member signed in to their apps.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, s *session) {
	if err := c.endSession(w, r, s, endSignedOut); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.cfg.Admin.Audit(r.Context(), eventf("console.logout", s, ""))
	http.Redirect(w, r, Path+"signed-out", http.StatusSeeOther)
}

func (c *Console) signedOut(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, nil, http.StatusOK, "signedout", struct {
		base
		Issuer string
	}{c.base(nil, "Signed out", ""), c.cfg.Issuer})
}

// base is what every page carries.
type base struct {
	Title, Nav, Org string
	Admin           string // the administrator's login ("" when signed out)
	CSRF            string
	Notice          string
}

func (c *Console) base(s *session, title, nav string) base {
	b := base{Title: title, Nav: nav, Org: c.cfg.Org}
	if s != nil {
		b.Admin, b.CSRF = s.Login, s.CSRF
		if b.Admin == "" {
			b.Admin = s.Sub
		}
	}
	return b
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data any) {
	var buf bytes.Buffer
	if err := c.tmpl[name].ExecuteTemplate(&buf, name+".html", data); err != nil {
		c.log.ErrorContext(r.Context(), "console: render", "page", name, "err", err)
		http.Error(w, "the page could not be shown; see the server log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, s *session, status int, heading, message string) {
	c.render(w, r, s, status, "error", struct {
		base
		Heading, Message string
		Status           int
	}{c.base(s, heading, ""), heading, message, status})
}

// fail answers an error of the administration with its page.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch {
	case errors.Is(err, admin.ErrNotFound):
		c.errorPage(w, r, s, http.StatusNotFound, "Not found", err.Error())
	case errors.Is(err, admin.ErrInvalid):
		c.errorPage(w, r, s, http.StatusBadRequest, "Not accepted", err.Error())
	case errors.Is(err, admin.ErrStatic):
		c.errorPage(w, r, s, http.StatusConflict, "Defined in the configuration file", err.Error())
	default:
		c.log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		c.errorPage(w, r, s, http.StatusInternalServerError, "Something went wrong", "The request failed; the server log has the details.")
	}
}

func eventf(event string, s *session, detail string) *store.AuditEvent {
	return &store.AuditEvent{Event: event, Subject: s.Sub, Login: s.Login, ClientID: ClientID, Detail: detail}
}

func peer(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = strings.Trim(host[:i], "[]")
	}
	return host
}
