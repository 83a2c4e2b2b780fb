package bridge

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

type clientsDown struct {
	*memstore.Store
	down atomic.Bool
}

func (s *clientsDown) ClientsVersion(ctx context.Context) (int64, error) {
	if s.down.Load() {
		return 0, errors.New("database is locked")
	}
	return s.Store.ClientsVersion(ctx)
}

// TestDefaultClientStoreFailure: when the store cannot say whether ams.default_client's client
// exists, start-up stops with the store's error, not with "no client has the id" (which would
// send the operator to fix a correct id; review s14 RV3-4).
func TestDefaultClientStoreFailure(t *testing.T) {
	ctx := t.Context()
	st := &clientsDown{Store: memstore.New()}
	reg, err := sso.NewRegistry(ctx, st, nil, time.Nanosecond)
	if err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	err = checkDefaultClient(ctx, reg, "portal", "https://sso.example.org", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || strings.Contains(err.Error(), "no client has the id") || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("checkDefaultClient with the store down: %v, want the store's error", err)
	}
	st.down.Store(false)
	err = checkDefaultClient(ctx, reg, "portal", "https://sso.example.org", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), `no client has the id "portal"`) {
		t.Fatalf("checkDefaultClient of an unknown client: %v", err)
	}
}
