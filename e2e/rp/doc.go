// Package rp drives real JavaScript relying-party libraries through the bridge's real login page
// in headless Chromium and asserts what each one received:
//
//   - openid-client v6 (npm; the library under Auth.js/NextAuth), a server-side RP run by node,
//     with a client id and secret holding '-', '_', '.' and '~' (which its Basic encoding
//     form-urlencodes): client_secret_basic and client_secret_post code flow with PKCE, userinfo,
//     refresh, introspection, revocation and RP-initiated logout;
//   - openid-client v6 as a device (RFC 8628): the device authorization grant polled by the
//     library's own poller while the member approves at /device in Chromium, with a resource
//     indicator (RFC 8707) its access token is for, and invalid_target for a resource it is not;
//     and refused for good as its poller sees it: access_denied when the member was deleted in
//     the AMS after approving (then invalid_grant, the code consumed, once restored), when
//     the member denied at the confirmation, and invalid_grant when the AMS recorded a password
//     change after the approving sign-in (then "already used");
//   - openid-client v6 as a native app (RFC 8252): a public client with PKCE on a loopback
//     redirect URI registered without a port (127.0.0.1 and [::1]) and served on a port chosen
//     at run time (7.3), and request_uri refused request_uri_not_supported at that redirect URI;
//   - oidc-client-ts (npm) in a single-page app served from another origin than the bridge: code
//     flow with PKCE, silent renew with a refresh token and logout, all through CORS;
//   - oidc-client-ts's signinSilent without a refresh token: prompt=none in a hidden iframe,
//     login_required for a signed-out browser and tokens for a signed-in one, the response's
//     iss checked by the app (RFC 9207);
//   - curl -sIL, a client that asks HEAD and follows redirects with HEAD, through the
//     authorization endpoint, the login, consent and second-factor step pages and a
//     continuation: no redirect without Location, no cookie, no store write.
//
// The bridge runs in-process on 127.0.0.1 over the embedded demo AMS database (the device
// refusals: the demo database in a file, which the test changes); every RP listens on an
// ephemeral loopback port. The npm packages are pinned exactly in node/package.json and
// node/package-lock.json and installed with `npm ci` in node/ (node_modules is not committed).
// When node or the packages are missing the tests skip, unless SSOBRIDGE_REQUIRE_RP=1 (set by
// .ci/install.d/20-rp-node.sh in CI), which makes them fail instead. SSOBRIDGE_NODE points at
// node when it is not on PATH. The package has only tests.
package rp
