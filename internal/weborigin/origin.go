package weborigin

import (
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

// browserHost is the WHATWG URL standard's "domain to ASCII" (what a browser does to a host
// before it serialises an origin): UTS #46 mapping, nontransitional, with the bidi and joiner
// rules but neither STD3 rules nor hyphen and length checks.
var browserHost = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(),
	idna.StrictDomainName(false), idna.CheckHyphens(false), idna.CheckJoiners(true), idna.VerifyDNSLength(false))

// Of is u's origin as a browser serialises it. u must be absolute (a scheme and a host). A
// host written in Unicode (an internationalised domain name) is given in the punycode a
// browser sends ("https://bücher.example" is "https://xn--bcher-kva.example"); one that is not
// a valid domain name is only lower-cased.
func Of(u *url.URL) string {
	scheme, host, port := strings.ToLower(u.Scheme), Host(u), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]" // an IPv6 literal keeps its brackets
	}
	if port == "" || (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}

// Host is u's host as a browser holds it (without brackets or port): lower case, an
// internationalised domain name in punycode. It is the domain WebAuthn's RP ID must be.
func Host(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		return host // an IPv6 literal
	}
	if a, err := browserHost.ToASCII(host); err == nil && a != "" {
		return a
	}
	return host
}

// Parse is Of of the URL raw; false when raw does not parse or has no host.
func Parse(raw string) (string, bool) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	return Of(u), true
}
