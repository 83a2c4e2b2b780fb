// Package rpharness runs real relying-party software against the bridge in tests: the bridge
// in-process on an ephemeral 127.0.0.1 port over the embedded demo AMS database, a recording
// upstream app, foreground RP processes stopped with the test, and headless Chromium driving the
// real login page. Missing software skips a test, unless SSOBRIDGE_REQUIRE_RP=1 (CI) makes it a
// failure. Apache httpd (apache.go) is shared by the mod_auth_openidc harness (e2e/proxies) and
// the mod_auth_mellon one (e2e/samlsp): finding it and its modules, the common head of its
// configuration, its directory and its start. It is imported only by tests (e2e/...).
package rpharness
