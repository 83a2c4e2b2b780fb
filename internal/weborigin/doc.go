// Package weborigin serialises a URL's origin the way browsers send it, in an Origin header and
// in WebAuthn's clientDataJSON (RFC 6454 section 6.1): lower-case scheme and host, an
// internationalised host in punycode (the URL standard's domain to ASCII), an IPv6 literal in
// brackets, and the port only when it is not the scheme's default. A configured URL
// written https://sso.example.org:443 or in capitals then still matches what a browser sends.
// It imports no project package, so the bridge and legacy can both use it.
package weborigin
