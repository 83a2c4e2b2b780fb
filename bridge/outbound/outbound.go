package outbound

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Options build a client.
type Options struct {
	// AllowInternal lets the client reach internal addresses: for an app whose operator set
	// its allow-internal switch (a client's allow_internal_targets, an SP's
	// allow_insecure_soap_slo, a provisioning target's allow_internal).
	AllowInternal bool
	// Resolve, when set, resolves host names instead of the system resolver (tests map names
	// to addresses here). Every address it returns is still checked when dialled.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// TLS is the client's TLS configuration (nil: the defaults).
	TLS *tls.Config
	// DialTimeout bounds a connection's set-up (0: 10 seconds).
	DialTimeout time.Duration
	// Proxy, when set, is the operator's outbound HTTP proxy (outbound.proxy): every request goes
	// through it (CONNECT for https), and the dialer connects to its address only, which is
	// exempt from the internal-address check (a proxy is usually on the internal network). The
	// target's host is checked instead, before the request is sent: an IP literal, or every
	// address the host name resolves to here (a name that does not resolve here is refused:
	// fail closed), unless AllowInternal. For https the proxy is then asked for the address
	// checked, not for the name (CONNECT 192.0.2.7:443, TLS naming the host), so that a name
	// resolving to another address at the proxy a moment later (DNS rebinding) cannot lead it
	// to an internal one (review s12 W8); plain http still names the host, as a forward proxy
	// needs it (proxyFor says why).
	Proxy *url.URL
	// ProxyByName asks the proxy for an https tunnel to the target's name (CONNECT
	// app.example.org:443) instead of the address checked here (outbound.proxy_connect: name):
	// for a proxy that allows tunnels by destination name only. The target is still checked
	// here first, but the proxy resolves the name again, so it must refuse internal
	// destinations itself.
	ProxyByName bool
}

// RefusedError is a dial to an internal address by a client not allowed to make one.
type RefusedError struct {
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: an internal address (allowed only for apps allowed internal targets)", e.Addr)
}

// New returns a client for URLs an app supplied: it never follows redirects and, unless
// o.AllowInternal, its dialer refuses internal addresses.
func New(o Options) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer(o),
		TLSClientConfig:       o.TLS,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	if o.Proxy != nil {
		tr.Proxy, tr.DialContext = o.proxyFor, o.proxyDialer()
		if !o.AllowInternal && !o.ProxyByName {
			// https: the tunnel is opened here, to the address checked (tunnelTLS).
			tr.DialTLSContext = o.tunnelTLS()
		}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// proxyFor is the transport's Proxy with o.Proxy set. Without AllowInternal, an https request
// goes through tunnelTLS (nil here), which checks the target and opens the tunnel itself; a
// plain http request has its target checked here and goes to the proxy by name: the name is
// resolved again there, the one case DNS rebinding still reaches (plain http reaches only apps
// that asked for it). It cannot be sent to the address checked, as an https tunnel is:
//   - as a forward request (GET http://192.0.2.7/hook), the proxy must replace the Host header
//     with the request-target's authority (RFC 9112 3.2.2), so the app would get
//     "Host: 192.0.2.7" instead of its name: a virtual host, or an app that checks its Host,
//     would not answer as itself;
//   - as a CONNECT tunnel to 192.0.2.7:80, common proxies refuse it: they allow CONNECT to
//     TLS ports only (Squid's default "http_access deny CONNECT !SSL_ports").
func (o Options) proxyFor(req *http.Request) (*url.URL, error) {
	if !o.AllowInternal {
		if req.URL.Scheme == "https" && !o.ProxyByName {
			return nil, nil
		}
		if _, err := o.checkTarget(req.Context(), req.URL.Hostname()); err != nil {
			return nil, err
		}
	}
	return o.Proxy, nil
}

// tunnelTLS is the transport's DialTLSContext with o.Proxy set and internal targets refused:
// it checks the target host, asks the proxy for a tunnel to the address checked (CONNECT),
// and runs TLS through it naming the host (its certificate is verified for the host).
func (o Options) tunnelTLS() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := o.netDialer()
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := o.checkTarget(ctx, host)
		if err != nil {
			return nil, err
		}
		// Every address checked is tried in turn, as the direct dialer does: a dual-stack app
		// whose first address the proxy cannot reach is reached at the next.
		var errs []error
		for _, ip := range ips {
			conn, err := d.DialContext(ctx, network, ProxyAddr(o.Proxy))
			if err != nil {
				return nil, fmt.Errorf("proxyconnect: %w", err)
			}
			tc, err := o.tunnel(ctx, conn, host, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return tc, nil
			}
			_ = conn.Close()
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return nil, errors.Join(errs...)
	}
}

// tunnel opens a CONNECT tunnel to target over conn (the proxy's connection, TLS first for an
// https proxy) and runs TLS naming host through it.
func (o Options) tunnel(ctx context.Context, conn net.Conn, host, target string) (net.Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if o.Proxy.Scheme == "https" {
		pc := tls.Client(conn, o.tlsConfig(o.Proxy.Hostname()))
		if err := pc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("proxyconnect: tls: %w", err)
		}
		conn = pc
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: target}, Host: target, Header: http.Header{}}
	if u := o.Proxy.User; u != nil {
		pw, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if err := req.Write(conn); err != nil {
		return nil, fmt.Errorf("proxyconnect: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, fmt.Errorf("proxyconnect: %w", err)
	}
	// The body is not read (as net/http's own CONNECT does not): after a 200 the connection
	// is the tunnel.
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("proxyconnect: the proxy answered CONNECT %s with %s", target, resp.Status)
	}
	if br.Buffered() > 0 {
		return nil, errors.New("proxyconnect: the proxy sent data before the tunnel was used")
	}
	tc := tls.Client(conn, o.tlsConfig(host))
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return tc, nil
}

// tlsConfig is o.TLS (or the defaults) naming serverName, offering HTTP/2 and HTTP/1.1.
func (o Options) tlsConfig(serverName string) *tls.Config {
	cfg := &tls.Config{}
	if o.TLS != nil {
		cfg = o.TLS.Clone()
	}
	cfg.ServerName = serverName
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	return cfg
}

// checkTarget refuses a target host that is, or resolves here to, an internal address, and
// returns the addresses to connect to (every one the name resolves to, all checked). A name that does not
// resolve here is an error, not a refusal: the delivery is retried (a name can be missing for a
// while) and, if it never resolves, becomes a dead letter carrying this message.
func (o Options) checkTarget(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		if Internal(ip) {
			return nil, &RefusedError{Addr: ip.WithZone("")}
		}
		return []netip.Addr{ip.Unmap().WithZone("")}, nil
	}
	ips, err := o.lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s on the bridge's host to check it before the proxy (with outbound.proxy "+
			"set the bridge's own DNS must know the apps' names): %w", host, err)
	}
	checked := make([]netip.Addr, 0, len(ips))
	for _, ip := range ips {
		if Internal(ip) {
			return nil, &RefusedError{Addr: ip.Unmap().WithZone("")}
		}
		checked = append(checked, ip.Unmap().WithZone(""))
	}
	return checked, nil
}

// lookup resolves host with o.Resolve, else the system resolver; no address is an error.
func (o Options) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	var ips []netip.Addr
	var err error
	if o.Resolve != nil {
		ips, err = o.Resolve(ctx, host)
	} else {
		ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	if err == nil && len(ips) == 0 {
		err = errors.New("no address")
	}
	return ips, err
}

// netDialer is the dialer every client's connections are made with: o.DialTimeout (0: 10
// seconds) and TCP keep-alives.
func (o Options) netDialer() *net.Dialer {
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
}

// proxyDialer dials the proxy's address only (exempt from the internal-address check).
func (o Options) proxyDialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := o.netDialer()
	want := ProxyAddr(o.Proxy)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != want {
			return nil, fmt.Errorf("refused to connect to %s: with outbound.proxy set every call goes through the proxy", addr)
		}
		return d.DialContext(ctx, network, addr)
	}
}

// ProxyAddr is the host:port the transport dials for proxy u (its port, else the scheme's).
func ProxyAddr(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// dialer is the transport's DialContext: the checking dialer, with o.Resolve in front of it
// when set.
func dialer(o Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := o.netDialer()
	if !o.AllowInternal {
		d.Control = refuseInternal
	}
	if o.Resolve == nil {
		return d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if _, err := netip.ParseAddr(host); err == nil {
			return d.DialContext(ctx, network, addr)
		}
		ips, err := o.lookup(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		var errs []error
		for _, ip := range ips {
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// refuseInternal is the dialer's Control: it runs for each address actually dialled (after
// name resolution, for every address tried) before the connection is made.
func refuseInternal(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address and port", address)
	}
	if Internal(ap.Addr()) {
		return &RefusedError{Addr: ap.Addr().WithZone("")}
	}
	return nil
}

// specialPurpose are the address blocks the bridge never calls for an app without its
// allow-internal switch: every block of the IANA IPv4 and IPv6 Special-Purpose Address
// Registries (RFC 6890 and its updates; as of 2025), the multicast blocks, and the deprecated
// IPv6 site-local and IPv4-compatible blocks. The few registry entries marked "globally
// reachable" (anycast services such as AS112, AMT, PCP and TURN, NAT64's well-known prefix)
// are in it too: no app's endpoint lives there, and refusing is the safe side. Except: the
// NAT64 well-known prefix 64:ff9b::/96 and 6to4's 2002::/16 carry an IPv4 address, and are
// checked by that address (embedded), so that an IPv6-only installation whose DNS64 maps
// public names into 64:ff9b::/96 still reaches public apps.
var specialPurpose = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		// IPv4 (iana.org/assignments/iana-ipv4-special-registry).
		"0.0.0.0/8",       // "this network" (RFC 791; Linux connects 0.0.0.0 to loopback)
		"10.0.0.0/8",      // private (RFC 1918)
		"100.64.0.0/10",   // shared address space, carrier-grade NAT (RFC 6598)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local (cloud metadata services)
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments (DS-Lite, NAT64 discovery, PCP/TURN anycast)
		"192.0.2.0/24",    // documentation TEST-NET-1
		"192.31.196.0/24", // AS112-v4
		"192.52.193.0/24", // AMT
		"192.88.99.0/24",  // deprecated 6to4 relay anycast (RFC 7526)
		"192.168.0.0/16",  // private
		"192.175.48.0/24", // AS112 direct delegation
		"198.18.0.0/15",   // benchmarking (RFC 2544)
		"198.51.100.0/24", // documentation TEST-NET-2
		"203.0.113.0/24",  // documentation TEST-NET-3
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved for future use, and 255.255.255.255 limited broadcast
		// IPv6 (iana.org/assignments/iana-ipv6-special-registry).
		"::/96",             // ::, ::1, and the deprecated IPv4-compatible addresses (RFC 4291)
		"::ffff:0:0:0/96",   // IPv4-IPv6 translatable (RFC 6145 / 7915)
		"64:ff9b:1::/48",    // local-use IPv4/IPv6 translation (RFC 8215): any embedding
		"100::/64",          // discard-only (RFC 6666)
		"100:0:0:1::/64",    // dummy IPv6 prefix (RFC 9780)
		"2001::/23",         // IETF protocol assignments: Teredo 2001::/32, benchmarking, ORCHID, AMT, AS112...
		"2001:db8::/32",     // documentation
		"2620:4f:8000::/48", // AS112 direct delegation
		"3fff::/20",         // documentation (RFC 9637)
		"5f00::/16",         // SRv6 SIDs (RFC 9602)
		"fc00::/7",          // unique-local
		"fe80::/10",         // link-local
		"fec0::/10",         // deprecated site-local (RFC 3879)
		"ff00::/8",          // multicast
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

var (
	// nat64 is the NAT64 well-known prefix (RFC 6052 2.1): the IPv4 address is the last 32 bits.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour is 6to4 (RFC 3056): the IPv4 address is bits 16 to 47.
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Internal reports whether ip is an address the bridge does not call for an app without its
// allow-internal switch: one in any block of the IANA special-purpose registries
// (specialPurpose: loopback, private, carrier-grade NAT, link-local, unique-local, "this
// network", benchmarking, documentation, reserved, multicast, broadcast, Teredo, ...), an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) of one, and a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address whose IPv4 address is one. An invalid address is internal (fail closed).
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() {
		return true
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Internal(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
		case sixToFour.Contains(ip):
			return Internal(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
		}
	}
	for _, p := range specialPurpose {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
