package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestJSONLogsCarryRequestClientAndSubject: with log.format json, the request lines of a
// sign-in, its code exchange and a refresh carry the request id, the client id and the
// member's subject; no line carries the typed login, the password or a token.
func TestJSONLogsCarryRequestClientAndSubject(t *testing.T) {
	var out lockedBuffer
	log := logging.New(&out, logging.FormatJSON, slog.LevelInfo)
	e := newEnvDeps(t, false, nil, envDeps{logger: log})
	cfg, verifier := e.oauth("web", webSecret, e.rp+"/callback", oauth2.AuthStyleInHeader)
	b := e.browser()
	code := e.signIn(b, cfg.AuthCodeURL("st4te"), "alice", "alice-password")
	tok, err := cfg.Exchange(e.ctx(), code)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := verifier.Verify(e.ctx(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	tok.Expiry = time.Now().Add(-time.Hour)
	nt, err := cfg.TokenSource(e.ctx(), tok).Token()
	if err != nil {
		t.Fatal(err)
	}
	fresh := e.browser()
	fresh.Login(fresh.Get(cfg.AuthCodeURL("x")), "Typed-Login-Nobody", "wrong-password-123")

	type line struct {
		Msg       string `json:"msg"`
		Path      string `json:"path"`
		Method    string `json:"method"`
		Status    int    `json:"status"`
		RequestID string `json:"request_id"`
		ClientID  string `json:"client_id"`
		Subject   string `json:"subject"`
	}
	var tokenLines, loginLines []line
	text := out.String()
	for _, raw := range strings.Split(strings.TrimSpace(text), "\n") {
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("not a JSON line: %q", raw)
		}
		if l.Msg != "http" {
			continue
		}
		if l.RequestID == "" {
			t.Errorf("request line without request_id: %s", raw)
		}
		switch {
		case l.Path == "/oauth/token":
			tokenLines = append(tokenLines, l)
		case l.Path == "/login" && l.Method == http.MethodPost:
			loginLines = append(loginLines, l)
		}
	}
	if len(tokenLines) != 2 {
		t.Fatalf("%d token request lines", len(tokenLines))
	}
	for _, l := range tokenLines {
		if l.ClientID != "web" || l.Subject != idt.Subject {
			t.Errorf("token request line: %+v, want client web and subject %s", l, idt.Subject)
		}
	}
	if len(loginLines) != 2 {
		t.Fatalf("%d sign-in lines", len(loginLines))
	}
	if ok := loginLines[0]; ok.ClientID != "web" || ok.Subject != idt.Subject {
		t.Errorf("sign-in line: %+v", ok)
	}
	if failed := loginLines[1]; failed.ClientID != "web" || failed.Subject != "" {
		t.Errorf("failed sign-in line: %+v", failed)
	}
	for _, secret := range []string{"Typed-Login-Nobody", "typed-login-nobody", "alice-password", "wrong-password-123",
		tok.AccessToken, tok.RefreshToken, nt.RefreshToken, nt.AccessToken, code} {
		if strings.Contains(text, secret) {
			t.Errorf("the log contains %q", secret)
		}
	}
}

// TestLogLevelAtRunTime: the admin API reads and sets the log level (audited); the token is
// required and a bad level is refused.
func TestLogLevelAtRunTime(t *testing.T) {
	log := logging.New(io.Discard, logging.FormatText, slog.LevelInfo)
	e := newEnvDeps(t, false, nil, envDeps{logger: log}, withAdmin)
	admin := e.adminServer()
	call := func(method, body, token string) (int, map[string]string) {
		t.Helper()
		req, _ := http.NewRequest(method, admin.URL+"/admin/log-level", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	ctx := context.Background()
	if st, v := call(http.MethodGet, "", adminToken); st != http.StatusOK || v["level"] != "info" {
		t.Fatalf("GET: %d %v", st, v)
	}
	if log.Enabled(ctx, slog.LevelDebug) {
		t.Fatal("debug on before the change")
	}
	if st, _ := call(http.MethodPut, `{"level":"debug"}`, ""); st != http.StatusUnauthorized {
		t.Fatalf("PUT without the token: %d", st)
	}
	if st, _ := call(http.MethodPut, `{"level":"verbose"}`, adminToken); st != http.StatusBadRequest {
		t.Fatalf("PUT a bad level: %d", st)
	}
	if st, v := call(http.MethodPut, `{"level":"debug"}`, adminToken); st != http.StatusOK || v["level"] != "debug" {
		t.Fatalf("PUT: %d %v", st, v)
	}
	if !log.Enabled(ctx, slog.LevelDebug) {
		t.Fatal("debug still off after the change")
	}
	if st, v := call(http.MethodGet, "", adminToken); st != http.StatusOK || v["level"] != "debug" {
		t.Fatalf("GET after: %d %v", st, v)
	}
	rows, err := e.store.AuditEvents(ctx, store.AuditFilter{Event: "admin.log_level"})
	if err != nil || len(rows) != 1 || !strings.Contains(rows[0].Detail, "info -> debug") {
		t.Fatalf("audit: %v %+v", err, rows)
	}
}
