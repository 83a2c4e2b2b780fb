package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneIDOneAppCLI: while serving, `clients add` refuses a SAML SP's id and `saml register` a
// client's, whether the other app is in the store (added with the CLI) or in the configuration
// file, with a message that says so (start-up used to refuse the pair only at the next start);
// `saml remove` refuses an SP that a policies[<id>] names (the next start-up would refuse the
// configuration), and removes it once the policy is gone.
func TestOneIDOneAppCLI(t *testing.T) {
	dir := t.TempDir()
	dd := "--data-dir=" + filepath.Join(dir, "data")
	conf := filepath.Join(dir, "ssobridge.yaml")
	write := func(policies string) {
		t.Helper()
		yaml := `clients:
  - id: cfgapp
    public: true
    redirect_uris: [https://cfgapp.example.org/cb]
saml:
  service_providers:
    - id: cfgsp
      entity_id: https://cfgsp.example.org/saml/metadata
      acs_urls: [https://cfgsp.example.org/saml/acs]
` + policies
		if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("policies:\n  lms: {access_rule: \"member.is_current\"}\n")
	md := func(name string) string {
		f := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(f, spMetadata(t, "https://"+name+".example.org/"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	c := "--config=" + conf
	if out, err := run(t, "saml", "register", dd, c, "--id", "lms", "--metadata-file", md("lms")); err != nil {
		t.Fatalf("register lms: %v\n%s", err, out)
	}
	if out, err := run(t, "clients", "add", dd, c, "--id", "portal", "--redirect-uri", "https://portal.example.org/cb"); err != nil {
		t.Fatalf("add portal: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"client with a registered SP's id", []string{"clients", "add", "--id", "lms", "--redirect-uri", "https://lms.example.org/cb"},
			`client id "lms" is the id of SAML service provider https://lms.example.org/saml/metadata already`},
		{"client with a configured SP's id", []string{"clients", "add", "--id", "cfgsp", "--redirect-uri", "https://cfgsp.example.org/cb"},
			`client id "cfgsp" is the id of saml.service_providers[0] (SAML service provider https://cfgsp.example.org/saml/metadata) already`},
		{"SP with an added client's id", []string{"saml", "register", "--id", "portal", "--metadata-file", md("portal")},
			`id "portal" is the id of an OpenID client already`},
		{"SP with a configured client's id", []string{"saml", "register", "--id", "cfgapp", "--metadata-file", md("cfgapp")},
			`id "cfgapp" is the id of OpenID client "cfgapp" of the configuration file already`},
	} {
		args := append(append([]string{}, tc.args[:2]...), append([]string{dd, c}, tc.args[2:]...)...)
		out, err := run(t, args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "one id names one app") {
			t.Errorf("%s: %v, want %q\n%s", tc.name, err, tc.want, out)
		}
	}
	if out, err := run(t, "clients", "show", dd, c, "lms"); err == nil {
		t.Errorf("the refused client lms was stored: %s", out)
	}
	if out, err := run(t, "saml", "list", dd, c); err != nil || strings.Contains(out, "portal") || strings.Contains(out, "cfgapp") {
		t.Errorf("the refused SPs were stored: %v\n%s", err, out)
	}

	out, err := run(t, "saml", "remove", dd, c, "lms")
	if err == nil || !strings.Contains(err.Error(), "policies[lms]") {
		t.Fatalf("remove of an SP a policy names: %v\n%s", err, out)
	}
	if out, err := run(t, "saml", "list", dd, c); err != nil || !strings.Contains(out, "lms") {
		t.Fatalf("the SP a policy names was removed: %v\n%s", err, out)
	}
	write("")
	if out, err := run(t, "saml", "remove", dd, c, "lms"); err != nil {
		t.Fatalf("remove once the policy is gone: %v\n%s", err, out)
	}
	if out, err := run(t, "clients", "add", dd, c, "--id", "lms", "--redirect-uri", "https://lms.example.org/cb"); err != nil {
		t.Fatalf("a client with the id of the removed SP: %v\n%s", err, out)
	}
}
