package bridge_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge"
)

// TestSecondServeOnSQLiteRefused (review s12 W10): SQLite is one process. A second server
// opened on the same SQLite store is refused at start-up, naming the first one's pid and the
// way to run replicas, instead of running the once-only work (key rotation, purges, the AMS
// poller, the reconcile) a second time; once the first closes, a server opens again. The CLI's
// administration does not take the lock.
func TestSecondServeOnSQLiteRefused(t *testing.T) {
	ctx := context.Background()
	cfg := bridge.Defaults()
	cfg.Issuer = "http://127.0.0.1:9"
	cfg.DataDir = t.TempDir()
	cfg.Keys.EncryptionKey = base64.StdEncoding.EncodeToString(make([]byte, 32))
	quiet := slog.New(slog.DiscardHandler)
	open := func() (*bridge.App, error) {
		chk, err := cfg.Check(quiet)
		if err != nil {
			t.Fatal(err)
		}
		return bridge.Open(ctx, chk, quiet)
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = open()
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("another ssobridge serve (pid %d)", os.Getpid())) ||
		!strings.Contains(err.Error(), "store.type: postgres") {
		t.Fatalf("a second server on the same SQLite store: %v, want it refused naming the first's pid", err)
	}
	chk, err := cfg.Check(quiet)
	if err != nil {
		t.Fatal(err)
	}
	_, closeAdmin, err := bridge.OpenAdmin(ctx, chk)
	if err != nil {
		t.Fatalf("the CLI's administration while a server runs: %v", err)
	}
	closeAdmin()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := open()
	if err != nil {
		t.Fatalf("a server after the first closed: %v", err)
	}
	again.Close()
}
