// A single-page app on another origin than the bridge, built on oidc-client-ts (the browser
// bundle, global `oidc`), driven by e2e/rp in Chromium. Every call to the bridge after the
// sign-in redirect is a cross-origin fetch (token, userinfo, revocation): it works only when the
// bridge answers CORS for this origin.
//
// Paths: /?login=1 starts sign-in; /callback finishes it; /signed-out finishes logout.
// window.spaRenew() renews silently (no silent_redirect_uri is configured, so oidc-client-ts can
// only use the refresh token); window.spaLogout() revokes both tokens and signs out at the bridge.
// window.spa holds the report: the stage reached, what the library received, or its error.
/* global oidc */
'use strict';

const cfg = window.SPA_CONFIG;
const spa = (window.spa = { stage: 'loading', origin: location.origin, events: [] });

const mgr = new oidc.UserManager({
  authority: cfg.authority,
  client_id: cfg.client_id,
  redirect_uri: location.origin + '/callback',
  post_logout_redirect_uri: location.origin + '/signed-out',
  response_type: 'code',
  scope: cfg.scope,
  loadUserInfo: true,
  automaticSilentRenew: false,
  monitorSession: false,
  revokeTokensOnSignout: true,
  revokeTokenTypes: ['access_token', 'refresh_token'],
  userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
});

function show(stage, extra) {
  spa.stage = stage;
  Object.assign(spa, extra);
  document.getElementById('stage').textContent = stage;
  document.getElementById('report').textContent = JSON.stringify(spa, null, 2);
}

function userReport(u) {
  return {
    profile: u.profile,
    access_token: u.access_token,
    refresh_token: u.refresh_token,
    id_token: u.id_token,
    token_type: u.token_type,
    scope: u.scope,
    expires_in: u.expires_in,
    url_state: u.url_state,
  };
}

function fail(stage, e) {
  show(stage + '-failed', { error: { name: e && e.name, message: String((e && e.message) || e), error: e && e.error } });
}

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
    try {
      const u = await mgr.signinRedirectCallback();
      history.replaceState(null, '', '/');
      show('signed-in', { user: userReport(u) });
    } catch (e) {
      fail('callback', e);
    }
  } else if (path === '/signed-out') {
    try {
      const r = await mgr.signoutRedirectCallback();
      show('signed-out', { logout_state: r.userState ?? null, user_left: (await mgr.getUser()) !== null });
    } catch (e) {
      fail('signed-out', e);
    }
  } else if (new URLSearchParams(location.search).get('login') === '1') {
    show('redirecting');
    await mgr.signinRedirect({ url_state: 'spa-login-state' });
  } else {
    const u = await mgr.getUser();
    show(u ? 'signed-in' : 'anonymous', u ? { user: userReport(u) } : {});
  }
})();
