package demo_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/demo"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
)

func openConnector(t *testing.T) legacy.Connector {
	t.Helper()
	conn, err := demo.Config{}.Open(context.Background(), legacy.OpenOptions{Logger: slog.New(slog.DiscardHandler),
		Issuer: "https://sso.example.org", HandoffURL: "https://sso.example.org/handoff/imis", SiteName: "Demo"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// The directory of the demo connector, as the bridge opens it (legacy.type demo, cache in
// front), passes the directory contract.
func TestDemoConnectorConformance(t *testing.T) {
	directorytest.Run(t, func(t *testing.T) *directorytest.Target {
		tg := &directorytest.Target{Dir: openConnector(t).Directory()}
		tg.Members, tg.Refused = directorytest.DemoAccounts()
		return tg
	})
}

// Without a website configured the demo connector simulates one: it serves the website's
// pages, redeems the hand-off tokens the simulated website issues (once), and names its
// sign-out URL with the return address.
func TestDemoConnectorSimulatesTheWebsite(t *testing.T) {
	conn := openConnector(t)
	ex, ok := conn.(legacy.HandoffExchanger)
	if !ok {
		t.Fatal("no hand-off capability")
	}
	pages, ok := conn.(legacy.PageServer)
	if !ok {
		t.Fatal("no pages")
	}
	prefix, h := pages.Pages()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, prefix+"/", nil))
	if prefix != demo.SimulatorPath || rec.Code != http.StatusOK {
		t.Fatalf("pages at %q: %d", prefix, rec.Code)
	}
	site := ex.Website()
	if !strings.HasPrefix(site.SSOURL, demo.SimulatorPath+"/sso") || len(site.Origins) == 0 || site.Origins[0] != "https://sso.example.org" {
		t.Fatalf("website %+v", site)
	}
	tok, err := conn.(*demo.Simulated).Simulator().IssueRefreshToken("alice", demo.SimulatorClientID)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if login, err := ex.ExchangeHandoff(ctx, tok); err != nil || login != "alice" {
		t.Fatalf("exchange: %q %v", login, err)
	}
	if _, err := ex.ExchangeHandoff(ctx, tok); !errorsIs(err, legacy.ErrHandoffRefused) {
		t.Fatalf("second exchange: %v, want ErrHandoffRefused", err)
	}
	u, ok := conn.(legacy.LogoutURLer).LogoutURL("https://sso.example.org/logout/return?t=x")
	if !ok || !strings.Contains(u, "returnurl=https%3A%2F%2Fsso.example.org%2Flogout%2Freturn%3Ft%3Dx") {
		t.Fatalf("logout URL %q %v", u, ok)
	}
}

func errorsIs(err, target error) bool { return err != nil && errors.Is(err, target) }
