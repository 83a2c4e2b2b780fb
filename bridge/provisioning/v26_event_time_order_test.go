package provisioning_test

import (
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/wire"
)

// Review s26 V-7: an event's Timestamp is the wall clock of the replica that wrote it, and the
// project's own receiver orders by it: consumer.updateUser ignores, answering 204 (the event
// then counts as delivered), a push older than the state it holds (pushed_at). The outbox
// delivers a member's events in the order they were written (seq), but their timestamps need
// not follow it: the clock stepped back (an NTP correction) between two writes, or two writes
// of one member on two replicas whose clocks differ by more than the time between them (a
// sign-in's Provision on one, the poll that disables the member on the other). The later event,
// a deactivation here, carries the earlier time, and the consumer drops it: the member stays
// active at the app, the bridge's outbox says delivered. A key's events must carry
// non-decreasing times (or the receiver a per-key sequence to order by).
func TestV26LaterEventNeverCarriesAnEarlierTime(t *testing.T) {
	f := newFixture(t, map[string]provisioning.Target{"portal": {Settings: &webhook.Config{URL: "https://portal.example.org/hook", Secret: webhookSecret}}},
		clients{"portal": {ID: "portal"}})
	ctx := t.Context()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	f.opts.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	f.start()
	if err := f.svc.Provision(ctx, "portal", aliceSub, nil); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(-2 * time.Second)) // the clock is stepped back two seconds
	f.dir.Update("alice", func(m *legacy.Member) { m.Standing.Disabled = true })
	m, err := f.dir.MemberByLogin(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Sync(ctx, m); err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.OutboxEvents(ctx, store.OutboxFilter{State: store.OutboxPending, ClientID: "portal", Subject: aliceSub, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var times []time.Time
	var types []string
	for _, e := range evs {
		var ev wire.Event
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			t.Fatal(err)
		}
		times, types = append(times, ev.Timestamp), append(types, ev.Type)
	}
	if len(evs) != 2 || types[1] != wire.TypeDeactivated {
		t.Fatalf("queued %v; want user.created then user.deactivated (set-up)", types)
	}
	if times[1].Before(times[0]) {
		t.Fatalf("%s at %s after %s at %s: the consumer ignores the deactivation as older than the state it holds",
			types[1], times[1].Format(time.RFC3339Nano), types[0], times[0].Format(time.RFC3339Nano))
	}
}
