// A native app (RFC 8252) built on openid-client, run by e2e/rp (go test): a public client (no
// secret, PKCE S256) that receives the authorization response on a loopback redirect URI whose
// port was chosen when it started (RFC 8252 7.3), the way a desktop or CLI app listens on an
// ephemeral port. It listens on the TCP socket passed as file descriptor 3; the Go test drives
// it in Chromium:
//
//   GET /start[?request_uri=U]  redirects to the bridge's authorization endpoint, as
//                               openid-client builds the URL (redirect_uri RP_BASE/callback with
//                               the run-time port, PKCE S256, state, nonce); with request_uri=U
//                               the request names U as its request_uri (OIDC Core 6.2)
//   GET /callback               completes the code grant with openid-client (it checks iss,
//                               state, the ID token) and shows the outcome as JSON in
//                               <pre id="result">: the tokens, or the error openid-client raised
//
// Environment: RP_ISSUER, RP_BASE (http://127.0.0.1:port or http://[::1]:port: the socket on fd
// 3), RP_CLIENT_ID, RP_SCOPE.
import http from 'node:http';
import * as client from 'openid-client';

const env = (name) => {
  const v = process.env[name];
  if (!v) {
    console.error(`openid-client-native: ${name} is not set`);
    process.exit(2);
  }
  return v;
};
const issuer = new URL(env('RP_ISSUER'));
const base = env('RP_BASE');
const clientId = env('RP_CLIENT_ID');
const scope = env('RP_SCOPE');
const redirectUri = `${base}/callback`;

// A public client: no client authentication, only client_id (RFC 6749 2.1, RFC 8252 8.4).
const config = await client.discovery(issuer, clientId, undefined, client.None(), {
  execute: [client.allowInsecureRequests],
});

const errorReport = (e) => ({
  name: e?.name,
  message: String(e?.message ?? e),
  code: e?.code,
  error: e?.error,
  status: e?.status,
  error_description: e?.error_description,
});

let pending = null;

async function callback(url) {
  const report = {
    redirect_uri: redirectUri,
    callback: Object.fromEntries(url.searchParams),
  };
  if (!pending) {
    report.error = 'no sign-in pending';
    return report;
  }
  const { verifier, state, nonce } = pending;
  pending = null;
  try {
    const t = await client.authorizationCodeGrant(config, url, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    report.code = {
      ok: true,
      value: {
        access_token: t.access_token,
        refresh_token: t.refresh_token,
        id_token: t.id_token,
        token_type: t.token_type,
        scope: t.scope,
        claims: t.claims() ?? null,
      },
    };
  } catch (e) {
    report.code = { ok: false, error: errorReport(e) };
  }
  return report;
}

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const page = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><title>openid-client native app</title>${body}`);
};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  try {
    switch (url.pathname) {
      case '/start': {
        const verifier = client.randomPKCECodeVerifier();
        pending = { verifier, state: client.randomState(), nonce: client.randomNonce() };
        const params = {
          redirect_uri: redirectUri,
          scope,
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state: pending.state,
          nonce: pending.nonce,
        };
        const requestUri = url.searchParams.get('request_uri');
        if (requestUri) params.request_uri = requestUri;
        const to = client.buildAuthorizationUrl(config, params);
        res.writeHead(302, { Location: to.href, 'Cache-Control': 'no-store' });
        res.end();
        return;
      }
      case '/callback': {
        const report = await callback(url);
        page(res, 200, `<pre id="result">${esc(JSON.stringify(report))}</pre>`);
        return;
      }
      case '/healthz':
        page(res, 200, 'ok');
        return;
      default:
        page(res, 404, 'not found');
    }
  } catch (e) {
    page(res, 500, `<pre id="error">${esc(JSON.stringify(errorReport(e)))}</pre>`);
  }
});
server.listen({ fd: 3 }, () => console.log(`openid-client-native (${clientId}) listening at ${base}`));
process.on('SIGTERM', () => process.exit(0));
