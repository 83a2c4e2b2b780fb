package outbox_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/bridge/store/sqlite"
)

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		code            int
		ok, isPermanent bool
	}{
		{200, true, false}, {204, true, false},
		{302, false, true}, {400, false, true}, {401, false, true}, {404, false, true},
		{408, false, false}, {409, false, false}, {425, false, false}, {429, false, false},
		{500, false, false}, {503, false, false},
	} {
		err := outbox.Status("x", &http.Response{StatusCode: tc.code}, []byte(" detail "))
		if (err == nil) != tc.ok || (err != nil && outbox.IsPermanent(err) != tc.isPermanent) {
			t.Errorf("Status(%d) = %v (permanent %v), want ok %v permanent %v", tc.code, err, outbox.IsPermanent(err), tc.ok, tc.isPermanent)
		}
	}
	if outbox.IsPermanent(errors.New("plain")) || outbox.IsPermanent(outbox.Retry("busy")) || !outbox.IsPermanent(outbox.Permanent("gone")) {
		t.Error("IsPermanent misclassifies")
	}
}

// TestRouting: an event goes to its channel's deliverer, else to its client's target of the
// event's kind; a client without a target, or whose target is of another kind now, is a
// dead letter at once.
func TestRouting(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "ssobridge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex // DeliverDue delivers a batch's events concurrently (Options.Workers)
	got := map[string]string{}
	rec := func(name string) outbox.Deliverer {
		return outbox.DeliverFunc(func(_ context.Context, e *store.OutboxEvent) error {
			mu.Lock()
			defer mu.Unlock()
			got[e.ID] = name
			return nil
		})
	}
	q := outbox.New(outbox.Options{Config: outbox.Defaults(), Store: st,
		Channels: map[string]outbox.Deliverer{"logout": rec("logout")},
		Targets:  map[string]outbox.Route{"portal": {Kind: "scim", Deliverer: rec("portal-scim")}}})
	evs := []*store.OutboxEvent{
		{ID: "e1", Channel: "logout", ClientID: "portal", Subject: "s"},
		{ID: "e2", Channel: "scim", ClientID: "portal", Subject: "s"},
		{ID: "e3", Channel: "webhook", ClientID: "portal", Subject: "s"},
		{ID: "e4", Channel: "scim", ClientID: "gone", Subject: "s"},
	}
	for _, e := range evs {
		e.Key, e.Type, e.Payload = outbox.Key(e.Channel, e.ClientID, e.Subject), "t", []byte("{}")
	}
	if err := st.Enqueue(ctx, evs...); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := q.DeliverDue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if got["e1"] != "logout" || got["e2"] != "portal-scim" || len(got) != 2 {
		t.Errorf("delivered %v", got)
	}
	dead, err := st.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxDead})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 || dead[0].Attempts != 1 || dead[1].Attempts != 1 {
		t.Fatalf("dead letters %+v, want e3 and e4 after one attempt", dead)
	}
}
