package config

import (
	"strings"
	"testing"
)

// TestOutboundProxy: outbound.proxy is an http(s) URL of the proxy's address (with user:password
// when the proxy asks); anything else is refused naming outbound.proxy, and ProxyURL is nil
// for it.
func TestOutboundProxy(t *testing.T) {
	for _, tc := range []struct {
		proxy string
		ok    bool
	}{
		{"", true},
		{"http://proxy.internal:3128", true},
		{"http://10.0.0.5:3128/", true},
		{"https://user:secret@proxy.example.org", true},
		{"proxy.internal:3128", false},
		{"socks5://proxy.internal:1080", false},
		{"http://", false},
		{"http://proxy.internal:3128/path", false},
		{"http://proxy.internal:3128?x=1", false},
		{"://bad", false},
	} {
		var p problems
		o := OutboundConfig{Proxy: tc.proxy}
		o.check(&p)
		if tc.ok != (len(p.errs) == 0) {
			t.Errorf("outbound.proxy %q: problems %v, want ok=%v", tc.proxy, p.errs, tc.ok)
			continue
		}
		if !tc.ok && !strings.HasPrefix(p.errs[0].Error(), "outbound.proxy: ") {
			t.Errorf("outbound.proxy %q: %v does not name the field", tc.proxy, p.errs[0])
		}
		if tc.ok && tc.proxy != "" && o.ProxyURL() == nil || !tc.ok && o.ProxyURL() != nil {
			t.Errorf("outbound.proxy %q: ProxyURL %v", tc.proxy, o.ProxyURL())
		}
		if strings.Contains(tc.proxy, "secret") && len(p.errs) > 0 && strings.Contains(p.errs[0].Error(), "secret") {
			t.Errorf("the proxy's password is in the error: %v", p.errs[0])
		}
	}
	c := Defaults()
	c.Outbound.Proxy = "ftp://proxy"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "outbound.proxy") {
		t.Errorf("Validate with a bad outbound.proxy: %v", err)
	}
}

// TestOutboundProxyConnect: outbound.proxy_connect is address (the default) or name, and only
// with outbound.proxy; anything else is refused naming the field.
func TestOutboundProxyConnect(t *testing.T) {
	for _, tc := range []struct {
		proxy, connect string
		ok, byName     bool
	}{
		{"http://proxy:3128", "", true, false},
		{"http://proxy:3128", "address", true, false},
		{"http://proxy:3128", "name", true, true},
		{"http://proxy:3128", "Name", false, false},
		{"http://proxy:3128", "ip", false, false},
		{"", "name", false, true},
		{"", "", true, false},
	} {
		o := OutboundConfig{Proxy: tc.proxy, ProxyConnect: tc.connect}
		var p problems
		o.check(&p)
		if (len(p.errs) == 0) != tc.ok {
			t.Errorf("proxy %q proxy_connect %q: problems %v, want ok=%v", tc.proxy, tc.connect, p.errs, tc.ok)
			continue
		}
		if !tc.ok && !strings.HasPrefix(p.errs[0].Error(), "outbound.proxy_connect: ") {
			t.Errorf("proxy_connect %q: %v does not name the field", tc.connect, p.errs[0])
		}
		if o.ProxyByName() != tc.byName {
			t.Errorf("proxy_connect %q: ProxyByName %v", tc.connect, o.ProxyByName())
		}
	}
}
