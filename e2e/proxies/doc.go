// Package proxies drives real reverse-proxy relying parties through the bridge's real login page
// in headless Chromium and asserts what each one received:
//
//   - oauth2-proxy (v7, built from the Go module proxy) in front of a tiny upstream;
//   - Apache httpd with mod_auth_openidc (Debian) in front of the same kind of upstream.
//
// The bridge runs in-process on 127.0.0.1 over the embedded demo AMS database; every RP listens on
// an ephemeral 127.0.0.1 port. The package has only tests. When the RP software is not installed
// the tests skip, unless SSOBRIDGE_REQUIRE_RP=1 (set by .ci/install.d/30-rp-proxies.sh in CI),
// which makes them fail instead. SSOBRIDGE_OAUTH2_PROXY, SSOBRIDGE_APACHE2 and
// SSOBRIDGE_APACHE_MODULES point at the binaries when they are not on the usual paths.
package proxies
