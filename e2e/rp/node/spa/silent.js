// A single-page app on another origin than the bridge that signs in silently with
// oidc-client-ts's signinSilent: with no refresh token it loads the authorization request with
// prompt=none in a hidden iframe (OIDC Core 3.1.2.1) at silent_redirect_uri, whose page
// (/silent-callback) hands the response to this window. Driven by e2e/rp (silent_test.go) in
// Chromium; common.js has what it shares with app.js.
//
// Paths: /?login=1 starts an interactive sign-in; /callback finishes it; /silent-callback is the
// iframe's page. window.spaSilent() forgets the user the library holds (so no refresh token can
// be used) and signs in silently. window.spa also holds the authorization response the iframe
// got, with the app's own RFC 9207 check of its iss against the issuer discovery names
// (oidc-client-ts 3.5 does not check iss itself).
/* global newManager, show, userReport, fail, startSignIn, finishSignIn */
'use strict';

const mgr = newManager({
  silent_redirect_uri: location.origin + '/silent-callback',
  loadUserInfo: false,
  silentRequestTimeoutInSeconds: 20,
});

// silentResponse is what the iframe's page saw of the authorization response, with the RFC
// 9207 check: iss present and equal to the issuer of the discovery document.
async function silentResponse() {
  const r = JSON.parse(localStorage.getItem('silent-response') || 'null');
  if (r) {
    r.iss_ok = r.iss !== null && r.iss === (await mgr.metadataService.getIssuer());
  }
  return r;
}

window.spaSilent = async () => {
  localStorage.removeItem('silent-response');
  show('silent-started', { user: null, error: null, response: null });
  await mgr.removeUser();
  try {
    const u = await mgr.signinSilent();
    show('silent-signed-in', { user: userReport(u), response: await silentResponse() });
  } catch (e) {
    fail('silent', e, { response: await silentResponse() });
  }
};

(async () => {
  const path = location.pathname;
  if (path === '/silent-callback') {
    // In the hidden iframe: keep what came (the parent checks iss), then hand it over.
    const q = new URLSearchParams(location.search);
    localStorage.setItem('silent-response', JSON.stringify({ iss: q.get('iss'), error: q.get('error'), state: q.has('state'), code: q.has('code') }));
    await mgr.signinSilentCallback();
  } else if (path === '/callback') {
    await finishSignIn(mgr);
  } else if (!(await startSignIn(mgr))) {
    show('ready');
  }
})();
