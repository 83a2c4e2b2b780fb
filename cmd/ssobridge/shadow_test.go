package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

func TestShadowCLI(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := &store.OutboxEvent{ID: "evt_dead", Key: "k", Type: "user.updated", Channel: "webhook", ClientID: "portal", Subject: "s"}
	if err := st.Enqueue(ctx, ev); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimEvents(ctx, store.Claim{Now: time.Now(), Lease: time.Minute})
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	if err := st.MarkFailed(ctx, ev.ID, claimed[0].LeaseUntil, time.Now(), "HTTP 410", true); err != nil {
		t.Fatal(err)
	}
	st.Close()

	out, err := run(t, "--data-dir", dir, "shadow", "status")
	if err != nil || !strings.Contains(out, "pending 0, delivered 0, dead 1") || !strings.Contains(out, "evt_dead") || !strings.Contains(out, "HTTP 410") {
		t.Fatalf("shadow status: %v\n%s", err, out)
	}
	if _, err := run(t, "--data-dir", dir, "shadow", "retry"); err == nil {
		t.Fatal("retry without --id or --all succeeded")
	}
	out, err = run(t, "--data-dir", dir, "shadow", "retry", "--id", "evt_dead")
	if err != nil || !strings.Contains(out, "re-queued 1 event(s)") {
		t.Fatalf("shadow retry: %v\n%s", err, out)
	}
	out, _ = run(t, "--data-dir", dir, "shadow", "status")
	if !strings.Contains(out, "pending 1, delivered 0, dead 0") {
		t.Fatalf("status after retry:\n%s", out)
	}
}
