package saml

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/ssobridge/ssobridge/bridge/config"
	"github.com/ssobridge/ssobridge/bridge/outbound"
	"github.com/ssobridge/ssobridge/bridge/outbox"
	"github.com/ssobridge/ssobridge/bridge/store"
)

// TestSOAPSingleLogoutResolvedInternal (SSRF): an SP's SOAP single logout service on a host
// name passes the registration's check (only IP literals are known there), and the name may
// resolve to an internal address. The dialer checks the address it connects to: the name
// resolving to 127.0.0.1 (the resolver hook) is refused for an SP without
// allow_insecure_soap_slo (a permanent failure naming the internal address; nothing reaches
// the listener) and reached for an SP with it.
func TestSOAPSingleLogoutResolvedInternal(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "not a SOAP answer", http.StatusBadRequest)
	}))
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	soap := "https://soap.sp.example.org:" + su.Port() + "/soap"
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	resolve := func(ctx context.Context, host string) ([]netip.Addr, error) {
		if host == "soap.sp.example.org" {
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	senders := outbox.NewSenders(5*time.Second, outbound.Options{Resolve: resolve,
		TLS: &tls.Config{RootCAs: roots, ServerName: "example.com"}}) // the test certificate's name

	st := openStore(t)
	reg, err := NewRegistry(config.SAMLConfig{}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []config.SAMLServiceProvider{{ID: "closed"}, {ID: "open", AllowInsecureSOAPSLO: true}} {
		entity := "https://" + sp.ID + ".example.org"
		if _, err := reg.Register(t.Context(), sp, spMetadataWithSOAP(t, entity, soap), time.Now()); err != nil {
			t.Fatalf("register %s (a host name passes the registration's check): %v", sp.ID, err)
		}
	}
	ring, err := NewKeyRing(t.Context(), st, make([]byte, 32), config.SAMLConfig{}, "sso.example.org", quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &BackChannelSender{Registry: reg, Keys: ring, Issuer: "https://sso.example.org", HTTP: senders, Now: time.Now}
	deliver := func(sp string) error {
		payload, _ := json.Marshal(sloPayload{SP: "https://" + sp + ".example.org", NameID: "n", NameIDFormat: string(crewjam.PersistentNameIDFormat)})
		return d.Deliver(t.Context(), &store.OutboxEvent{ID: "e-" + sp, Payload: payload})
	}
	err = deliver("closed")
	if !outbox.IsPermanent(err) || !strings.Contains(err.Error(), "internal address") || hits.Load() != 0 {
		t.Fatalf("delivery to a name resolving to 127.0.0.1 without allow_insecure_soap_slo: %v (%d received), want a permanent refusal, nothing sent",
			err, hits.Load())
	}
	if err := deliver("open"); hits.Load() != 1 {
		t.Fatalf("delivery with allow_insecure_soap_slo: %v, %d received, want the listener reached", err, hits.Load())
	}
}
