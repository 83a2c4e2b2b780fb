package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := rootCmd()
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestClientsCLI(t *testing.T) {
	dd := "--data-dir=" + t.TempDir()
	out, err := run(t, "clients", "add", dd, "--id", "portal", "--name", "Member Portal", "--trusted",
		"--redirect-uri", "https://portal.example.org/cb")
	if err != nil || !strings.Contains(out, "client_secret: ") {
		t.Fatalf("add: %v\n%s", err, out)
	}
	secret := strings.Fields(out[strings.Index(out, "client_secret: "):])[1]
	if len(secret) < 43 {
		t.Fatalf("secret too short: %q", secret)
	}
	if _, err := run(t, "clients", "add", dd, "--id", "portal", "--redirect-uri", "https://portal.example.org/cb"); err == nil {
		t.Fatal("duplicate id accepted")
	}
	if _, err := run(t, "clients", "add", dd, "--id", "bad", "--redirect-uri", "http://evil.example.org/cb"); err == nil || !strings.Contains(err.Error(), "redirect_uris") {
		t.Fatalf("bad redirect: %v", err)
	}
	out, err = run(t, "clients", "add", dd, "--id", "app", "--public", "--redirect-uri", "org.example.app:/cb")
	if err != nil || strings.Contains(out, "client_secret") {
		t.Fatalf("public add: %v %s", err, out)
	}
	out, err = run(t, "clients", "list", dd)
	if err != nil || !strings.Contains(out, "portal") || !strings.Contains(out, "app") || !strings.Contains(out, "playground") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run(t, "clients", "show", dd, "portal")
	if err != nil || strings.Contains(out, secret) || strings.Contains(out, "sha256:") || !strings.Contains(out, `"has_secret": true`) {
		t.Fatalf("show leaks or fails: %v\n%s", err, out)
	}
	out, err = run(t, "clients", "rotate-secret", dd, "portal")
	if err != nil || strings.Contains(out, secret) || !strings.Contains(out, "client_secret: ") {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if _, err := run(t, "clients", "rotate-secret", dd, "app"); err == nil {
		t.Fatal("rotated a public client's secret")
	}
	if _, err := run(t, "clients", "remove", dd, "portal"); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "clients", "show", dd, "portal"); err == nil {
		t.Fatal("removed client still shown")
	}
	if _, err := run(t, "serve", dd, "--listen", "nonsense"); err == nil || !strings.Contains(err.Error(), "listen:") {
		t.Fatalf("invalid config must name the field: %v", err)
	}
}

func TestLegacyCheck(t *testing.T) {
	dd := "--data-dir=" + t.TempDir()
	out, err := run(t, "legacy", "check", dd, "--login", "alice")
	if err != nil || !strings.Contains(out, "alice") || strings.Contains(out, "Wcds") {
		t.Fatalf("check alice: %v\n%s", err, out)
	}
	out, err = run(t, "legacy", "check", dd, "--login", "olga")
	if err == nil || !strings.Contains(strings.ToLower(out), "locked") {
		t.Fatalf("check olga should report the lock: %v\n%s", err, out)
	}
	out, err = run(t, "legacy", "check", dd, "--login", "enzo")
	if err == nil {
		t.Fatalf("check enzo should report the unverifiable hash:\n%s", out)
	}
	if _, err := run(t, "legacy", "check", dd); err == nil {
		t.Fatal("check without --login/--token accepted")
	}
	if _, err := run(t, "legacy", "check", dd, "--token"); err == nil || !strings.Contains(err.Error(), "ams.base_url") {
		t.Fatalf("token check without AMS: %v", err)
	}
}
