package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/saml"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
	"github.com/ssobridge/ssobridge/internal/rsasign"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

// TestRSASignerModes: keys.rsa_signer "go" never opens libcrypto; "auto" uses it when it opens
// and signs with crypto/rsa, saying why, when it does not; "openssl" refuses to start without it,
// naming the setting. The log line says which signs.
func TestRSASignerModes(t *testing.T) {
	missing := func() (*rsasign.Library, error) {
		return nil, fmt.Errorf("%w: libcrypto.so.3 not found", rsasign.ErrUnavailable)
	}
	lib, openErr := rsasign.Open()
	if openErr != nil && os.Getenv("CI") == "true" && rsasign.CanOpen {
		t.Fatalf("CI must have libcrypto 3: %v", openErr)
	}
	present := func() (*rsasign.Library, error) { return lib, openErr }
	cases := []struct {
		mode    string
		open    func() (*rsasign.Library, error)
		wantLib bool
		wantErr string
		wantLog string
	}{
		{"go", func() (*rsasign.Library, error) { t.Fatal("go opened libcrypto"); return nil, nil }, false, "", "crypto/rsa"},
		{"auto", missing, false, "", "libcrypto.so.3 not found"},
		{"", missing, false, "", "crypto/rsa"},
		{"openssl", missing, false, "keys.rsa_signer: openssl", ""},
		{"auto", present, true, "", ""},
		{"openssl", present, true, "", ""},
	}
	for _, c := range cases {
		t.Run(c.mode+"/"+fmt.Sprint(c.wantLib), func(t *testing.T) {
			if c.wantLib && openErr != nil {
				t.Skip(openErr)
			}
			var logs bytes.Buffer
			got, err := openRSASignerWith(context.Background(), c.mode, slog.New(slog.NewTextHandler(&logs, nil)), c.open)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.Is(err, rsasign.ErrUnavailable) {
					t.Fatalf("err = %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (got != nil) != c.wantLib {
				t.Fatalf("library %v, want %v", got != nil, c.wantLib)
			}
			if !strings.Contains(logs.String(), c.wantLog) || (c.wantLog == "" && logs.Len() > 0) {
				t.Fatalf("log %q, want %q", logs.String(), c.wantLog)
			}
		})
	}
}

// TestRSASignerLogged: once the keys have tried libcrypto, the log says what signs.
func TestRSASignerLogged(t *testing.T) {
	lib, err := rsasign.Open()
	if err != nil {
		if os.Getenv("CI") == "true" && rsasign.CanOpen {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	keys, err := sso.NewKeyManager(context.Background(), memstore.New(), sso.KeyConfig{EncryptionKey: make([]byte, 32),
		OpenSSL: lib, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logRSASigner(context.Background(), "", lib, keys, slog.New(slog.NewTextHandler(&logs, nil)))
	if !strings.Contains(logs.String(), "RS256 signs through OpenSSL") || !strings.Contains(logs.String(), "libcrypto=3.") {
		t.Fatalf("log %q", logs.String())
	}
}

// TestSAMLSignerLogged (review s26 R1-2): start-up says what signs SAML too: OpenSSL when the
// SAML key passed its self-test, else Go's crypto/rsa and why.
func TestSAMLSignerLogged(t *testing.T) {
	lib, err := rsasign.Open()
	if err != nil {
		if os.Getenv("CI") == "true" && rsasign.CanOpen {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []struct {
		mode string
		lib  *rsasign.Library
		want string
	}{
		{"openssl", lib, `msg="SAML signs through OpenSSL" keys.rsa_signer=openssl libcrypto=3.`},
		{"go", nil, `msg="SAML signs with Go's crypto/rsa" keys.rsa_signer=go reason=`},
	} {
		ring, err := saml.NewKeyRingWithOpenSSL(t.Context(), st, make([]byte, 32), config.SAMLConfig{}, "sso.example.org",
			slog.New(slog.DiscardHandler), nil, c.lib, c.mode == "openssl")
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		logSAMLSigner(t.Context(), c.mode, c.lib, ring, slog.New(slog.NewTextHandler(&logs, nil)))
		if !strings.Contains(logs.String(), c.want) {
			t.Errorf("%s: log %q, want %q", c.mode, logs.String(), c.want)
		}
	}
}
