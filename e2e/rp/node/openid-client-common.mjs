// What the openid-client programs e2e/rp runs share (openid-client-rp.mjs, a server-side RP;
// openid-client-native.mjs, a native app; openid-client-device.mjs, a device): the environment,
// discovery, the error and token reports, the code flow with PKCE, and the server on the TCP
// socket passed as file descriptor 3.
import http from 'node:http';
import * as client from 'openid-client';

// env returns program's reader of required environment variables: one that is not set stops
// the program (exit 2) naming it.
export const env = (program) => (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`${program}: ${name} is not set`);
    process.exit(2);
  }
  return v;
};

// discover reads the bridge's discovery document for clientId, authenticating with auth. The
// issuer is plain http on 127.0.0.1 in tests: openid-client refuses that unless told.
export const discover = (issuer, clientId, auth) =>
  client.discovery(issuer, clientId, undefined, auth, { execute: [client.allowInsecureRequests] });

// errorReport is what the Go test sees of an error openid-client raised.
export const errorReport = (e) => ({
  name: e?.name,
  message: String(e?.message ?? e),
  code: e?.code,
  error: e?.error,
  status: e?.status,
  error_description: e?.error_description,
});

// tokenReport is what the Go test sees of a token response (the ID token's claims as
// openid-client validated them).
export const tokenReport = (t) => ({
  access_token: t.access_token,
  refresh_token: t.refresh_token,
  id_token: t.id_token,
  token_type: t.token_type,
  scope: t.scope,
  claims: t.claims() ?? null,
});

// step runs one protocol call and records its outcome in report[name]; a failure is reported,
// not thrown, so that the Go test sees every step.
export async function step(report, name, fn) {
  try {
    const v = await fn();
    report[name] = { ok: true, value: v ?? null };
    return v;
  } catch (e) {
    report[name] = { ok: false, error: errorReport(e) };
    return undefined;
  }
}

// codeFlow is one sign-in at a time in the authorization code flow with PKCE S256, state and
// nonce, at redirectUri asking for scope.
export function codeFlow(config, redirectUri, scope) {
  let pending = null; // the pending request's PKCE verifier, state and nonce
  return {
    // start begins a sign-in and returns the URL of its authorization request (params: more
    // parameters).
    async start(params = {}) {
      const verifier = client.randomPKCECodeVerifier();
      pending = { verifier, state: client.randomState(), nonce: client.randomNonce() };
      return client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state: pending.state,
        nonce: pending.nonce,
        ...params,
      });
    },
    // pending says whether a sign-in waits for its callback.
    pending: () => pending !== null,
    // finish redeems the code of the authorization response at url for the pending sign-in
    // (openid-client checks iss, state and the ID token), which it ends.
    async finish(url) {
      const { verifier, state, nonce } = pending;
      pending = null;
      return client.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
    },
  };
}

// esc escapes text for HTML.
export const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

// page answers an HTML page titled title.
export const page = (res, status, title, body) => {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><title>${title}</title>${body}`);
};

// serve answers every request with handle, an error it throws with fail, on the socket on file
// descriptor 3, and logs listening once it listens.
export function serve(handle, fail, listening) {
  const server = http.createServer(async (req, res) => {
    try {
      await handle(req, res);
    } catch (e) {
      fail(res, e);
    }
  });
  server.listen({ fd: 3 }, () => console.log(listening));
  // Stop at once: the browser's keep-alive connections would hold server.close() open.
  process.on('SIGTERM', () => process.exit(0));
}
