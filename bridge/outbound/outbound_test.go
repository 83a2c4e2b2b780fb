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
	"strings"
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
		{"2606:4700::1111", false}, {"::ffff:8.8.8.8", false},
	} {
		if got := outbound.Internal(netip.MustParseAddr(tc.ip)); got != tc.internal {
			t.Errorf("Internal(%s) = %v, want %v", tc.ip, got, tc.internal)
		}
	}
	if !outbound.Internal(netip.Addr{}) {
		t.Error("the zero address is not internal (fail closed)")
	}
}

// TestInternalSpecialPurpose goes through the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (and the multicast blocks): each block's first and last address is internal, and
// the address just outside it (where that is an ordinary unicast address) is not. Then the
// blocks that carry an IPv4 address: NAT64's well-known prefix and 6to4 are internal exactly
// when the IPv4 address they carry is; IPv4-mapped forms follow the IPv4 address.
func TestInternalSpecialPurpose(t *testing.T) {
	for _, tc := range []struct {
		block, first, last string
		outside            []string // ordinary addresses just beside the block
	}{
		// IPv4 special-purpose registry.
		{"0.0.0.0/8 this network", "0.0.0.0", "0.255.255.255", []string{"1.0.0.0"}},
		{"10.0.0.0/8 private", "10.0.0.0", "10.255.255.255", []string{"9.255.255.255", "11.0.0.0"}},
		{"100.64.0.0/10 shared (CGNAT)", "100.64.0.0", "100.127.255.255", []string{"100.63.255.255", "100.128.0.0"}},
		{"127.0.0.0/8 loopback", "127.0.0.0", "127.255.255.255", []string{"126.255.255.255", "128.0.0.0"}},
		{"169.254.0.0/16 link-local", "169.254.0.0", "169.254.255.255", []string{"169.253.255.255", "169.255.0.0"}},
		{"172.16.0.0/12 private", "172.16.0.0", "172.31.255.255", []string{"172.15.255.255", "172.32.0.0"}},
		{"192.0.0.0/24 IETF protocol assignments", "192.0.0.0", "192.0.0.255", []string{"191.255.255.255", "192.0.1.0"}},
		{"192.0.0.170 NAT64 discovery", "192.0.0.170", "192.0.0.171", nil},
		{"192.0.2.0/24 TEST-NET-1", "192.0.2.0", "192.0.2.255", []string{"192.0.3.0"}},
		{"192.31.196.0/24 AS112-v4", "192.31.196.0", "192.31.196.255", []string{"192.31.195.255", "192.31.197.0"}},
		{"192.52.193.0/24 AMT", "192.52.193.0", "192.52.193.255", []string{"192.52.192.255", "192.52.194.0"}},
		{"192.88.99.0/24 6to4 relay anycast", "192.88.99.0", "192.88.99.255", []string{"192.88.98.255", "192.88.100.0"}},
		{"192.168.0.0/16 private", "192.168.0.0", "192.168.255.255", []string{"192.167.255.255", "192.169.0.0"}},
		{"192.175.48.0/24 AS112", "192.175.48.0", "192.175.48.255", []string{"192.175.47.255", "192.175.49.0"}},
		{"198.18.0.0/15 benchmarking", "198.18.0.0", "198.19.255.255", []string{"198.17.255.255", "198.20.0.0"}},
		{"198.51.100.0/24 TEST-NET-2", "198.51.100.0", "198.51.100.255", []string{"198.51.99.255", "198.51.101.0"}},
		{"203.0.113.0/24 TEST-NET-3", "203.0.113.0", "203.0.113.255", []string{"203.0.112.255", "203.0.114.0"}},
		{"224.0.0.0/4 multicast", "224.0.0.0", "239.255.255.255", []string{"223.255.255.255"}},
		{"240.0.0.0/4 reserved", "240.0.0.0", "255.255.255.254", nil},
		{"255.255.255.255 limited broadcast", "255.255.255.255", "255.255.255.255", nil},
		// IPv6 special-purpose registry.
		{"::/128 unspecified", "::", "::", nil},
		{"::1/128 loopback", "::1", "::1", nil},
		{"::/96 IPv4-compatible (deprecated)", "::2", "::ffff:ffff", nil},
		{"::ffff:0:0:0/96 IPv4-translatable", "::ffff:0:0:0", "::ffff:0:ffff:ffff", []string{"::1:0:0:0"}},
		{"64:ff9b:1::/48 local-use translation", "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", []string{"64:ff9b:2::8.8.8.8"}},
		{"100::/64 discard-only", "100::", "100::ffff:ffff:ffff:ffff", []string{"ff::"}},
		{"100:0:0:1::/64 dummy prefix", "100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff", []string{"100:0:0:2::"}},
		{"2001::/23 IETF protocol assignments", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2001:200::"}},
		{"2001::/32 Teredo", "2001::", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2 Teredo (RFC 4380 example)", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd2", nil},
		{"2001:1::1/128 PCP anycast", "2001:1::1", "2001:1::3", nil},
		{"2001:2::/48 benchmarking", "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff", nil},
		{"2001:3::/32 AMT", "2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"2001:4:112::/48 AS112-v6", "2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff", nil},
		{"2001:10::/28 ORCHID, 2001:20::/28 ORCHIDv2", "2001:10::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"2001:db8::/32 documentation", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", []string{"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"}},
		{"2620:4f:8000::/48 AS112", "2620:4f:8000::", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff", []string{"2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", "2620:4f:8001::"}},
		{"3fff::/20 documentation", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff:1000::"}},
		{"5f00::/16 SRv6 SIDs", "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f01::"}},
		{"fc00::/7 unique-local", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"}},
		{"fe80::/10 link-local", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"fec0::/10 site-local (deprecated)", "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"ff00::/8 multicast", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil},
	} {
		for _, a := range []string{tc.first, tc.last} {
			if !outbound.Internal(netip.MustParseAddr(a)) {
				t.Errorf("%s: Internal(%s) = false, want true", tc.block, a)
			}
		}
		for _, a := range tc.outside {
			if outbound.Internal(netip.MustParseAddr(a)) {
				t.Errorf("%s: Internal(%s) = true, want false (outside the block)", tc.block, a)
			}
		}
	}
	// Blocks that carry an IPv4 address: internal exactly when that address is.
	for _, tc := range []struct {
		ip       string
		internal bool
	}{
		{"64:ff9b::127.0.0.1", true}, {"64:ff9b::10.0.0.1", true}, {"64:ff9b::169.254.169.254", true},
		{"64:ff9b::100.64.0.1", true}, {"64:ff9b::192.168.1.1", true}, {"64:ff9b::0.0.0.0", true},
		{"64:ff9b::8.8.8.8", false}, {"64:ff9b::93.184.215.14", false},
		{"2002:7f00:1::", true}, {"2002:7f00:0001:1234::1", true}, {"2002:a00:1::1", true},
		{"2002:a9fe:a9fe::", true}, {"2002:c0a8:101::", true}, {"2002:6440:1::", true}, {"2002::", true},
		{"2002:808:808::1", false}, {"2002:5db8:d70e::", false},
		{"::ffff:100.64.0.1", true}, {"::ffff:198.18.0.1", true}, {"::ffff:192.0.2.1", true}, {"::ffff:240.0.0.1", true},
		{"::ffff:224.0.0.1", true}, {"::ffff:93.184.215.14", false},
	} {
		if got := outbound.Internal(netip.MustParseAddr(tc.ip)); got != tc.internal {
			t.Errorf("Internal(%s) = %v, want %v", tc.ip, got, tc.internal)
		}
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

// TestProxy: with Options.Proxy, every request goes to the proxy (on 127.0.0.1: its address is
// exempt from the check), and the target host is checked before: a public name goes through
// (plain http as an absolute-URI request, https as CONNECT to the name), an internal literal, a
// name resolving to an internal address, and a name that does not resolve here are refused
// without reaching the proxy; with AllowInternal the internal target goes through too.
func TestProxy(t *testing.T) {
	var seen []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			seen = append(seen, "CONNECT "+r.Host)
			http.Error(w, "no tunnels here", http.StatusForbidden)
			return
		}
		seen = append(seen, r.Method+" "+r.URL.String())
		fmt.Fprint(w, "proxied")
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	resolve := func(ctx context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "app.example.org":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		case "inside.example.org":
			return []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("10.1.2.3")}, nil
		}
		return nil, errors.New("no such host")
	}
	strict := outbound.New(outbound.Options{Proxy: pu, Resolve: resolve})
	resp, err := strict.Get("http://app.example.org/hook")
	if err != nil {
		t.Fatalf("public target through the proxy: %v", err)
	}
	resp.Body.Close()
	if _, err := strict.Get("https://app.example.org/hook"); err == nil {
		t.Fatal("the test proxy refuses CONNECT: want an error")
	}
	// https asks the proxy for the address checked here, not the name (review s12 W8).
	if len(seen) != 2 || seen[0] != "GET http://app.example.org/hook" || seen[1] != "CONNECT 93.184.215.14:443" {
		t.Fatalf("the proxy saw %q", seen)
	}
	seen = nil
	for _, u := range []string{"http://10.0.0.1/", "http://127.0.0.1:1/", "https://[::1]/", "http://inside.example.org/", "http://[64:ff9b::a00:1]/"} {
		_, err := strict.Get(u)
		if re := (*outbound.RefusedError)(nil); !errors.As(err, &re) {
			t.Errorf("GET %s through the proxy: %v, want a RefusedError", u, err)
		}
	}
	if _, err := strict.Get("http://unknown.example.org/"); err == nil || !strings.Contains(err.Error(), "resolve unknown.example.org") {
		t.Errorf("a target that does not resolve here: %v, want refused", err)
	}
	if len(seen) != 0 {
		t.Fatalf("refused targets reached the proxy: %q", seen)
	}
	allowed := outbound.New(outbound.Options{Proxy: pu, Resolve: resolve, AllowInternal: true})
	resp, err = allowed.Get("http://10.0.0.1/x")
	if err != nil {
		t.Fatalf("internal target with the switch: %v", err)
	}
	resp.Body.Close()
	if len(seen) != 1 || seen[0] != "GET http://10.0.0.1/x" {
		t.Fatalf("the proxy saw %q", seen)
	}
}
