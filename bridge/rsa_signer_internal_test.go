package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/internal/rsasign"
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
		{"auto", present, true, "", "through OpenSSL"},
		{"openssl", present, true, "", "through OpenSSL"},
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
			if !strings.Contains(logs.String(), c.wantLog) {
				t.Fatalf("log %q lacks %q", logs.String(), c.wantLog)
			}
		})
	}
}
