package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ssobridge/ssobridge/sso"
)

// TokenInfo is one live grant: a refresh-token family (its current token), never the token.
type TokenInfo struct {
	ID        string    `json:"id"` // family id
	ClientID  string    `json:"client_id"`
	Subject   string    `json:"subject"`
	Login     string    `json:"login,omitempty"`
	Scopes    []string  `json:"scopes"`
	SessionID string    `json:"session_id,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Tokens lists live grants (refresh-token families) matching f (all when f is empty).
func (a *Service) Tokens(ctx context.Context, actor string, f Filter) ([]TokenInfo, error) {
	sub, err := a.subject(ctx, f)
	if err != nil {
		return nil, err
	}
	rts, err := a.Store.ListRefreshTokens(ctx, sub, f.Client)
	if err != nil {
		return nil, fmt.Errorf("admin: list tokens: %w", err)
	}
	out := []TokenInfo{}
	for _, rt := range rts {
		if f.ID != "" && rt.FamilyID != f.ID {
			continue
		}
		out = append(out, TokenInfo{ID: rt.FamilyID, ClientID: rt.ClientID, Subject: rt.Subject, Login: a.login(ctx, rt.Subject),
			Scopes: rt.Scopes, SessionID: rt.SessionID, AuthTime: rt.AuthTime, CreatedAt: rt.CreatedAt, ExpiresAt: rt.ExpiresAt})
	}
	a.record(ctx, actor, "admin.tokens_list", sub, f.Client, fmt.Sprintf("%s (%d)", f, len(out)))
	return out, nil
}

// RevokeTokens revokes the grants matching f (which must not be empty) with their access
// tokens and returns how many grants it revoked.
func (a *Service) RevokeTokens(ctx context.Context, actor string, f Filter) (int, error) {
	if f.empty() {
		return 0, fmt.Errorf("%w: say which tokens: id, login, subject or client", ErrInvalid)
	}
	sub, err := a.subject(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	switch {
	case f.ID == "":
		// By member and/or client, in one statement: a client's access-only grants (no
		// refresh token, so not listed) are revoked with the rest (review s16 X16-3).
		if n, err = a.Store.RevokeGrants(ctx, sub, f.Client); err != nil {
			err = fmt.Errorf("admin: revoke tokens: %w", err)
			a.record(ctx, actor, "admin.tokens_revoke", sub, f.Client, fmt.Sprintf("%s; failed: %v", f, err))
			return 0, err
		}
	default:
		// One live grant with a refresh token (what `tokens list` shows) by its id, within the
		// member and client the filter also names.
		rt, err := a.Store.Family(ctx, f.ID)
		switch {
		case errors.Is(err, sso.ErrNotFound) || err == nil && (rt.Revoked || rt.Hash == "" ||
			sub != "" && rt.Subject != sub || f.Client != "" && rt.ClientID != f.Client):
			return 0, fmt.Errorf("%w: no live grant %q", ErrNotFound, f.ID)
		case err != nil:
			err = fmt.Errorf("admin: revoke tokens: %w", err)
			a.record(ctx, actor, "admin.tokens_revoke", sub, f.Client, fmt.Sprintf("%s; failed: %v", f, err))
			return 0, err
		}
		if err := a.Store.RevokeFamily(ctx, f.ID); err != nil {
			err = fmt.Errorf("admin: revoke tokens: %w", err)
			a.record(ctx, actor, "admin.tokens_revoke", sub, f.Client, fmt.Sprintf("%s; failed: %v", f, err))
			return 0, err
		}
		n = 1
	}
	a.record(ctx, actor, "admin.tokens_revoke", sub, f.Client, fmt.Sprintf("%s (%d)", f, n))
	return n, nil
}

// SessionInfo is one live SSO session.
type SessionInfo struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Login     string    `json:"login,omitempty"`
	AuthTime  time.Time `json:"auth_time"`
	AMR       []string  `json:"amr"`
	Clients   []string  `json:"clients"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (a *Service) findSessions(ctx context.Context, f Filter) (string, []*sso.Session, error) {
	sub, err := a.subject(ctx, f)
	if err != nil {
		return "", nil, err
	}
	var list []*sso.Session
	if f.ID != "" {
		s, err := a.Store.Session(ctx, f.ID)
		if errors.Is(err, sso.ErrNotFound) {
			return sub, nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("admin: session: %w", err)
		}
		if sub == "" || s.Subject == sub {
			list = []*sso.Session{s}
		}
	} else if list, err = a.Store.Sessions(ctx, sub); err != nil {
		return "", nil, fmt.Errorf("admin: sessions: %w", err)
	}
	if f.Client != "" {
		list = slices.DeleteFunc(list, func(s *sso.Session) bool { return !slices.Contains(s.Clients, f.Client) })
	}
	return sub, list, nil
}

// Sessions lists live sessions matching f (all when f is empty).
func (a *Service) Sessions(ctx context.Context, actor string, f Filter) ([]SessionInfo, error) {
	sub, list, err := a.findSessions(ctx, f)
	if err != nil {
		return nil, err
	}
	out := []SessionInfo{}
	for _, s := range list {
		out = append(out, SessionInfo{ID: s.ID, Subject: s.Subject, Login: a.login(ctx, s.Subject), AuthTime: s.AuthTime,
			AMR: s.AMR, Clients: s.Clients, CreatedAt: s.CreatedAt, LastSeen: s.LastSeen, ExpiresAt: s.ExpiresAt})
	}
	a.record(ctx, actor, "admin.sessions_list", sub, f.Client, fmt.Sprintf("%s (%d)", f, len(out)))
	return out, nil
}

// EndSessions ends the live sessions matching f (which must not be empty) through the session
// ender, so that their apps get back-channel logout, and returns how many it ended. Tokens
// already issued stay valid until revoked (RevokeTokens). Each session ended ends the console
// sessions signed in with it (the store does, in the same transaction); a filter that names a
// member and no session id or client ends all of that member's console sessions too (not
// counted).
func (a *Service) EndSessions(ctx context.Context, actor string, f Filter) (int, error) {
	if f.empty() {
		return 0, fmt.Errorf("%w: say which sessions: id, login, subject or client", ErrInvalid)
	}
	sub, list, err := a.findSessions(ctx, f)
	if err != nil {
		return 0, err
	}
	if f.ID != "" && len(list) == 0 {
		return 0, fmt.Errorf("%w: no live session %q", ErrNotFound, f.ID)
	}
	detail := fmt.Sprintf("%s (%d)", f, len(list))
	var cerr error
	if f.ID == "" && f.Client == "" {
		// Before the sessions, so that they are counted here and carry this reason (the store
		// also ends those of each bridge session ended, and finds none left).
		var n int
		n, cerr = a.endConsoleSessions(ctx, sub, "sessions ended")
		if n > 0 || cerr != nil {
			detail += "; " + consoleEnded(n, cerr)
		}
	}
	for i, s := range list {
		if err := a.SessionEnder.EndSession(ctx, s); err != nil {
			// The sessions ended before it are ended (their apps told): the row says how many.
			err = fmt.Errorf("admin: end session (%s): %w", detail, err)
			a.record(ctx, actor, "admin.sessions_revoke", sub, f.Client, fmt.Sprintf("%s (%d of %d ended); stopped: %v", f, i, len(list), err))
			return i, err
		}
	}
	// The sessions are ended: recorded whatever happens to the console sessions.
	a.record(ctx, actor, "admin.sessions_revoke", sub, f.Client, detail)
	if cerr != nil {
		return len(list), fmt.Errorf("%d sessions ended, but not the console sessions: %w", len(list), cerr)
	}
	return len(list), nil
}
