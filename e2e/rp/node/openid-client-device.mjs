// A device (RFC 8628) built on openid-client, run by e2e/rp (go test): it starts the device
// authorization grant at the bridge, shows the user code as a device would, then polls the token
// endpoint with openid-client's own poller (slow_down and authorization_pending handled by the
// library) until the member has approved in a browser. It listens on the TCP socket passed as
// file descriptor 3; the Go test drives it over HTTP:
//
//   GET /start?resource=R  initiates the grant (scope RP_SCOPE) and starts polling, with
//                          resource=R (RFC 8707) on every poll when given; answers the device
//                          authorization response as JSON
//   GET /start?manual=1    initiates the grant without polling (the test decides when)
//   GET /poll              polls (again) with the library's poller for the grant started last:
//                          /result shows 202 until this poll's outcome
//   GET /result            202 while polling, then 200 with the outcome as JSON: the tokens
//                          (openid-client validated the ID token) or the error it raised
//
// Environment: RP_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET (client_secret_basic), RP_SCOPE.
import * as client from 'openid-client';
import { discover, env as envOf, errorReport, serve, tokenReport } from './openid-client-common.mjs';

const env = envOf('openid-client-device');
const issuer = new URL(env('RP_ISSUER'));
const clientId = env('RP_CLIENT_ID');
const scope = env('RP_SCOPE');

const config = await discover(issuer, clientId, client.ClientSecretBasic(env('RP_CLIENT_SECRET')));

// The token requests the poller sent, with their grant type and resource.
const polls = [];
config[client.customFetch] = async (url, options) => {
  if (new URL(url).pathname === new URL(config.serverMetadata().token_endpoint).pathname) {
    const body = options.body instanceof URLSearchParams ? options.body : new URLSearchParams(String(options.body ?? ''));
    polls.push({ grant_type: body.get('grant_type'), resource: body.getAll('resource') });
  }
  return fetch(url, options);
};

let outcome = null; // null: polling
let started = false;
let grant = null; // { da, resource }: the grant started last

const reply = (res, status, v) => {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(v));
};

serve(
  async (req, res) => {
    const url = new URL(req.url, 'http://device');
    switch (url.pathname) {
      case '/start': {
        if (started) return reply(res, 409, { error: 'already started' });
        started = true;
        const da = await client.initiateDeviceAuthorization(config, { scope });
        grant = { da, resource: url.searchParams.get('resource') };
        if (!url.searchParams.get('manual')) poll();
        return reply(res, 200, da);
      }
      case '/poll':
        if (!grant) return reply(res, 409, { error: 'not started' });
        poll();
        return reply(res, 202, { polling: true });
      case '/result':
        return outcome ? reply(res, 200, outcome) : reply(res, 202, { polling: true });
      case '/healthz':
        return reply(res, 200, { ok: true });
      default:
        return reply(res, 404, { error: 'not found' });
    }
  },
  (res, e) => reply(res, 500, { error: errorReport(e) }),
  `openid-client-device (${clientId}) listening`,
);

// poll runs openid-client's poller for the grant started last; its outcome replaces the last.
function poll() {
  const { da, resource } = grant;
  outcome = null;
  polls.length = 0;
  client
    .pollDeviceAuthorizationGrant(config, da, resource ? { resource } : undefined)
    .then((t) => {
      outcome = { ok: true, tokens: tokenReport(t), polls: [...polls] };
    })
    .catch((e) => {
      outcome = { ok: false, error: errorReport(e), polls: [...polls] };
    });
}
