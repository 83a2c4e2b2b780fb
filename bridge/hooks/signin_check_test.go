package hooks_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/hooks"
	"github.com/ssobridge/ssobridge/bridge/mfa"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/sso"
)

// TestCheckSignIn (review s10 V10, V11): a grant made without a second factor is refused once
// the policy requires one of the member at the client; a grant made on the AMS password is
// refused once the AMS records a password change after the sign-in (a minute's skew allowed);
// grants made with a second factor, or not on the password, or with no known change date, are
// left alone. Before, nothing re-checked either (sso asked CheckGrant only).
func TestCheckSignIn(t *testing.T) {
	signedIn := now.Add(-time.Hour)
	changedAfter := &legacy.Member{Key: "K3", Login: "carol", Standing: legacy.Standing{Approved: true, PasswordChangedAt: signedIn.Add(10 * time.Minute)}}
	changedJustAfter := &legacy.Member{Key: "K4", Login: "dave", Standing: legacy.Standing{Approved: true, PasswordChangedAt: signedIn.Add(30 * time.Second)}}
	changedBefore := &legacy.Member{Key: "K5", Login: "erin", Standing: legacy.Standing{Approved: true, PasswordChangedAt: signedIn.Add(-time.Hour)}}
	staff := &legacy.Member{Key: "K6", Login: "frank", Roles: []string{"Staff"}, Standing: legacy.Standing{Approved: true}}
	amsAsks := &legacy.Member{Key: "K7", Login: "gina", SecondFactor: true, Standing: legacy.Standing{Approved: true}}
	for _, tc := range []struct {
		name, subject, client string
		amr                   []string
		want                  string // "" allowed, else the SignInAgainError's reason
		wantErr               bool   // another error (server error)
	}{
		{name: "password, nothing changed", subject: "sub-K1", client: "web", amr: []string{"pwd"}},
		{name: "password, app now requires a factor", subject: "sub-K1", client: "finance", amr: []string{"pwd"}, want: hooks.ReasonSecondFactor},
		{name: "second factor, app requires one", subject: "sub-K1", client: "finance", amr: []string{"pwd", "otp", "mfa"}},
		{name: "password, role now requires a factor", subject: "sub-K6", client: "web", amr: []string{"pwd"}, want: hooks.ReasonSecondFactor},
		{name: "hand-off, app now requires a factor", subject: "sub-K1", client: "finance", amr: []string{"ams"}, want: hooks.ReasonSecondFactor},
		{name: "passkey alone, app requires one", subject: "sub-K1", client: "finance", amr: []string{"hwk", "mfa"}},
		{name: "password changed after the sign-in", subject: "sub-K3", client: "web", amr: []string{"pwd"}, want: hooks.ReasonPasswordChanged},
		{name: "password changed after, with a second factor", subject: "sub-K3", client: "web", amr: []string{"pwd", "otp", "mfa"}, want: hooks.ReasonPasswordChanged},
		{name: "password changed within the skew", subject: "sub-K4", client: "web", amr: []string{"pwd"}},
		{name: "password changed before the sign-in", subject: "sub-K5", client: "web", amr: []string{"pwd"}},
		{name: "password changed after a passkey sign-in", subject: "sub-K3", client: "web", amr: []string{"hwk", "mfa"}},
		{name: "password changed after a hand-off", subject: "sub-K3", client: "web", amr: []string{"ams"}},
		{name: "no change date known", subject: "sub-K1", client: "web", amr: []string{"pwd"}},
		// The AMS's own second factor (brief M 1): the policy sees the grant's methods; a
		// hand-off grant (or the AMS token exchange's) satisfies it, a password grant does not.
		{name: "password, the AMS asks a factor", subject: "sub-K7", client: "web", amr: []string{"pwd"}, want: hooks.ReasonSecondFactor},
		{name: "hand-off, the AMS asks a factor", subject: "sub-K7", client: "web", amr: []string{"ams"}},
		{name: "hand-off, the AMS asks a factor, app requires one", subject: "sub-K7", client: "finance", amr: []string{"ams"}, want: hooks.ReasonSecondFactor},
		{name: "member gone", subject: "sub-K9", client: "web", amr: []string{"pwd"}, wantErr: true},
		{name: "directory down", subject: "sub-down", client: "web", amr: []string{"pwd"}, wantErr: true},
		{name: "policy unreadable", subject: "sub-K1", client: "broken", amr: []string{"pwd"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := newHooks()
			ms := h.Members.(members)
			ms["K3"], ms["K4"], ms["K5"], ms["K6"], ms["K7"] = changedAfter, changedJustAfter, changedBefore, staff, amsAsks
			h.SecondFactorPolicy = func(_ context.Context, clientID string, m *legacy.Member, amr []string) (string, error) {
				switch {
				case clientID == "broken":
					return "", errors.New("registry down")
				case clientID == "finance":
					return "client", nil
				case len(m.Roles) > 0 && m.Roles[0] == "Staff":
					return "role", nil
				case m.SecondFactor && !mfa.HandedOff(amr):
					return "ams", nil
				}
				return "", nil
			}
			err := h.CheckSignIn(context.Background(), tc.subject, tc.client, signedIn, tc.amr)
			var again *sso.SignInAgainError
			switch {
			case tc.wantErr:
				if err == nil || errors.As(err, &again) {
					t.Fatalf("CheckSignIn = %v, want a server error", err)
				}
			case tc.want == "":
				if err != nil {
					t.Fatalf("CheckSignIn = %v, want nil", err)
				}
			case !errors.As(err, &again) || again.Reason != tc.want:
				t.Fatalf("CheckSignIn = %v, want sign in again: %q", err, tc.want)
			}
		})
	}
	// Without a second-factor policy, only the password change is checked.
	h, _ := newHooks()
	if err := h.CheckSignIn(context.Background(), "sub-K1", "finance", signedIn, []string{"pwd"}); err != nil {
		t.Fatalf("no policy: %v", err)
	}
}
