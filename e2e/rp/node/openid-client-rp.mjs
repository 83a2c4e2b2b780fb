// A server-side relying party built on openid-client (the library under Auth.js/NextAuth), run
// by e2e/rp (go test). It listens on the TCP socket passed as file descriptor 3, signs in with the
// authorization code flow and PKCE, then exercises refresh, introspection and revocation with the
// configured client authentication, and reports everything it received as JSON in the page
// (<pre id="result">). The Go test drives it in Chromium and asserts on that report.
//
// Environment:
//   RP_ISSUER         the bridge's issuer
//   RP_BASE           this RP's own origin (http://127.0.0.1:port, the socket on fd 3)
//   RP_CLIENT_ID      the client id
//   RP_CLIENT_SECRET  the client secret
//   RP_AUTH_METHOD    client_secret_basic or client_secret_post
//   RP_SCOPE          the scopes to ask for
import * as client from 'openid-client';
import { codeFlow, discover, env as envOf, esc, errorReport, page as htmlPage, serve, step, tokenReport as tokenFields } from './openid-client-common.mjs';

const env = envOf('openid-client-rp');
const issuer = new URL(env('RP_ISSUER'));
const base = env('RP_BASE');
const clientId = env('RP_CLIENT_ID');
const clientSecret = env('RP_CLIENT_SECRET');
const method = env('RP_AUTH_METHOD');
const scope = env('RP_SCOPE');
const redirectUri = `${base}/callback`;
const postLogoutRedirectUri = `${base}/signed-out`;

let auth;
switch (method) {
  case 'client_secret_basic':
    auth = client.ClientSecretBasic(clientSecret);
    break;
  case 'client_secret_post':
    auth = client.ClientSecretPost(clientSecret);
    break;
  default:
    console.error(`openid-client-rp: unknown RP_AUTH_METHOD ${method}`);
    process.exit(2);
}

const config = await discover(issuer, clientId, auth);

// Every request openid-client makes to the bridge, with the client credentials as they went on
// the wire: the Basic header's two parts (base64-decoded only, so still form-urlencoded as RFC
// 6749 2.3.1 has the client do) or the client_id and client_secret form fields.
const requests = [];
config[client.customFetch] = async (url, options) => {
  const headers = new Headers(options.headers);
  const auth = headers.get('authorization') ?? '';
  const body = options.body instanceof URLSearchParams ? options.body : new URLSearchParams(typeof options.body === 'string' ? options.body : '');
  const basic = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('latin1') : null;
  requests.push({
    method: options.method ?? 'GET',
    path: new URL(url).pathname,
    basic_id: basic === null ? null : basic.slice(0, basic.indexOf(':')),
    basic_secret: basic === null ? null : basic.slice(basic.indexOf(':') + 1),
    form_client_id: body.get('client_id'),
    form_client_secret: body.get('client_secret'),
  });
  return fetch(url, options);
};

// One sign-in at a time.
const flow = codeFlow(config, redirectUri, scope);

const tokenReport = (t) => t && { ...tokenFields(t), expires_in: t.expiresIn() };

async function callback(url) {
  // RFC 9207: the authorization response names the issuer (openid-client checks it too when
  // discovery advertises authorization_response_iss_parameter_supported).
  const report = { client_id: clientId, auth_method: method, callback_iss: url.searchParams.get('iss') };
  if (!flow.pending()) {
    report.error = 'no sign-in pending';
    return report;
  }
  const tokens = await step(report, 'code', async () => tokenReport(await flow.finish(url)));
  if (!tokens) return report;
  await step(report, 'userinfo', () => client.fetchUserInfo(config, tokens.access_token, tokens.claims.sub));
  const refreshed = await step(report, 'refresh', async () =>
    tokenReport(await client.refreshTokenGrant(config, tokens.refresh_token)),
  );
  // With strict rotation the first refresh token is spent: it must not work again (and using it
  // would revoke the family, so it is tried only after the successor has been used below).
  const live = refreshed ?? tokens;
  await step(report, 'introspect_access', () => client.tokenIntrospection(config, live.access_token));
  await step(report, 'revoke_access', () =>
    client.tokenRevocation(config, live.access_token, { token_type_hint: 'access_token' }),
  );
  await step(report, 'introspect_revoked_access', () => client.tokenIntrospection(config, live.access_token));
  await step(report, 'revoke_refresh', () =>
    client.tokenRevocation(config, live.refresh_token, { token_type_hint: 'refresh_token' }),
  );
  await step(report, 'refresh_after_revoke', async () =>
    tokenReport(await client.refreshTokenGrant(config, live.refresh_token)),
  );
  if (refreshed) {
    await step(report, 'refresh_reuse', async () =>
      tokenReport(await client.refreshTokenGrant(config, tokens.refresh_token)),
    );
  }
  await step(report, 'end_session_url', async () =>
    client
      .buildEndSessionUrl(config, {
        id_token_hint: live.id_token ?? tokens.id_token,
        post_logout_redirect_uri: postLogoutRedirectUri,
        state: 'rp-logout-state',
      })
      .toString(),
  );
  // The same request with a post_logout_redirect_uri the client never registered: the bridge
  // must not send the browser there (no open redirect).
  await step(report, 'end_session_url_unregistered', async () =>
    client
      .buildEndSessionUrl(config, {
        id_token_hint: live.id_token ?? tokens.id_token,
        post_logout_redirect_uri: `${base}/not-registered`,
        state: 'rp-logout-state',
      })
      .toString(),
  );
  report.requests = requests.splice(0);
  return report;
}

const page = (res, status, body) => htmlPage(res, status, 'openid-client RP', body);

serve(
  async (req, res) => {
    const url = new URL(req.url, base);
    switch (url.pathname) {
      case '/start': {
        const to = await flow.start();
        res.writeHead(302, { Location: to.href, 'Cache-Control': 'no-store' });
        res.end();
        return;
      }
      case '/callback': {
        const report = await callback(url);
        page(res, 200, `<pre id="result">${esc(JSON.stringify(report))}</pre>`);
        return;
      }
      case '/signed-out':
        page(res, 200, `<p id="signed-out">${esc(url.searchParams.get('state') ?? '')}</p>`);
        return;
      case '/healthz':
        page(res, 200, 'ok');
        return;
      default:
        page(res, 404, 'not found');
    }
  },
  (res, e) => page(res, 500, `<pre id="error">${esc(JSON.stringify(errorReport(e)))}</pre>`),
  `openid-client-rp (${method}) listening at ${base}`,
);
