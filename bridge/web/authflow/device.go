package authflow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/throttle"
	"github.com/ssobridge/ssobridge/bridge/web"
	"github.com/ssobridge/ssobridge/sso"
)

// The member's part of the device authorization grant (RFC 8628): /device takes the user code
// (with CSRF; wrong codes are throttled per client IP like failed sign-ins, per IPv6 /48 by
// DeviceNetworks, and for the whole service by DeviceGuesses), then the normal
// login, consent and access rules run on an internal auth request (sso.Provider.DeviceLogin)
// that comes back to /device/done, which approves or denies the device.

type deviceData struct {
	web.Page
	CSRF, UserCode, Error string
	// Continue, when set, is the sign-in of a right code whose device named resources (RFC
	// 8707): the page names the app and Resources, and the member continues with a link.
	Continue, ClientName string
	Resources            []string
}

type deviceDoneData struct {
	web.Page
	ClientName string
	Approved   bool
}

// deviceThrottleKey counts wrong user codes per client IP in the login throttle.
func deviceThrottleKey(ip string) string { return "\x00device:" + ip }

// deviceAccountKey counts a signed-in member's wrong user codes in the login throttle (as a
// login: the same limit as a login's failed passwords), wherever they come from.
func deviceAccountKey(subject string) string { return "\x00device-account:" + subject }

// deviceGuessesKey and deviceMembersKey are the two counters (each as login and as address) of
// Handler.DeviceGuesses: wrong user codes from browsers without a session, and from signed-in
// members' browsers. Each has the whole budget.
const (
	deviceGuessesKey = "\x00device:all"
	deviceMembersKey = "\x00device:members"
)

// deviceBudget is whose budgets a user code entry counts against: an anonymous entry against
// its address's and the anonymous service-wide one; a signed-in member's against their
// account's and the members' service-wide one. So whoever spends the anonymous budget (a
// guesser with many addresses) pauses anonymous entry only: members signed in in that
// browser (at the member website, at any app) still enter their codes, each with a budget of
// their own that only their account spends. Guessing through the members' budget takes as
// many member accounts as through the anonymous one it takes addresses (its per-account limit is
// the per-address one), and each entry is the account's in the audit log.
type deviceBudget struct {
	key, global string
	// subject is the signed-in member's ("": an anonymous entry).
	subject string
}

// deviceNetworkKey is the counter of Handler.DeviceNetworks an entry from ip counts against:
// its IPv6 /48 (throttle.NetworkKey); false for an IPv4 address, counted per address only.
func deviceNetworkKey(ip string) (string, bool) {
	n, ok := throttle.NetworkKey(ip)
	if !ok {
		return "", false
	}
	return "\x00device-net:" + n, true
}

func (h *Handler) deviceBudget(c echo.Context) deviceBudget {
	if sess, err := h.Cookies.Current(c); err == nil && sess != nil {
		return deviceBudget{key: deviceAccountKey(sess.Subject), global: deviceMembersKey, subject: sess.Subject}
	}
	return deviceBudget{key: deviceThrottleKey(c.RealIP()), global: deviceGuessesKey}
}

// deviceLimit is one budget a user code entry counts against (deviceLimits): its throttle,
// the login and address it is counted under there, and what a refusal says.
type deviceLimit struct {
	t         *throttle.Throttle
	login, ip string
	// detail ends the device.throttled audit row of a refusal ("": the entrant's own budget).
	detail string
	// msg tells the member why they wait, with a %s for how long (humanDuration).
	msg string
	// slow applies the throttle's slow-down (its delay) before the code is looked up: the
	// shared budgets' only; the entrant's own budget counts, and refuses, without it.
	slow bool
}

// Why an entry waits, for each budget (deviceLimits).
const (
	msgDeviceEntrant = "Too many wrong codes. For your security, please wait %s and try again."
	msgDeviceNetwork = "Too many wrong codes have been entered from your network. For your security, please wait %s and try again."
	msgDeviceAnyone  = "Too many wrong codes have been entered on this service in the last minute, so code entry is paused for a moment for everyone who is not signed in. If you are signed in to the association's member website or one of its apps in this browser, reload this page and try again: signed-in members are not paused. Otherwise, for your security, please wait %s and try again."
	msgDeviceMembers = "Too many wrong codes have been entered by signed-in members in the last minute, so code entry is paused for a moment. For your security, please wait %s and try again."
)

// deviceLimits are the budgets an entry from ip counts against, in the order they are
// reserved: the entrant's (its address, or the signed-in member's account: deviceBudget); for a
// browser without a session at an IPv6 address, its /48's (the entrant's counts a /64, of which
// a /48 holds 65,536; DeviceNetworks); then the service-wide one of wrong codes (a guesser
// spread over many addresses), the anonymous one or the signed-in members' (DeviceGuesses).
func (h *Handler) deviceLimits(bud deviceBudget, ip string) []deviceLimit {
	limits := make([]deviceLimit, 1, 3)
	limits[0] = deviceLimit{t: h.Throttle, login: bud.key, ip: ip, msg: msgDeviceEntrant}
	if nk, ok := deviceNetworkKey(ip); ok && bud.subject == "" && h.DeviceNetworks != nil {
		limits = append(limits, deviceLimit{t: h.DeviceNetworks, login: nk, ip: nk, detail: "network", msg: msgDeviceNetwork, slow: true})
	}
	if h.DeviceGuesses != nil {
		l := deviceLimit{t: h.DeviceGuesses, login: bud.global, ip: bud.global, detail: "all addresses", msg: msgDeviceAnyone, slow: true}
		if bud.subject != "" {
			l.detail, l.msg = "all members", msgDeviceMembers
		}
		limits = append(limits, l)
	}
	return limits
}

// deviceHeld is what an entry has reserved so far (reserveDevice).
type deviceHeld []deviceLimit

// release takes back the entry's reservations where it is not a wrong code: one not taken back
// stays counted, the safe side. It outlives the request: a browser that leaves during a
// slow-down cancels the request's context, and a shared throttle's store would refuse the
// release with it, so the entry would stay counted as a wrong code (session 14 noticed).
func (held deviceHeld) release(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	for _, l := range held {
		_ = l.t.Release(rctx, l.login, l.ip)
	}
}

// reserveDevice reserves the entry against l, after those in held. answered is set when the
// entry goes no further, and err is then the answer: l cannot be reached (fail closed: 503), l
// refuses the entry (429 with Retry-After, and l.msg), or the browser left during l's
// slow-down. Whenever answered, everything held is taken back first (none of it is a wrong
// code); otherwise l is held too.
func (h *Handler) reserveDevice(c echo.Context, held *deviceHeld, l deviceLimit, typed string) (answered bool, err error) {
	ctx := c.Request().Context()
	delay, retryAfter, err := l.t.Check(ctx, l.login, l.ip)
	if err != nil {
		held.release(ctx)
		h.Logger.ErrorContext(ctx, "device code throttle unavailable", "err", err)
		return true, web.Unavailable(c, false, h.Pages) // fail closed
	}
	if retryAfter > 0 {
		held.release(ctx) // not this entrant's wrong code (l reserved nothing)
		h.Audit.Anonymous(ctx, &store.AuditEvent{Event: "device.throttled", IP: c.RealIP(), Detail: l.detail})
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())+1))
		return true, h.showDevice(c, http.StatusTooManyRequests, typed, fmt.Sprintf(l.msg, humanDuration(retryAfter)))
	}
	*held = append(*held, l)
	if l.slow && delay > 0 {
		// Past half the budget every entry is slowed a little, everyone's alike.
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			held.release(ctx)
			return true, ctx.Err()
		}
	}
	return false, nil
}

func (h *Handler) showDevice(c echo.Context, status int, code, msg string) error {
	csrf, err := h.Cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	return h.Pages.Render(c, status, "device", deviceData{Page: h.Pages.Base("Connect a device"), CSRF: csrf, UserCode: code, Error: msg})
}

// devicePage shows the code form, prefilled from verification_uri_complete. The member always
// confirms with the button (RFC 8628 section 5.4: no silent approval from a link).
func (h *Handler) devicePage(c echo.Context) error {
	code := c.QueryParam("user_code")
	if n, ok := sso.NormalizeUserCode(code); ok {
		code = sso.FormatUserCode(n)
	} else {
		code = ""
	}
	return h.showDevice(c, http.StatusOK, code, "")
}

const msgDeviceCode = "That code is not valid or has expired. Check the code on your device and try again."

// releaseTimeout bounds the release of a device entry's reservations, which no longer ends
// with the request.
const releaseTimeout = 5 * time.Second

func (h *Handler) deviceSubmit(c echo.Context) error {
	if err := h.Cookies.CheckCSRF(c); err != nil {
		return h.Cookies.CSRFFailed(c)
	}
	ctx := c.Request().Context()
	ip := c.RealIP()
	typed := c.FormValue("user_code")
	if len(typed) > 64 {
		typed = typed[:64]
	}
	// The entry is reserved against each of its budgets in turn (deviceLimits); the first that
	// refuses it, or cannot be reached, answers, and what was reserved before is taken back.
	bud := h.deviceBudget(c)
	var held deviceHeld
	for _, l := range h.deviceLimits(bud, ip) {
		if answered, err := h.reserveDevice(c, &held, l, typed); answered {
			return err
		}
	}
	d, loginURL, err := h.Provider.DeviceLogin(ctx, typed)
	if errors.Is(err, sso.ErrNotFound) {
		ev := &store.AuditEvent{Event: "device.code_failure", IP: ip, Detail: "unknown or expired user code"}
		if bud.subject != "" {
			ev.Subject = bud.subject // a member's wrong codes are theirs
			h.Audit.Write(ctx, ev)
		} else {
			h.Audit.Anonymous(ctx, ev)
		}
		return h.showDevice(c, http.StatusBadRequest, typed, msgDeviceCode)
	}
	if err != nil {
		held.release(ctx)
		return err
	}
	// A right code takes back its own reservations only, the entrant's and the service-wide
	// one: Succeed would clear the entrant's count of wrong codes (and the service's, everyone's),
	// which anyone could then do with a device code of their own, entered again and again
	// (entering does not use it up; review s13 X1).
	held.release(ctx)
	if loginURL == "" {
		return h.Pages.Error(c, http.StatusBadRequest, "This code was already used",
			"The device sign-in with this code has already been approved or denied.",
			"Start again on your device to get a new code.")
	}
	h.Audit.Write(ctx, &store.AuditEvent{Event: "device.code_entered", ClientID: d.ClientID, IP: ip})
	if len(d.Resources) > 0 {
		return h.showDeviceResources(c, d, loginURL)
	}
	return c.Redirect(http.StatusSeeOther, loginURL)
}

// showDeviceResources answers a right code whose device named resources at
// /device_authorization (RFC 8707; 11f9f00: they bind the grant): before the member signs in
// and allows the app, the page names the app and the services its tokens will be for, which
// neither the device's code nor the consent page says, and the member continues to the
// sign-in with a link (loginURL, where a code without resources is redirected). The member
// can tell a device that asks for more than they expected (RFC 8628 section 5.4) and stop.
func (h *Handler) showDeviceResources(c echo.Context, d *sso.DeviceAuthorization, loginURL string) error {
	name := d.ClientID
	if cl, err := h.Provider.Client(c.Request().Context(), d.ClientID); err == nil && cl.Name != "" {
		name = cl.Name
	}
	return h.Pages.Render(c, http.StatusOK, "device", deviceData{Page: h.Pages.Base("Connect a device"),
		Continue: loginURL, ClientName: name, Resources: d.Resources})
}

// deviceDone is where the internal auth request returns, with a code or an error.
func (h *Handler) deviceDone(c echo.Context) error {
	ctx := c.Request().Context()
	d, approved, err := h.Provider.DeviceDone(ctx, c.QueryParams())
	if errors.Is(err, sso.ErrNotFound) {
		return h.Pages.Error(c, http.StatusBadRequest, "This device sign-in has expired",
			"The device sign-in is no longer valid: it was finished already or is too old.",
			"Start again on your device to get a new code.")
	}
	if errors.Is(err, sso.ErrDeviceUndecided) && d.State == sso.DevicePending {
		// A fault on the way back (op's callback could not save its code), not the member's
		// refusal: the device still waits, and the same code may be entered again (review s25
		// Y-3). DeviceDone logged it.
		data := h.Pages.ErrorData(c, "The device sign-in could not be finished",
			"Something went wrong on our side while connecting your device. Nothing was decided: your device is still waiting.",
			"Enter the code shown on your device again to try once more.")
		data.Link, data.LinkText = h.Issuer+PathDevice, "Enter the code again"
		return h.Pages.Render(c, http.StatusInternalServerError, "error", data)
	}
	if err != nil && !errors.Is(err, sso.ErrDeviceUndecided) {
		return err
	}
	// An undecided answer for a device decided meanwhile (a second callback after the
	// first approved it) shows what the device was told.
	approved = approved || d.State == sso.DeviceApproved || d.State == sso.DeviceConsumed
	name := d.ClientID
	if cl, err := h.Provider.Client(ctx, d.ClientID); err == nil && cl.Name != "" {
		name = cl.Name
	}
	title := "Device connected"
	if !approved {
		title = "Device not connected"
	}
	return h.Pages.Render(c, http.StatusOK, "device_done", deviceDoneData{Page: h.Pages.Base(title), ClientName: name, Approved: approved})
}
