package bridge_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/logging"
	"github.com/ssobridge/ssobridge/bridge/store"
	imissim "github.com/ssobridge/ssobridge/legacy/imis/sim"
)

// TestHandoffLogsNoToken (review s19 X, brief item 1 "what is logged"): the AMS refresh token
// a hand-off or a token exchange carries is a credential (redeemed at the AMS it names the
// member), and the continue link's sealed ticket signs the browser in: neither appears in the
// log (at debug level, JSON) nor in any audit row, through a hand-off that succeeds, its replay,
// a token the AMS refuses, an AMS that fails (the error path that logs its cause), and the
// RFC 8693 exchange of a token, accepted and replayed.
func TestHandoffLogsNoToken(t *testing.T) {
	var out lockedBuffer
	log := logging.New(&out, logging.FormatJSON, slog.LevelDebug)
	e := newEnvDeps(t, true, nil, envDeps{logger: log}, func(c *bridge.Config) {
		c.AMS.ExchangeClients = []string{"exchanger"}
		c.AMS.Timeout = time.Second
	})
	sim := e.amsSim
	var secrets []string
	issue := func() string {
		tok, err := sim.IssueRefreshToken("alice", "ssobridge")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, tok)
		return tok
	}
	// A hand-off that signs alice in, then the same token again (replayed).
	b := e.browser()
	tok := issue()
	noFollow := *b.Client
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/handoff/imis", strings.NewReader(url.Values{"refresh_token": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.issuer)
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("h") == "" {
		t.Fatalf("hand-off POST: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	secrets = append(secrets, loc.Query().Get("h"))
	if p := b.Get(e.issuer + loc.String()); p.Status >= 400 || b.Get(e.issuer+"/account").Status != http.StatusOK {
		t.Fatalf("hand-off: %d %.300s", p.Status, p.Body)
	}
	if p := amsPost(t, e, e.browser(), url.Values{"refresh_token": {tok}}); p.Status != 400 {
		t.Fatalf("replay: %d", p.Status)
	}
	// A token the AMS does not know, and one while the AMS fails.
	bogus := "0123456789abcdef0123456789abcdef"
	secrets = append(secrets, bogus)
	if p := amsPost(t, e, e.browser(), url.Values{"refresh_token": {bogus}}); p.Status != 400 {
		t.Fatalf("bogus token: %d", p.Status)
	}
	sim.SetFaults(imissim.Faults{Status: 500})
	if p := amsPost(t, e, e.browser(), url.Values{"refresh_token": {issue()}}); p.Status != 503 {
		t.Fatalf("AMS failing: %d", p.Status)
	}
	sim.SetFaults(imissim.Faults{})
	// The RFC 8693 exchange, accepted then replayed.
	xt := issue()
	form := map[string]string{"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": xt,
		"subject_token_type": bridge.ExchangeTokenTypeAMS, "scope": "openid"}
	if resp, body := postForm(t, tokenURL(e), form, "exchanger", webSecret); resp.StatusCode != 200 {
		t.Fatalf("exchange: %d %v", resp.StatusCode, body)
	} else {
		secrets = append(secrets, body["access_token"].(string))
	}
	if resp, _ := postForm(t, tokenURL(e), form, "exchanger", webSecret); resp.StatusCode != 400 {
		t.Fatalf("exchange replay: %d", resp.StatusCode)
	}

	text := out.String()
	if !strings.Contains(text, "hand-off failed") {
		t.Fatalf("the AMS failure was not logged: %.600s", text)
	}
	events, err := e.store.AuditEvents(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 5 {
		t.Fatalf("%d audit rows", len(events))
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the log contains a token or ticket %.12s...", s)
		}
		for _, ev := range events {
			if strings.Contains(ev.Detail+ev.Login+ev.Subject+ev.ClientID, s) {
				t.Errorf("audit row %s contains a token or ticket %.12s...", ev.Event, s)
			}
		}
	}
}
