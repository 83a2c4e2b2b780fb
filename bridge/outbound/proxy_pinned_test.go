package outbound_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbound"
)

// TestProxyToldTheCheckedAddress (review s12 W8): with outbound.proxy set, an https target's
// name is resolved and checked here, and the proxy is asked for a tunnel to that address, not
// to the name: a name whose DNS answers a public address to the bridge and an internal one to
// the proxy a moment later (DNS rebinding, TTL 0) cannot lead the proxy inside. The TLS session
// through the tunnel still names the host (its certificate is checked for it), and a proxy that
// asks for credentials gets them.
func TestProxyToldTheCheckedAddress(t *testing.T) {
	app := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.Host)
	}))
	defer app.Close()
	var mu sync.Mutex
	var connects, auths []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		connects = append(connects, r.Method+" "+r.Host)
		auths = append(auths, r.Header.Get("Proxy-Authorization"))
		mu.Unlock()
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasPrefix(r.Host, "[") {
			http.Error(w, "no IPv6 route", http.StatusBadGateway)
			return
		}
		// Every tunnel leads to the test app, whatever address was asked for.
		up, err := net.Dial("tcp", app.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			up.Close()
			return
		}
		go func() { _, _ = io.Copy(up, brw); up.Close() }()
		_, _ = io.Copy(conn, up)
		conn.Close()
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("bridge", "s3cret")
	pool := x509.NewCertPool()
	pool.AddCert(app.Certificate())
	resolve := func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "app.example.com":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		case "dual.example.com": // its IPv6 address first, which this proxy cannot reach
			return []netip.Addr{netip.MustParseAddr("2606:4700::1111"), netip.MustParseAddr("93.184.215.14")}, nil
		case "inside.example.com":
			return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, errors.New("no such host")
	}
	for _, tc := range []struct {
		byName bool
		want   string
	}{
		{false, "CONNECT 93.184.215.14:443"},
		{true, "CONNECT app.example.com:443"}, // outbound.proxy_connect: name
	} {
		t.Run(tc.want, func(t *testing.T) {
			mu.Lock()
			connects, auths = nil, nil
			mu.Unlock()
			c := outbound.New(outbound.Options{Proxy: pu, Resolve: resolve, TLS: &tls.Config{RootCAs: pool}, ProxyByName: tc.byName})
			resp, err := c.Get("https://app.example.com/hook")
			if err != nil {
				t.Fatalf("https through the proxy: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "hello app.example.com" {
				t.Errorf("the app answered %q", body)
			}
			mu.Lock()
			if len(connects) != 1 || connects[0] != tc.want {
				t.Errorf("the proxy was asked %q, want %s", connects, tc.want)
			}
			if len(auths) != 1 || auths[0] != "Basic YnJpZGdlOnMzY3JldA==" {
				t.Errorf("Proxy-Authorization %q", auths)
			}
			connects = nil
			mu.Unlock()
			_, err = c.Get("https://inside.example.com/hook")
			if re := (*outbound.RefusedError)(nil); !errors.As(err, &re) {
				t.Errorf("an https target resolving inside: %v, want a RefusedError", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(connects) != 0 {
				t.Errorf("a refused target reached the proxy: %q", connects)
			}
		})
	}
	// A dual-stack app whose first address the proxy cannot reach is reached at the next, as
	// the direct dialer tries every address.
	mu.Lock()
	connects = nil
	mu.Unlock()
	c := outbound.New(outbound.Options{Proxy: pu, Resolve: resolve, TLS: &tls.Config{RootCAs: pool}})
	resp, err := c.Get("https://dual.example.com/hook")
	if err != nil {
		t.Fatalf("a dual-stack app through the proxy: %v", err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"CONNECT [2606:4700::1111]:443", "CONNECT 93.184.215.14:443"}; !slices.Equal(connects, want) {
		t.Errorf("the proxy was asked %q, want %q", connects, want)
	}
}
