package config

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEnvValuesTakenLiterally: a ${VAR} reference stands for the variable's value exactly, as
// a string, whatever characters it holds: a secret from a secret store may hold " #" (YAML
// would start a comment there and cut the secret short), ": ", a leading "!", "*", "&", "[" or
// "{", a backslash (an escape inside double quotes), a trailing space or a newline (which would
// add keys of its own to the configuration).
func TestEnvValuesTakenLiterally(t *testing.T) {
	for _, v := range []string{
		"s3cret #with-a-hash-0123456789abcdef",
		"pass: word-0123456789abcdef0123456789",
		"!starts-with-a-bang-0123456789abcdef",
		"*starts-with-a-star-0123456789abcdef",
		"[starts-with-a-bracket-0123456789abc",
		`back\slash\n-and-quote"-0123456789abcdef`,
		"trailing-space-0123456789abcdef0123 ",
		"first-line-0123456789abcdef0123456789\nplayground: false",
	} {
		t.Run("", func(t *testing.T) {
			t.Setenv("SSOB_TEST_LITERAL", v)
			dir := t.TempDir()
			p := filepath.Join(dir, "c.yaml")
			body := "issuer: https://sso.example.org\n" +
				"organisation:\n  name: \"${SSOB_TEST_LITERAL}\"\n  support_url: https://help.example.org/${SSOB_TEST_LITERAL}\n" +
				"clients:\n  - id: app\n    secret: ${SSOB_TEST_LITERAL}\n    redirect_uris: [https://app.example.org/cb]\n"
			if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := Load(p)
			if err != nil {
				t.Fatalf("value %q: %v", v, err)
			}
			if got := cfg.Clients[0].Secret; got != v {
				t.Errorf("unquoted: secret %q, want %q", got, v)
			}
			if got := cfg.Organisation.Name; got != v {
				t.Errorf("double-quoted: name %q, want %q", got, v)
			}
			if got, want := cfg.Organisation.SupportURL, "https://help.example.org/"+v; got != want {
				t.Errorf("inside a value: support_url %q, want %q", got, want)
			}
			if cfg.Playground != nil {
				t.Errorf("the value %q set playground", v)
			}
		})
	}
}

// TestEnvValuesTyped: an unquoted reference is typed by its value (a number, a duration, a
// boolean), as before; a reference in a comment is not looked up.
func TestEnvValuesTyped(t *testing.T) {
	t.Setenv("SSOB_TEST_N", "7")
	t.Setenv("SSOB_TEST_D", "90m")
	t.Setenv("SSOB_TEST_B", "false")
	p := filepath.Join(t.TempDir(), "c.yaml")
	body := "throttle:\n  per_login: ${SSOB_TEST_N}\n  window: ${SSOB_TEST_D}\nplayground: ${SSOB_TEST_B} # not ${SSOB_TEST_UNSET_IN_COMMENT}\n"
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Throttle.PerLogin != 7 || cfg.Throttle.Window.String() != "1h30m0s" || cfg.PlaygroundEnabled() {
		t.Errorf("per_login %d, window %v, playground %v", cfg.Throttle.PerLogin, cfg.Throttle.Window, cfg.PlaygroundEnabled())
	}
}
