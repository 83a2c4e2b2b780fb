package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
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
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// dialer is the transport's DialContext: the checking dialer, with o.Resolve in front of it
// when set.
func dialer(o Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := o.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
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
		ips, err := o.Resolve(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve %s: no address", host)
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

var (
	// thisNetwork is 0.0.0.0/8 (RFC 1122 3.2.1.3: "this host on this network"; Linux connects
	// 0.0.0.0 to loopback).
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	// v4Compatible is ::/96, the deprecated IPv4-compatible IPv6 addresses (and :: and ::1).
	v4Compatible = netip.MustParsePrefix("::/96")
	// siteLocal is fec0::/10, the deprecated IPv6 site-local addresses (RFC 3879).
	siteLocal = netip.MustParsePrefix("fec0::/10")
	broadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
)

// Internal reports whether ip is an internal address: loopback (127.0.0.0/8, ::1), private
// (10/8, 172.16/12, 192.168/16) or unique-local (fc00::/7), link-local (169.254/16, fe80::/10),
// unspecified or "this network" (0.0.0.0/8, ::), multicast or broadcast, site-local, the
// IPv4-compatible ::/96, and an IPv4-mapped IPv6 address (::ffff:a.b.c.d) of any of them. An
// invalid address is internal (fail closed).
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return true
	}
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() ||
		ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() ||
		thisNetwork.Contains(ip) || ip == broadcast || v4Compatible.Contains(ip) || siteLocal.Contains(ip)
}
