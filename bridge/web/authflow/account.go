package authflow

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// The account choice (OIDC Core 3.1.2.1, prompt=select_account): a request that asks the member
// to choose the account, in a browser whose session would answer it, gets a page naming the
// signed-in member, "Continue as <member>" or "Use another account", instead of a code at once.
// The consent page names the member too, with "Not you? Use another account". Both post to
// PathAccount (CSRF, the request pending and this browser's, as every form of the flow):
//
//   - continue: the session completes the request through Finish (consent, then the one
//     compare-and-set completion every entry point uses), if it is still the session the page
//     was shown for; another member signed in meanwhile (another tab) gets the page again,
//     naming them;
//   - other: the login form for the same request; a different member's sign-in ends the
//     browser's session only once it has won the request (completeFresh), as every sign-in does.
//
// A form sent again after the request was finished (another tab, the back button) gets the
// already-used page and changes nothing.

// PathAccount is where the account choice and the consent page's "Use another account" post.
const PathAccount = "/login/account"

type accountData struct {
	web.Page
	CSRF, RequestID, ClientName string
	// Member names the signed-in member ("Alice Anders (alice)"); Shown identifies the session
	// the page was shown for in the form (shownAccount), so a continue after another member
	// signed in is not taken as theirs.
	Member, Shown string
}

// MemberLabel names a member on the flow's pages: "Alice Anders (alice)", or the login alone.
func MemberLabel(m *legacy.Member) string {
	if m.FullName == "" {
		return m.Login
	}
	return m.FullName + " (" + m.Login + ")"
}

// shownAccount is what the account choice's form carries of the session it was shown for: a
// hash of the session's id (sessionID: the store's key, itself a hash of the cookie's random
// value), which says nothing of the member and cannot be computed from what can be guessed of
// them (review s17 R1-5: a hash of the subject identified the member to whoever saw the page's
// source). The same member signing in again keeps the session's id, so it keeps the choice.
func shownAccount(sessionID string) string { return sso.HashToken("account-choice:" + sessionID) }

// shownWellFormed reports whether shown has the form of a shownAccount value (hex SHA-256).
func shownWellFormed(shown string) bool {
	if len(shown) != 64 {
		return false
	}
	for _, r := range shown {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// selectAccount reports whether ar asks the member to choose the account (prompt=select_account).
// With prompt=none op refuses the request itself (none must be alone).
func selectAccount(ar *sso.AuthRequest) bool {
	return slices.Contains(ar.Prompt, oidc.PromptSelectAccount) && !slices.Contains(ar.Prompt, oidc.PromptNone)
}

// showAccountChoice renders the account choice for ar with the browser's session sess of m.
func (h *Handler) showAccountChoice(c echo.Context, ar *sso.AuthRequest, client *sso.ClientConfig, sess *sso.Session, m *legacy.Member) error {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	label := MemberLabel(m)
	return h.Pages.Render(c, http.StatusOK, "choose_account", accountData{Page: h.Pages.Base("Choose an account"), CSRF: csrf,
		RequestID: ar.ID, ClientName: client.Name, Member: label, Shown: shownAccount(sess.ID)})
}

// accountSubmit is the member's choice (PathAccount).
func (h *Handler) accountSubmit(c echo.Context) error {
	ar, client, err := h.postedRequest(c)
	if ar == nil {
		return err
	}
	switch c.FormValue("choice") {
	case "other":
		// A new sign-in for this request; nothing changes until it wins the request.
		return h.showLogin(c, ar, client, "", "", http.StatusOK)
	case "continue":
	default:
		return h.Pages.Error(c, http.StatusBadRequest, "This form was not sent as expected",
			"Choose one of the buttons to go on.", "Go back to the app and start signing in again.")
	}
	ctx := c.Request().Context()
	sess, serr := h.Cookies.Current(c)
	if serr != nil && !errors.Is(serr, sso.ErrNotFound) {
		return serr
	}
	if sess == nil || !h.sessionAnswers(ar, sess) {
		// Signed out meanwhile (or the session no longer answers): the login page asks.
		return c.Redirect(http.StatusSeeOther, loginURL(ar.ID))
	}
	m, ended, err := h.sessionMember(c, ar, sess)
	if ended {
		// As the login page: the member behind the session may no longer sign in.
		return h.showLogin(c, ar, client, "", "", http.StatusOK)
	}
	if m == nil {
		return err
	}
	if shown := c.FormValue("shown"); subtle.ConstantTimeCompare([]byte(shown), []byte(shownAccount(sess.ID))) != 1 {
		// Not the session the page was shown for (another member signed in in this browser
		// since, or a form the bridge did not render): the choice was not this member's. Ask
		// again, naming them.
		detail := "the account choice does not match the browser's session"
		if !shownWellFormed(shown) {
			detail = "the account choice names no session (empty or malformed: not a page the bridge rendered)"
		}
		h.Audit.Write(ctx, &store.AuditEvent{Event: "authorize.account_mismatch", Subject: sess.Subject, ClientID: ar.ClientID, IP: c.RealIP(),
			Detail: detail})
		return h.showAccountChoice(c, ar, client, sess, m)
	}
	return h.Finish(c, ar, client, sess, m)
}
