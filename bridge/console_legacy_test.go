package bridge_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
	"github.com/ssobridge/ssobridge/bridge/config"
)

// TestLegacyCheckUsesStandingRule: the console's legacy check (the running server's connector)
// shows the membership standing as the tokens carry it, the association's standing_rule, as
// `ssobridge legacy check` does.
func TestLegacyCheckUsesStandingRule(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ssobridge.yaml")
	yaml := "data_dir: " + filepath.Join(dir, "data") + "\nlegacy:\n  standing_rule: 'member.member_type == \"NM\"'\n"
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(conf)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keys.EncryptionKey = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	chk, err := cfg.Check(log)
	if err != nil {
		t.Fatal(err)
	}
	app, err := bridge.Open(context.Background(), chk, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	var out strings.Builder
	if err := app.Server.Admin().CheckLogin(context.Background(), "test", "clara", &out); err != nil {
		t.Fatalf("check clara: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "membership:     current (is_current true): standing_rule says current") {
		t.Fatalf("the check does not show the standing rule's decision:\n%s", out.String())
	}
}
