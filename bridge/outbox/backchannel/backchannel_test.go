package backchannel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/outbox/backchannel"
	"github.com/ssobridge/ssobridge/bridge/store"
	"github.com/ssobridge/ssobridge/sso"
	"github.com/ssobridge/ssobridge/sso/memstore"
)

type clients map[string]*sso.ClientConfig

func (c clients) Client(_ context.Context, id string) (*sso.ClientConfig, error) {
	if cl, ok := c[id]; ok {
		return cl, nil
	}
	return nil, sso.ErrNotFound
}

// TestDeliverAllowInternalTargets: a client's back-channel logout URI on 127.0.0.1, named
// "localhost", is refused when dialled for a client without allow_internal_targets (a
// permanent failure naming the internal address; nothing received) and reached for a client
// with it.
func TestDeliverAllowInternalTargets(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	uri := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/bcl"
	keys, err := sso.NewKeyManager(t.Context(), memstore.New(), sso.KeyConfig{EncryptionKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	cls := clients{
		"closed": {ID: "closed", BackchannelLogoutURI: uri, IDTokenSigningAlg: "RS256"},
		"open":   {ID: "open", BackchannelLogoutURI: uri, IDTokenSigningAlg: "RS256", AllowInternalTargets: true},
	}
	d := &backchannel.Deliverer{Clients: cls, Keys: keys, Issuer: "https://sso.example.org",
		HTTP: outbox.NewSenders(5*time.Second, outbound.Options{}), Now: time.Now}
	deliver := func(id string) error {
		return d.Deliver(t.Context(), &store.OutboxEvent{ID: "evt_" + id, Payload: []byte(`{"client_id":"` + id + `","sub":"s"}`)})
	}
	err = deliver("closed")
	if !outbox.IsPermanent(err) || !strings.Contains(err.Error(), "internal address") || hits.Load() != 0 {
		t.Fatalf("logout token to localhost without allow_internal_targets: %v (%d received), want a permanent refusal, nothing sent", err, hits.Load())
	}
	if err := deliver("open"); err != nil || hits.Load() != 1 {
		t.Fatalf("logout token to localhost with allow_internal_targets: %v (%d received)", err, hits.Load())
	}
}
