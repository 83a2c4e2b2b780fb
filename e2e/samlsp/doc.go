// Package samlsp drives a real SAML 2.0 service provider through the bridge's SAML identity
// provider and its real login page: Apache httpd with mod_auth_mellon (Debian), run in the
// foreground with a generated config, protecting a tiny CGI program that prints what mellon
// hands the app (MELLON_* variables, REMOTE_USER).
//
// The browser is a Go HTTP client with a cookie jar that does what the bridge's pages ask of a
// browser (static/saml.js: submit the SAML form, follow the SAML link; the signed-out page's
// Continue link): no Chromium, so that the suite stays cheap. The bridge runs in-process on
// 127.0.0.1 over the embedded demo AMS database, Apache on an ephemeral 127.0.0.1 port.
//
// The metadata is exchanged both ways as an administrator would: mellon reads the bridge's
// /saml/metadata from a file, and mellon's generated /mellon/metadata is registered at the
// bridge through the registry the CLI uses (ssobridge saml register).
//
// The clock-skew test shifts httpd's clock with libfaketime (libfaketimeMT.so.1), found through
// dpkg for this machine's architecture, in the usual directories of other layouts, or at
// SSOBRIDGE_LIBFAKETIME.
//
// The package has only tests. When Apache or mod_auth_mellon is missing the tests skip, unless
// SSOBRIDGE_REQUIRE_SAML_SP=1 (set by .ci/install.d/35-saml-sp.sh in CI), which makes them fail
// instead. SSOBRIDGE_APACHE2 and SSOBRIDGE_APACHE_MODULES point at the binary and the module
// directory when they are not on the usual paths.
package samlsp
