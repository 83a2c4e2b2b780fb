package provisioning_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/webhook"
	"github.com/ssobridge/ssobridge/bridge/provisioning"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestRoutesAllowInternal: a target's deliveries go through the outbound client whose dialer
// refuses internal addresses, unless the target sets allow_internal. A webhook on 127.0.0.1,
// named "localhost": the target without the switch is refused at once (a permanent failure
// naming the internal address, nothing received), the target with it delivers.
func TestRoutesAllowInternal(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	u := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)

	targets, err := decodeTargets(t, "closed:\n  webhook: {url: "+u+", secret: "+webhookSecret+"}\n"+
		"open:\n  allow_internal: true\n  webhook: {url: "+u+", secret: "+webhookSecret+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	if targets["closed"].AllowInternal || !targets["open"].AllowInternal {
		t.Fatalf("allow_internal decoded as %v and %v", targets["closed"].AllowInternal, targets["open"].AllowInternal)
	}
	if _, ok := targets["open"].Settings.(*webhook.Config); !ok {
		t.Fatalf("settings %T", targets["open"].Settings)
	}
	routes := provisioning.Routes(targets, outbox.Deps{Now: time.Now}, outbox.NewSenders(5*time.Second, outbound.Options{}))
	e := &store.OutboxEvent{ID: "evt_1", Payload: []byte(`{"type":"user.updated"}`)}

	err = routes["closed"].Deliverer.Deliver(t.Context(), e)
	if !outbox.IsPermanent(err) || !strings.Contains(err.Error(), "internal address") || hits.Load() != 0 {
		t.Fatalf("delivery to localhost without allow_internal: %v (%d received), want a permanent refusal, nothing sent", err, hits.Load())
	}
	if err := routes["open"].Deliverer.Deliver(t.Context(), e); err != nil || hits.Load() != 1 {
		t.Fatalf("delivery to localhost with allow_internal: %v (%d received)", err, hits.Load())
	}
}

// TestProxyTargetNotResolvedHere: with outbound.proxy set, the bridge resolves a target's name
// itself to check its addresses before handing the request to the proxy. A name that does not
// resolve on the bridge's host is not sent to the proxy; the delivery fails with a retried
// error (a name can be missing for a while, as without a proxy) saying why and what the bridge
// needs, so that the dead letter it becomes after the last attempt tells the operator. A target
// with allow_internal is not checked, so it goes to the proxy, which resolves the name.
func TestProxyTargetNotResolvedHere(t *testing.T) {
	var hits atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	resolve := func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("no such host") }
	targets, err := decodeTargets(t, "closed:\n  webhook: {url: http://app.example.org/hook, secret: "+webhookSecret+"}\n"+
		"open:\n  allow_internal: true\n  webhook: {url: http://app.example.org/hook, secret: "+webhookSecret+"}\n")
	if err != nil {
		t.Fatal(err)
	}
	routes := provisioning.Routes(targets, outbox.Deps{Now: time.Now},
		outbox.NewSenders(5*time.Second, outbound.Options{Proxy: pu, Resolve: resolve}))
	e := &store.OutboxEvent{ID: "evt_1", Payload: []byte(`{"type":"user.updated"}`)}
	err = routes["closed"].Deliverer.Deliver(t.Context(), e)
	if err == nil || outbox.IsPermanent(err) || hits.Load() != 0 ||
		!strings.Contains(err.Error(), "resolve app.example.org on the bridge's host") || !strings.Contains(err.Error(), "DNS must know") {
		t.Fatalf("delivery to a name the bridge cannot resolve: %v (permanent %v, %d at the proxy), want a retried error saying why, nothing sent",
			err, outbox.IsPermanent(err), hits.Load())
	}
	if err := routes["open"].Deliverer.Deliver(t.Context(), e); err != nil || hits.Load() != 1 {
		t.Fatalf("delivery with allow_internal through the proxy: %v (%d at the proxy)", err, hits.Load())
	}
}
