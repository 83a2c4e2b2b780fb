// A minimal oidc-provider 9.13.3 for the peer load runs (scripts/loadtest/peers/run.sh): the same
// two confidential clients as scripts/loadtest/loadtest.yaml (load-rs signs ID tokens with RS256,
// load-es with ES256; client_secret_basic), refresh tokens rotated on every use, one static
// password user, its own login form (and, with PEER_CONSENT=form, a consent form), 127.0.0.1 on
// $PORT. Storage: oidc-provider's own in-memory adapter (nothing durable), over a plain Map with
// the adapter's expiries instead of its default LRU of 1,000 entries shared by all models, which
// drops live refresh tokens and grants under these loads (64 or 100 chains: invalid_grant);
// OIDC_PROVIDER_STORE=lru keeps the stock one. The store is in the process, so its peak RSS
// includes what a peer with a database keeps on disk (one access and one refresh token per
// refresh, kept until they expire). setup.sh copies this file next to its node_modules; run.sh
// starts it:
//
//	PORT=18081 node oidc-provider.mjs
import { createHash, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const port = Number(process.env.PORT || 18081);
const issuer = `http://127.0.0.1:${port}`;
const consentForm = process.env.PEER_CONSENT === 'form';

// One static user: salted SHA-256, compared in constant time (the kind of hash ssobridge's demo
// member has, iMIS's default), so the login figures compare request handling, not hash cost.
const salt = randomBytes(16);
const hash = (pw) => createHash('sha256').update(salt).update(pw, 'utf8').digest();
const user = { login: 'alice', sub: 'alice', name: 'Alice Demo', hash: hash('alice-demo-1') };

const jwk = (type, opts, alg) => ({ ...generateKeyPairSync(type, opts).privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: alg.toLowerCase() });
const client = (alg) => ({
  client_id: `load-${alg}`,
  client_secret: `load-secret-${alg}-0123456789abcdef0123`,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  redirect_uris: ['http://127.0.0.1:9/cb'],
  id_token_signed_response_alg: alg === 'es' ? 'ES256' : 'RS256',
});

// MapStore is the get/set/delete store MemoryAdapter keeps its records in: unbounded, entries
// dropped once past their maxAge (when read, and by a sweep every 10 s).
class MapStore {
  #m = new Map();
  constructor() { setInterval(() => { const now = Date.now(); for (const [k, e] of this.#m) if (e.expiry <= now) this.#m.delete(k); }, 10_000).unref(); }
  get(key) {
    const e = this.#m.get(key);
    if (e === undefined) return undefined;
    if (e.expiry <= Date.now()) { this.#m.delete(key); return undefined; }
    return e.value;
  }
  set(key, value, { maxAge } = {}) {
    this.#m.set(key, { value, expiry: Number.isFinite(maxAge) ? Date.now() + maxAge : Infinity });
    return this;
  }
  delete(key) { return this.#m.delete(key); }
}
const store = process.env.OIDC_PROVIDER_STORE === 'lru' ? undefined : new MapStore();

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: [client('rs'), client('es')],
  jwks: { keys: [jwk('rsa', { modulusLength: 2048 }, 'RS256'), jwk('ec', { namedCurve: 'P-256' }, 'ES256')] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256'] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], profile: ['name'] },
  scopes: ['openid', 'offline_access', 'profile'],
  features: { devInteractions: { enabled: false } },
  rotateRefreshToken: true,
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (id !== user.sub) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, name: user.name }) };
  },
});

const page = (res, status, body) => {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`<!doctype html><html><body>${body}</body></html>`);
};
const loginForm = (uid, error) => `${error ? '<p>Wrong login or password.</p>' : ''}
<form method="post" action="/interaction/${uid}/login">
<input name="login" autocomplete="username"><input name="password" type="password" autocomplete="current-password">
<button type="submit">Sign in</button></form>`;
const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { body += chunk; if (body.length > 8192) req.destroy(); });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

// grant records the consent the interaction asks for (all requested scopes and claims).
async function grant(req, res, details) {
  const { prompt: { details: missing }, params, session: { accountId }, grantId } = details;
  const g = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) g.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) g.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) g.addResourceScope(indicator, scopes.join(' '));
  await provider.interactionFinished(req, res, { consent: { grantId: await g.save() } }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, path) {
  const [uid, action] = path.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, 'Stale sign-in.');
  const prompt = details.prompt.name;
  if (req.method === 'GET' && prompt === 'login') return page(res, 200, loginForm(uid, false));
  if (req.method === 'GET' && prompt === 'consent') {
    if (!consentForm) return grant(req, res, details); // first-party client: no consent screen
    return page(res, 200, `<form method="post" action="/interaction/${uid}/confirm"><button type="submit">Allow</button></form>`);
  }
  if (req.method === 'POST' && action === 'login' && prompt === 'login') {
    const form = await readForm(req);
    const ok = form.get('login') === user.login && timingSafeEqual(hash(form.get('password') || ''), user.hash);
    if (!ok) return page(res, 200, loginForm(uid, true));
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'confirm' && prompt === 'consent') return grant(req, res, details);
  return page(res, 400, 'Unexpected step.');
}

const callback = provider.callback();
createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res, req.url.slice('/interaction/'.length)).catch((err) => {
      if (!res.headersSent) page(res, 400, 'Sign-in failed.');
      if (process.env.DEBUG) console.error(err);
    });
    return;
  }
  callback(req, res);
}).listen(port, '127.0.0.1', () => console.log(`oidc-provider 9.13.3 on ${issuer}`));
