package config

import (
	"net/url"
)

// OutboundConfig sets how the bridge reaches the URLs apps supplied (back-channel logout,
// SOAP single logout, provisioning targets; package bridge/outbound).
type OutboundConfig struct {
	// Proxy is an HTTP proxy every such call goes through (http://host:port, or https://;
	// user:password@ for a proxy that asks): for installations that reach apps only through
	// one. Its own address is exempt from the internal-address check; each call's target host
	// is checked before it is sent (it must resolve here to public addresses, unless the app is
	// allowed internal targets), and an https call's tunnel is asked for the address checked
	// (CONNECT <address>:443), not for the name. Empty: calls connect directly; HTTP_PROXY is
	// never read.
	Proxy string `yaml:"proxy"`
	// ProxyConnect is what an https call's tunnel is asked for: "address" (the default) the
	// address the target's name resolved to here and was checked at, so that a name answering
	// otherwise at the proxy (DNS rebinding) cannot lead it inside; "name" the target's name,
	// for a proxy that allows tunnels by destination name only (it then resolves the name
	// itself, and must refuse internal destinations itself).
	ProxyConnect string `yaml:"proxy_connect"`
}

// ProxyByName reports whether an https tunnel is asked for by name (proxy_connect: name).
func (o OutboundConfig) ProxyByName() bool { return o.ProxyConnect == "name" }

// ProxyURL is Proxy parsed (nil when it is empty or invalid: Validate reports it).
func (o OutboundConfig) ProxyURL() *url.URL {
	u, err := checkProxy(o.Proxy)
	if err != nil {
		return nil
	}
	return u
}

func (o OutboundConfig) check(p *problems) {
	switch o.ProxyConnect {
	case "", "address", "name":
	default:
		p.addf("outbound.proxy_connect", "must be address or name, not %q", o.ProxyConnect)
	}
	if o.Proxy == "" {
		if o.ProxyConnect != "" {
			p.addf("outbound.proxy_connect", "is set but outbound.proxy is empty: it says how the proxy is asked for tunnels")
		}
		return
	}
	if _, err := checkProxy(o.Proxy); err != nil {
		p.addf("outbound.proxy", "%s", err.Error())
	}
}

type proxyError string

func (e proxyError) Error() string { return string(e) }

func checkProxy(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, proxyError("empty")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, proxyError("is not a URL (want http://host:port)")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, proxyError("must be an http:// or https:// URL of the proxy (want http://host:port)")
	case u.Hostname() == "":
		return nil, proxyError("has no host (want http://host:port)")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "", u.Opaque != "":
		return nil, proxyError("must be the proxy's address only, without a path or query (want http://host:port)")
	}
	return u, nil
}
