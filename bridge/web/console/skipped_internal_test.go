package console

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestProvisioningPageShowsSkipped: the provisioning page counts the events whose deliverer found
// nothing to send (store.OutboxSkipped, session 24 O6), in all and per target, apart from the
// delivered ones.
func TestProvisioningPageShowsSkipped(t *testing.T) {
	f := newFixture(t)
	f.c.cfg.Admin.Records = f.st
	ctx := context.Background()
	ev := &store.OutboxEvent{ID: "unread", Key: "backchannel|portal|sid-1", Type: "logout", Channel: "backchannel",
		ClientID: "portal", Subject: "sub-bob", Payload: []byte(`{}`)}
	if err := f.st.Enqueue(ctx, ev); err != nil {
		t.Fatal(err)
	}
	claimed, err := f.st.ClaimEvents(ctx, store.Claim{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 1})
	if err != nil || len(claimed) != 1 {
		t.Fatal(claimed, err)
	}
	if err := f.st.MarkSkipped(ctx, "unread", claimed[0].LeaseUntil, time.Now(), "no backchannel_logout_uri"); err != nil {
		t.Fatal(err)
	}
	rec := f.do(http.MethodGet, "/console/provisioning", nil, f.cookie(t, f.now, f.now), "")
	body := rec.Body.String()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, body)
	}
	for _, want := range []string{`delivered <strong>0</strong>`, `id="skipped" title="Events whose app had nothing to receive (a logout for an app with no logout URI, or gone): done, nothing sent">1</strong>`, `<td data-label="Skipped">1</td>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}
