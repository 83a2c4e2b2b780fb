package bridge

import (
	"bytes"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// TestEncryptionKeyOneRule (review s14 RV2-6): keys.encryption_key is decoded by one rule
// wherever it is read: serve's configuration check (config.Check), the server's set-up
// (signingKeyEncryption), and store rekey and key files (ParseKeyEncryptionKey). The same value
// is accepted by all three, as the same 32 bytes, or refused by all three. Before, the check
// refused a key with spaces around it that rekey accepted.
func TestEncryptionKeyOneRule(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b64 := base64.StdEncoding.EncodeToString(key)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name, value string
		ok          bool
	}{
		{"plain", b64, true},
		{"line end", b64 + "\n", true},
		{"spaces around", "  " + b64 + " \t", true},
		{"CRLF", b64 + "\r\n", true},
		{"line end inside", b64[:20] + "\n" + b64[20:], true}, // base64 skips line ends
		{"space inside", b64[:20] + " " + b64[20:], false},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31]), false},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(key, 1)), false},
		{"unpadded", strings.TrimRight(b64, "="), false},
		{"URL alphabet", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), false},
		{"spaces only", "   ", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Defaults()
			cfg.DataDir = t.TempDir()
			cfg.Keys.EncryptionKey = tc.value
			chk, checkErr := cfg.Check(quiet)
			setUp, setUpErr := signingKeyEncryption(cfg, quiet)
			parsed, parseErr := ParseKeyEncryptionKey([]byte(tc.value))
			if checkErr != nil && !strings.Contains(checkErr.Error(), "keys.encryption_key") {
				t.Fatalf("the configuration check refused something else: %v", checkErr)
			}
			if (checkErr == nil) != tc.ok || (setUpErr == nil) != tc.ok || (parseErr == nil) != tc.ok {
				t.Fatalf("accepted: check %v, set-up %v, rekey/key file %v; want %v", checkErr, setUpErr, parseErr, tc.ok)
			}
			if !tc.ok {
				return
			}
			if !bytes.Equal(chk.EncryptionKey, key) || !bytes.Equal(setUp, key) || !bytes.Equal(parsed, key) {
				t.Fatalf("decoded differently: check %x, set-up %x, rekey %x", chk.EncryptionKey, setUp, parsed)
			}
		})
	}
}
