package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestProvisioningPageShowsSuperseded (brief s21 G2 item 2): the provisioning page counts the
// superseded events, in all and per target.
func TestProvisioningPageShowsSuperseded(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.Admin.Records = f.st
	ctx := context.Background()
	ev := func(id string) *store.OutboxEvent {
		return &store.OutboxEvent{ID: id, Key: "webhook|portal|sub-bob", Type: "user.updated", Channel: "webhook",
			ClientID: "portal", Subject: "sub-bob", Payload: []byte(`{}`)}
	}
	old := ev("old")
	if err := f.st.Enqueue(ctx, old); err != nil {
		t.Fatal(err)
	}
	claimed, err := f.st.ClaimEvents(ctx, store.Claim{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	if err := f.st.MarkFailed(ctx, "old", claimed[0].LeaseUntil, time.Now().Add(time.Hour), "503", false); err != nil {
		t.Fatal(err)
	}
	newer := ev("newer")
	newer.Supersedes = []string{"old"}
	if err := f.st.Enqueue(ctx, newer); err != nil || len(newer.Supersedes) != 1 {
		t.Fatal(newer.Supersedes, err)
	}
	rec := f.do(http.MethodGet, "/console/provisioning", nil, f.cookie(t, f.now, f.now), "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	for _, want := range []string{`id="superseded"`, `>1</strong>`, `<td data-label="Superseded">1</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}
