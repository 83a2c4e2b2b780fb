package outbound_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/outbound"
)

func TestInternal(t *testing.T) {
	for _, tc := range []struct {
		ip       string
		internal bool
	}{
		{"127.0.0.1", true}, {"127.1.2.3", true}, {"::1", true},
		{"10.0.0.1", true}, {"172.16.0.1", true}, {"172.31.255.255", true}, {"192.168.1.1", true},
		{"fc00::1", true}, {"fd12:3456::1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"fe80::1%eth0", true},
		{"0.0.0.0", true}, {"0.1.2.3", true}, {"::", true},
		{"224.0.0.1", true}, {"239.255.255.250", true}, {"ff02::1", true}, {"ff05::2", true}, {"255.255.255.255", true},
		{"fec0::1", true}, {"::7f00:1", true},
		{"::ffff:127.0.0.1", true}, {"::ffff:10.1.2.3", true}, {"::ffff:169.254.169.254", true}, {"::ffff:0.0.0.0", true},
		{"93.184.215.14", false}, {"8.8.8.8", false}, {"172.32.0.1", false}, {"11.0.0.1", false},
		{"2606:4700::1111", false}, {"::ffff:8.8.8.8", false}, {"100.64.0.1", false},
	} {
		if got := outbound.Internal(netip.MustParseAddr(tc.ip)); got != tc.internal {
			t.Errorf("Internal(%s) = %v, want %v", tc.ip, got, tc.internal)
		}
	}
	if !outbound.Internal(netip.Addr{}) {
		t.Error("the zero address is not internal (fail closed)")
	}
}

// appServer is an app's endpoint on 127.0.0.1 and the port it listens on.
func appServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/", http.StatusFound)
			return
		}
		fmt.Fprint(w, "reached")
	}))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return srv, u.Port()
}

// mapped is a resolver hook mapping app.example.org to 127.0.0.1 (a public-looking name an
// attacker points at the bridge's own loopback), twice.example.org to the IPv4-mapped form of
// 127.0.0.1, and the rest through the system resolver.
func mapped(ctx context.Context, host string) ([]netip.Addr, error) {
	if host == "app.example.org" {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	if host == "twice.example.org" {
		return []netip.Addr{netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// TestInternalTargetsRefusedByName: a listener on 127.0.0.1 reached by a name ("localhost"
// from the system's hosts file, a name mapped to 127.0.0.1 by the resolver hook, an
// IPv4-mapped literal) is refused by a client without the switch, with a RefusedError and
// nothing sent, and reached by one with it.
func TestInternalTargetsRefusedByName(t *testing.T) {
	_, port := appServer(t)
	urls := []string{
		"http://localhost:" + port + "/",
		"http://app.example.org:" + port + "/",
		"http://twice.example.org:" + port + "/",
		"http://127.0.0.1:" + port + "/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
	}
	strict := outbound.New(outbound.Options{Resolve: mapped})
	allowed := outbound.New(outbound.Options{Resolve: mapped, AllowInternal: true})
	for _, u := range urls {
		resp, err := strict.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s without the switch: %s, want refused", u, resp.Status)
		} else if re := (*outbound.RefusedError)(nil); !errors.As(err, &re) || !outbound.Internal(re.Addr) {
			t.Errorf("GET %s without the switch: %v, want a RefusedError", u, err)
		}
		resp, err = allowed.Get(u)
		if err != nil {
			t.Errorf("GET %s with the switch: %v", u, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s with the switch: %s", u, resp.Status)
		}
	}
	// The system resolver too (no hook): localhost is refused.
	if resp, err := outbound.New(outbound.Options{}).Get("http://localhost:" + port + "/"); err == nil {
		resp.Body.Close()
		t.Error("localhost through the system resolver reached without the switch")
	}
}

// TestRedirectsNotFollowed: a 3xx is the answer; its Location is not dialled.
func TestRedirectsNotFollowed(t *testing.T) {
	_, port := appServer(t)
	resp, err := outbound.New(outbound.Options{AllowInternal: true}).Get("http://127.0.0.1:" + port + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %s, want the 302 itself", resp.Status)
	}
}

// TestNoProxyFromEnvironment: a proxy in the environment is not used (its address would be
// the one checked, and it would reach internal hosts for the bridge).
func TestNoProxyFromEnvironment(t *testing.T) {
	proxied := false
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { proxied = true }))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("http_proxy", proxy.URL)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	resp, err := outbound.New(outbound.Options{Resolve: mapped}).Get("http://app.example.org:" + fmt.Sprint(ln.Addr().(*net.TCPAddr).Port) + "/")
	if err == nil {
		resp.Body.Close()
	}
	if proxied {
		t.Fatal("the request went through the environment's proxy")
	}
}
