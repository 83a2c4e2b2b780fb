package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
)

// The member's part of the device authorization grant (RFC 8628): /device takes the user code
// (with CSRF; wrong codes are throttled per client IP like failed sign-ins), then the normal
// login, consent and access rules run on an internal auth request (sso.Provider.DeviceLogin)
// that comes back to /device/done, which approves or denies the device.

// Device flow paths.
const (
	PathDevice     = "/device"
	PathDeviceDone = "/device/done"
)

type deviceData struct {
	pageData
	CSRF, UserCode, Error string
}

type deviceDoneData struct {
	pageData
	ClientName string
	Approved   bool
}

// deviceThrottleKey counts wrong user codes per client IP in the login throttle.
func deviceThrottleKey(ip string) string { return "\x00device:" + ip }

func (s *Server) showDevice(c echo.Context, status int, code, msg string) error {
	csrf, err := s.cookies.CSRFToken(c)
	if err != nil {
		return err
	}
	return s.render(c, status, "device", deviceData{pageData: s.base("Connect a device"), CSRF: csrf, UserCode: code, Error: msg})
}

// devicePage shows the code form, prefilled from verification_uri_complete. The member always
// confirms with the button (RFC 8628 section 5.4: no silent approval from a link).
func (s *Server) devicePage(c echo.Context) error {
	code := c.QueryParam("user_code")
	if n, ok := sso.NormalizeUserCode(code); ok {
		code = sso.FormatUserCode(n)
	} else {
		code = ""
	}
	return s.showDevice(c, http.StatusOK, code, "")
}

const msgDeviceCode = "That code is not valid or has expired. Check the code on your device and try again."

func (s *Server) deviceSubmit(c echo.Context) error {
	if err := s.cookies.CheckCSRF(c); err != nil {
		return s.cookies.CSRFFailed(c)
	}
	ctx := c.Request().Context()
	ip := c.RealIP()
	typed := c.FormValue("user_code")
	if len(typed) > 64 {
		typed = typed[:64]
	}
	key := deviceThrottleKey(ip)
	if _, retryAfter := s.throttle.Check(key, ip); retryAfter > 0 {
		s.auditAnonymous(ctx, &store.AuditEvent{Event: "device.throttled", IP: ip})
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(retryAfter.Seconds())+1))
		return s.showDevice(c, http.StatusTooManyRequests, typed, fmt.Sprintf(
			"Too many wrong codes. For your security, please wait %s and try again.", humanDuration(retryAfter)))
	}
	d, loginURL, err := s.provider.DeviceLogin(ctx, typed)
	if errors.Is(err, sso.ErrNotFound) {
		s.auditAnonymous(ctx, &store.AuditEvent{Event: "device.code_failure", IP: ip, Detail: "unknown or expired user code"})
		return s.showDevice(c, http.StatusBadRequest, typed, msgDeviceCode)
	}
	if err != nil {
		s.throttle.Release(key, ip)
		return err
	}
	s.throttle.Succeed(key, ip)
	if loginURL == "" {
		return s.errorPage(c, http.StatusBadRequest, "This code was already used",
			"The device sign-in with this code has already been approved or denied.",
			"Start again on your device to get a new code.")
	}
	s.audit(ctx, &store.AuditEvent{Event: "device.code_entered", ClientID: d.ClientID, IP: ip})
	return c.Redirect(http.StatusSeeOther, loginURL)
}

// deviceDone is where the internal auth request returns, with a code or an error.
func (s *Server) deviceDone(c echo.Context) error {
	ctx := c.Request().Context()
	d, approved, err := s.provider.DeviceDone(ctx, c.QueryParams())
	if errors.Is(err, sso.ErrNotFound) {
		return s.errorPage(c, http.StatusBadRequest, "This device sign-in has expired",
			"The device sign-in is no longer valid: it was finished already or is too old.",
			"Start again on your device to get a new code.")
	}
	if err != nil {
		return err
	}
	name := d.ClientID
	if cl, err := s.provider.Client(ctx, d.ClientID); err == nil && cl.Name != "" {
		name = cl.Name
	}
	title := "Device connected"
	if !approved {
		title = "Device not connected"
	}
	return s.render(c, http.StatusOK, "device_done", deviceDoneData{pageData: s.base(title), ClientName: name, Approved: approved})
}

// purgeDevices deletes device authorizations an hour after they expired (until then a late
// poll still learns expired_token rather than invalid_grant).
func (s *Server) purgeDevices(ctx context.Context) {
	ds, ok := s.store.(sso.DeviceStore)
	if !ok {
		return
	}
	if n, err := ds.PurgeDeviceAuthorizations(ctx, s.now().Add(-time.Hour)); err != nil {
		s.log.ErrorContext(ctx, "purge device authorizations failed", "err", err)
	} else if n > 0 {
		s.log.DebugContext(ctx, "purged device authorizations", "rows", n)
	}
}
