package authflow

import (
	"context"

	"github.com/labstack/echo/v4"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// SignInMember is Member for a new sign-in that proves no password to the AMS (a passkey, a
// linked upstream identity): the member is read from the AMS itself, as a password check reads
// them, not from the profile cache, so that a member the AMS disabled, locked or expired a minute
// ago is refused at once. The read refreshes the cache for the session's later re-checks.
func (h *Handler) SignInMember(ctx context.Context, subject string) (*legacy.Member, error) {
	if key, err := h.Subjects.MemberKey(ctx, subject); err == nil {
		if c, ok := h.Directory.(interface{ Invalidate(key string) }); ok {
			c.Invalidate(key)
		}
	}
	return h.Member(ctx, &sso.Session{Subject: subject})
}

// StepUpFirst is where a session must go before the member's own pages (the account page and
// its forms) when it lacks a second factor the member uses: no sign-in opens such a session
// (each waits for the factor: AfterFirstFactor), but a session opened before the member
// enrolled elsewhere lives on, and every app asks it for the factor at completion (complete), so
// must those pages. "" when the session may go on (and always without a SecondFactor).
func (h *Handler) StepUpFirst(c echo.Context, sess *sso.Session, m *legacy.Member) (string, error) {
	need, err := h.NeedsStepUpFirst(c, sess, m)
	if err != nil || !need {
		return "", err
	}
	return h.SecondFactor.StartStepUp(c, nil, sess)
}

// NeedsStepUpFirst reports whether StepUpFirst would send the session to the second factor,
// without opening the challenge it would (a write): what a HEAD of the member's pages asks.
func (h *Handler) NeedsStepUpFirst(c echo.Context, sess *sso.Session, m *legacy.Member) (bool, error) {
	if h.SecondFactor == nil {
		return false, nil
	}
	return h.SecondFactor.NeedsStepUp(c.Request().Context(), nil, &sso.ClientConfig{}, sess, m)
}
