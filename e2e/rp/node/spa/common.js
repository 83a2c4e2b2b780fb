// What the e2e/rp single-page apps share (index.html runs app.js, silent.html runs silent.js,
// each after this file): an oidc-client-ts UserManager (the browser bundle, global `oidc`) on
// this origin for the bridge and client config.js names, the interactive sign-in, and the report
// in window.spa that the Go tests read: the stage reached, what the library received, or its
// error.
/* global oidc */
/* exported newManager, show, userReport, fail, startSignIn, finishSignIn */
'use strict';

const spa = (window.spa = { stage: 'loading', origin: location.origin });

// newManager is a UserManager for the code flow (PKCE) with redirect_uri /callback, the user
// kept in sessionStorage and nothing renewed or watched unasked, with the page's own settings.
function newManager(settings) {
  const cfg = window.SPA_CONFIG;
  return new oidc.UserManager({
    authority: cfg.authority,
    client_id: cfg.client_id,
    redirect_uri: location.origin + '/callback',
    response_type: 'code',
    scope: cfg.scope,
    automaticSilentRenew: false,
    monitorSession: false,
    userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
    ...settings,
  });
}

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

// fail reports the error e at stage-failed (its name, message and OAuth error code, if any).
function fail(stage, e, extra) {
  const error = { name: e && e.name, message: String((e && e.message) || e), error: (e && e.error) || null };
  show(stage + '-failed', { error, ...extra });
}

// startSignIn starts an interactive sign-in when the page was opened with ?login=1, and says
// whether it did.
async function startSignIn(mgr, args) {
  if (new URLSearchParams(location.search).get('login') !== '1') {
    return false;
  }
  show('redirecting');
  await mgr.signinRedirect(args);
  return true;
}

// finishSignIn finishes the interactive sign-in at /callback: signed-in, or callback-failed.
async function finishSignIn(mgr) {
  try {
    const u = await mgr.signinRedirectCallback();
    history.replaceState(null, '', '/');
    show('signed-in', { user: userReport(u) });
  } catch (e) {
    fail('callback', e);
  }
}
