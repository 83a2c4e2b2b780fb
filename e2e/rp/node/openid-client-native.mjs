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
import * as client from 'openid-client';
import { codeFlow, discover, env as envOf, esc, errorReport, page as htmlPage, serve, step, tokenReport } from './openid-client-common.mjs';

const env = envOf('openid-client-native');
const issuer = new URL(env('RP_ISSUER'));
const base = env('RP_BASE');
const clientId = env('RP_CLIENT_ID');
const scope = env('RP_SCOPE');
const redirectUri = `${base}/callback`;

// A public client: no client authentication, only client_id (RFC 6749 2.1, RFC 8252 8.4).
const config = await discover(issuer, clientId, client.None());

const flow = codeFlow(config, redirectUri, scope);

async function callback(url) {
  const report = {
    redirect_uri: redirectUri,
    callback: Object.fromEntries(url.searchParams),
  };
  if (!flow.pending()) {
    report.error = 'no sign-in pending';
    return report;
  }
  await step(report, 'code', async () => tokenReport(await flow.finish(url)));
  return report;
}

const page = (res, status, body) => htmlPage(res, status, 'openid-client native app', body);

serve(
  async (req, res) => {
    const url = new URL(req.url, base);
    switch (url.pathname) {
      case '/start': {
        const requestUri = url.searchParams.get('request_uri');
        const to = await flow.start(requestUri ? { request_uri: requestUri } : {});
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
  },
  (res, e) => page(res, 500, `<pre id="error">${esc(JSON.stringify(errorReport(e)))}</pre>`),
  `openid-client-native (${clientId}) listening at ${base}`,
);
