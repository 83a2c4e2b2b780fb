package authflow

import (
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/ssobridge/ssobridge/sso"
)

// TestSessionAnswers: a session completes a request without a new password only when the
// request does not ask for a newer sign-in (prompt=login, max_age, id_token_hint of another
// member), or when the session was signed in after the request was made.
func TestSessionAnswers(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	h := &Handler{Now: func() time.Time { return now }}
	made := now.Add(-time.Minute)
	old := &sso.Session{Subject: "alice", AuthTime: now.Add(-time.Hour)}
	fresh := &sso.Session{Subject: "alice", AuthTime: now.Add(-30 * time.Second)}
	tenMin, twoHours := 10*time.Minute, 2*time.Hour
	for _, tc := range []struct {
		name string
		ar   sso.AuthRequest
		sess *sso.Session
		want bool
	}{
		{"plain request", sso.AuthRequest{CreatedAt: made}, old, true},
		{"prompt=login, older session", sso.AuthRequest{CreatedAt: made, Prompt: []string{oidc.PromptLogin}}, old, false},
		{"prompt=login, signed in after the request", sso.AuthRequest{CreatedAt: made, Prompt: []string{oidc.PromptLogin}}, fresh, true},
		{"max_age exceeded", sso.AuthRequest{CreatedAt: made, MaxAge: &tenMin}, old, false},
		{"max_age met", sso.AuthRequest{CreatedAt: made, MaxAge: &twoHours}, old, true},
		{"hint names another member", sso.AuthRequest{CreatedAt: made, HintSubject: "bob"}, old, false},
		{"hint names this member", sso.AuthRequest{CreatedAt: made, HintSubject: "alice"}, old, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.sessionAnswers(&tc.ar, tc.sess); got != tc.want {
				t.Fatalf("sessionAnswers = %v, want %v", got, tc.want)
			}
		})
	}
}
