package main

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/internal/rsasign"
	"github.com/ssobridge/ssobridge/sso"
)

// cliChild, set in a child's environment, makes the test binary run the ssobridge command (main,
// with its arguments and exit status) instead of the tests.
const cliChild = "SSOBRIDGE_TEST_CLI_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(cliChild) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// refusingOpenSSL is an OpenSSL configuration (OPENSSL_CONF) that loads only the base provider:
// libcrypto then has no RSA implementation, and its self-test refuses every key, as a host whose
// OpenSSL is set up differently from the servers' (a FIPS-only provider set, say) would.
const refusingOpenSSL = `openssl_conf = openssl_init
[openssl_init]
providers = provider_sect
[provider_sect]
base = base_sect
[base_sect]
activate = 1
`

// TestKeysRetireSelfTestsSuccessorUnderOpenSSL (review s27 R4-8): under keys.rsa_signer: openssl
// the CLI's `keys retire [--saml]` self-tests the successor it makes with this host's libcrypto,
// as a server's withdrawal does: when libcrypto refuses it (OPENSSL_CONF with no RSA provider)
// or cannot be opened (a libcrypto.so.3 without its functions first on the library path),
// nothing is withdrawn, the command exits 1 with the API's 409 message and the way out, and no
// withdrawal is audited. With a libcrypto that signs, or under auto (crypto/rsa signs the
// successor where libcrypto refuses it), the key is withdrawn. Before, the CLI opened no
// libcrypto under openssl and withdrew the key with a successor no one had tested, which the
// servers then refused to sign with. The command runs as a process (this test binary as
// ssobridge), since libcrypto reads OPENSSL_CONF once per process.
func TestKeysRetireSelfTestsSuccessorUnderOpenSSL(t *testing.T) {
	if _, err := rsasign.Open(); err != nil {
		if os.Getenv("CI") == "true" && rsasign.CanOpen {
			t.Fatalf("CI must sign through OpenSSL: %v", err)
		}
		t.Skip(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	conf := filepath.Join(tmp, "refusing.cnf")
	if err := os.WriteFile(conf, []byte(refusingOpenSSL), 0o600); err != nil {
		t.Fatal(err)
	}
	// A libcrypto.so.3 with none of the functions rsasign needs: rsasign.Open fails.
	noLib := filepath.Join(tmp, "nolib")
	if err := os.Mkdir(noLib, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(noLib, "empty.c"), []byte("int ssob_test_empty;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if out, err := exec.Command(cc, "-shared", "-fPIC", "-o", filepath.Join(noLib, "libcrypto.so.3"), filepath.Join(noLib, "empty.c")).CombinedOutput(); err != nil {
		t.Fatalf("building an empty libcrypto.so.3: %v\n%s", err, out)
	}
	const (
		good   = ""
		refuse = "refuses"
		absent = "absent"
	)
	for _, tc := range []struct {
		signer, openssl string
		saml            bool
		withdrawn       bool
	}{
		{"openssl", refuse, false, false},
		{"openssl", refuse, true, false},
		{"openssl", absent, false, false},
		{"openssl", absent, true, false},
		{"openssl", good, false, true},
		{"openssl", good, true, true},
		{"auto", refuse, false, true},
		{"auto", refuse, true, true},
	} {
		name := tc.signer + ", OpenSSL " + map[string]string{good: "signs", refuse: "refuses", absent: "absent"}[tc.openssl]
		if tc.saml {
			name += ", SAML"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "c.yaml")
			if err := os.WriteFile(cfg, []byte("keys: {rsa_signer: "+tc.signer+"}\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			flags := []string{"--config", cfg, "--data-dir", filepath.Join(dir, "data")}
			st, suspect := serverKeys(t, flags, tc.saml)
			args := append([]string{"keys", "retire"}, flags...)
			list := append([]string{"keys", "list"}, flags...)
			event := "admin.signing_key_retired"
			if tc.saml {
				args = append(args, "--saml")
				list = append(list, "--saml")
				event = "admin.saml_signing_key_retired"
			}
			cmd := exec.Command(exe, append(args, suspect)...)
			cmd.Env = []string{cliChild + "=1"}
			for _, e := range os.Environ() {
				if !strings.HasPrefix(e, "OPENSSL_CONF=") && !strings.HasPrefix(e, "LD_LIBRARY_PATH=") {
					cmd.Env = append(cmd.Env, e)
				}
			}
			switch tc.openssl {
			case refuse:
				cmd.Env = append(cmd.Env, "OPENSSL_CONF="+conf)
			case absent:
				cmd.Env = append(cmd.Env, "LD_LIBRARY_PATH="+noLib)
			}
			out, err := cmd.CombinedOutput()
			after, lerr := run(t, list...)
			if lerr != nil {
				t.Fatal(lerr)
			}
			events, aerr := st.AuditEvents(context.Background(), store.AuditFilter{Event: event, Since: time.Now().Add(-time.Hour)})
			if aerr != nil {
				t.Fatal(aerr)
			}
			if tc.withdrawn {
				if err != nil || !strings.Contains(string(out), "withdrawn: ") || strings.Contains(after, suspect) || len(events) != 1 {
					t.Fatalf("keys retire: %v\n%s\nkeys list after it:\n%s\n%d withdrawals audited", err, out, after, len(events))
				}
				return
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("keys retire: %v, want exit status 1\n%s", err, out)
			}
			for _, want := range []string{"nothing was withdrawn", sso.ErrSuccessorRefused.Error(), "set keys.rsa_signer: auto"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("keys retire says:\n%s\nwant %q in it", out, want)
				}
			}
			if tc.openssl == absent && !strings.Contains(string(out), sso.ErrNoOpenSSL.Error()) {
				t.Errorf("keys retire says:\n%s\nwant why: %q", out, sso.ErrNoOpenSSL)
			}
			// And why libcrypto could not be opened (review s28 R8-10).
			if tc.openssl == absent && !strings.Contains(string(out), "libcrypto is not available: OpenSSL_version_num not found") {
				t.Errorf("keys retire says:\n%s\nwant the reason libcrypto could not be opened", out)
			}
			if !strings.Contains(after, suspect) || !strings.Contains(after, "signing now") || strings.Count(strings.TrimSpace(after), "\n") != 1 {
				t.Errorf("keys list after the refused withdrawal:\n%s\nwant %s alone, signing", after, suspect)
			}
			if len(events) != 0 {
				t.Errorf("a refused withdrawal was audited: %+v", events)
			}
		})
	}
}

// serverKeys makes the keys a server on the store of the configuration flags would (the CLI
// creates the store and the key-encryption key; the server, here a key manager or ring with no
// OpenSSL on it, the first key) and returns the store and the id of the key that signs: the
// SAML key's when samlKey.
func serverKeys(t *testing.T, flags []string, samlKey bool) (*sqlite.Store, string) {
	t.Helper()
	if out, err := run(t, append([]string{"keys", "list"}, flags...)...); err != nil {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	data := flags[len(flags)-1]
	raw, err := os.ReadFile(filepath.Join(data, "signing-key-encryption.key"))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(data, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if samlKey {
		ring, err := saml.NewKeyRing(ctx, st, kek, config.SAMLConfig{}, "sso.example.org", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		list, err := ring.Keys(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("the server's SAML keys: %+v, %v", list, err)
		}
		return st, list[0].ID
	}
	m, err := sso.NewKeyManager(ctx, st, sso.KeyConfig{EncryptionKey: kek})
	if err != nil {
		t.Fatal(err)
	}
	k, err := m.SigningKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	return st, k.ID()
}
