// A single-page app on another origin than the bridge, built on oidc-client-ts, driven by e2e/rp
// (spa_test.go) in Chromium; common.js has what it shares with silent.js. Every call to the
// bridge after the sign-in redirect is a cross-origin fetch (token, userinfo, revocation): it
// works only when the bridge answers CORS for this origin.
//
// Paths: /?login=1 starts sign-in; /callback finishes it; /signed-out finishes logout.
// window.spaRenew() renews silently (no silent_redirect_uri is configured, so oidc-client-ts can
// only use the refresh token); window.spaLogout() revokes both tokens and signs out at the bridge.
/* global newManager, show, userReport, fail, startSignIn, finishSignIn */
'use strict';

const mgr = newManager({
  post_logout_redirect_uri: location.origin + '/signed-out',
  loadUserInfo: true,
  revokeTokensOnSignout: true,
  revokeTokenTypes: ['access_token', 'refresh_token'],
});

window.spaRenew = async () => {
  try {
    const u = await mgr.signinSilent();
    show('renewed', { renewed: userReport(u) });
  } catch (e) {
    fail('renew', e);
  }
};

window.spaLogout = async () => {
  try {
    show('signing-out');
    await mgr.signoutRedirect({ state: 'spa-logout-state' });
  } catch (e) {
    fail('logout', e);
  }
};

(async () => {
  const path = location.pathname;
  if (path === '/callback') {
    await finishSignIn(mgr);
  } else if (path === '/signed-out') {
    try {
      const r = await mgr.signoutRedirectCallback();
      show('signed-out', { logout_state: r.userState ?? null, user_left: (await mgr.getUser()) !== null });
    } catch (e) {
      fail('signed-out', e);
    }
  } else if (!(await startSignIn(mgr, { url_state: 'spa-login-state' }))) {
    const u = await mgr.getUser();
    show(u ? 'signed-in' : 'anonymous', u ? { user: userReport(u) } : {});
  }
})();
