package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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
	// The second-factor policy: set at add, changed by update, kept by an update that does not
	// name it; a value other than optional or required is refused with the field named.
	if _, err := run(t, "clients", "add", dd, "--id", "finance", "--redirect-uri", "https://finance.example.org/cb", "--mfa", "required"); err != nil {
		t.Fatal(err)
	}
	if out, err = run(t, "clients", "show", dd, "finance"); err != nil || !strings.Contains(out, `"mfa": "required"`) {
		t.Fatalf("show after add --mfa required: %v\n%s", err, out)
	}
	if out, err = run(t, "clients", "update", dd, "finance", "--name", "Finance"); err != nil || !strings.Contains(out, `"mfa": "required"`) ||
		!strings.Contains(out, `"name": "Finance"`) || !strings.Contains(out, "https://finance.example.org/cb") {
		t.Fatalf("update without --mfa: %v\n%s", err, out)
	}
	if out, err = run(t, "clients", "update", dd, "finance", "--mfa", "optional"); err != nil || !strings.Contains(out, `"mfa": "optional"`) {
		t.Fatalf("update --mfa optional: %v\n%s", err, out)
	}
	if _, err := run(t, "clients", "update", dd, "finance", "--mfa", "always"); err == nil || !strings.Contains(err.Error(), "clients[finance].mfa") {
		t.Fatalf("update --mfa always: %v", err)
	}
	if _, err := run(t, "clients", "update", dd, "playground", "--mfa", "required"); err == nil {
		t.Fatal("updated a config-file client")
	}
	if out, err = run(t, "clients", "list", dd); err != nil || !strings.Contains(out, "MFA") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	out, err = run(t, "clients", "rotate-secret", dd, "portal")
	if err != nil || strings.Contains(out, secret) || !strings.Contains(out, "client_secret: ") {
		t.Fatalf("rotate: %v\n%s", err, out)
	}
	if _, err := run(t, "clients", "rotate-secret", dd, "app"); err == nil {
		t.Fatal("rotated a public client's secret")
	}
	// It says what went with the client, as the store counted it (brief M1 item 2, s18).
	if out, err := run(t, "clients", "remove", dd, "portal"); err != nil ||
		!strings.Contains(out, "removed client portal: 0 grants revoked; deleted: 0 consents, 0 undelivered events, 0 session participations, 0 provisioned users") {
		t.Fatalf("remove: %v\n%s", err, out)
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
	// Roles per source, standing and how it was decided, and the two clocks.
	for _, want := range []string{"user_roles:          (none)", "groups:              Board of Directors",
		"member_type_groups:  Regular Member", "member_type:         REG", "member_group:        Member",
		"security_groups:     (none)", "everyone:            (source off)", "staff:               no",
		"membership:     current (is_current true): member type REG is a member record; paid through",
		"UTC now:", "iMIS app time:", "UTC-06:00, from SystemConfig"} {
		if !strings.Contains(out, want) {
			t.Errorf("check alice lacks %q:\n%s", want, out)
		}
	}
	out, err = run(t, "legacy", "check", dd, "--login", "sam")
	if err != nil || !strings.Contains(out, "membership:     grace (is_current true): paid through") {
		t.Fatalf("check sam: %v\n%s", err, out)
	}
	// The association's standing_rule decides, as in the tokens.
	conf := filepath.Join(t.TempDir(), "ssobridge.yaml")
	if err := os.WriteFile(conf, []byte("legacy:\n  standing_rule: 'member.member_type == \"NM\"'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "legacy", "check", dd, "--config", conf, "--login", "clara")
	if err != nil || !strings.Contains(out, "membership:     current (is_current true): standing_rule says current (built-in rule: not_member") {
		t.Fatalf("check clara with a standing rule: %v\n%s", err, out)
	}
	out, err = run(t, "legacy", "check", dd, "--login", "staff")
	if err != nil || !strings.Contains(out, "staff:               yes") || !strings.Contains(out, "user_roles:          Content Administrator, RemoteService, SysAdmin") {
		t.Fatalf("check staff: %v\n%s", err, out)
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

// TestClientsCLISigningAlgNeedsAKey: `clients add` and `clients update` refuse an
// id_token_signing_alg the configuration keeps no signing key for (keys.algorithms), naming
// the field, as start-up does for the configuration file's clients; one it keeps is accepted.
func TestClientsCLISigningAlgNeedsAKey(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	conf := filepath.Join(dir, "ssobridge.yaml")
	if err := os.WriteFile(conf, []byte("keys:\n  algorithms: [RS256, ES256]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := run(t, "clients", "add", dd, "--config", conf, "--id", "ed", "--redirect-uri", "https://ed.example.org/cb", "--alg", "EdDSA")
	if err == nil || !strings.Contains(err.Error(), "clients[ed].id_token_signing_alg") || !strings.Contains(err.Error(), "keys.algorithms") {
		t.Fatalf("add --alg EdDSA without an EdDSA key: %v", err)
	}
	if _, err := run(t, "clients", "show", dd, "--config", conf, "ed"); err == nil {
		t.Fatal("the refused client was stored")
	}
	if _, err := run(t, "clients", "add", dd, "--config", conf, "--id", "ec", "--redirect-uri", "https://ec.example.org/cb", "--alg", "ES256"); err != nil {
		t.Fatalf("add --alg ES256 with an ES256 key: %v", err)
	}
	_, err = run(t, "clients", "update", dd, "--config", conf, "ec", "--alg", "EdDSA")
	if err == nil || !strings.Contains(err.Error(), "clients[ec].id_token_signing_alg") {
		t.Fatalf("update --alg EdDSA without an EdDSA key: %v", err)
	}
	if out, err := run(t, "clients", "show", dd, "--config", conf, "ec"); err != nil || !strings.Contains(out, `"id_token_signing_alg": "ES256"`) {
		t.Fatalf("after the refused update: %v\n%s", err, out)
	}
}
