// idp.mjs - Okta stand-in for cimd-proxy tests (oidc-provider 9, HTTPS, 127.0.0.1 only).
//
// Usage: node idp.mjs --cert server.pem --key server.key [options]
//   --port N              listen port; 0 = ephemeral (default 0)         env IDP_PORT
//   --cert FILE --key FILE  TLS certificate and key (tests/pki.sh)       env IDP_CERT, IDP_KEY
//   --client-id ID        the one public native client (default cimd-proxy-test)
//   --redirect-uri URI    registered redirect URI; repeat for each       env IDP_REDIRECT_URIS (space-separated)
//   --audience AUD        access-token aud (default api://cimd-proxy-test)
//   --at-alg ALG          access-token JWS alg, RS256|ES256 (default RS256)
//   --id-token-alg ALG    ID-token JWS alg, RS256|ES256 (default RS256)
//   --at-ttl SECONDS      access-token lifetime (default 3600)
//   --at-client-id-claim  also put `client_id` in access tokens (Okta only does so with a custom claim)
//   --typ-claim           mark each token's kind in a `typ` claim, as Keycloak does: `Bearer` in
//                         access tokens, `ID` in ID tokens (Okta marks neither)
//   --scopes "A B …"      supported scopes (default "openid offline_access profile email mcp:tools")
//   --autologin USER      log USER in without forms when no login_hint   env IDP_AUTOLOGIN
//   --keys FILE           private JWKS: loaded if present, else generated and written there
//   --record FILE         append one JSON line per /auth and /token request   env IDP_RECORD
//   --record-fetches      with --record, also one line per discovery and JWKS request (route
//                         "discovery", "jwks"), so a test counts the proxy's fetches
//   --token-delay-ms N    hold every /token answer N ms (default 0), so that a test's concurrent  env IDP_TOKEN_DELAY_MS
//                         requests overlap at the IdP
//
// Prints exactly `ready https://127.0.0.1:<port>` on stdout once listening (library notices go
// to stderr). Exits on SIGTERM/SIGINT. All state is in memory.
//
// Okta behaviour mimicked (doc/agentcore-okta.md section 5): access tokens are always JWTs with
// a fixed audience whether or not `resource` is sent; AT `sub` = login (email), `uid` = 00u… user
// id, `cid` = client id, `scp` = scope array; ID-token `sub` = the 00u… id; refresh tokens only
// with offline_access, rotated, reuse fails with invalid_grant; redirect_uri matched exactly;
// prompt=none gives a code when a session exists (doc/test-rig.md G12), else login_required.
//
// Test-only fault switch (the attack tests need bad ID tokens out of the real flow). Nothing
// changes until a fault is armed; each armed fault applies to the next matching /token answer
// only, then disarms itself:
//   POST /_fault?id_token=KIND   the next token response's id_token is altered:
//          wrong-nonce  nonce replaced, re-signed with the real key (same header, same kid)
//          foreign-key  the claims unchanged, signed by a fresh key of the same alg, same kid
//          wrong-aud    aud = "other-client", re-signed with the real key
//          wrong-iss    iss = "https://evil.example.test", re-signed with the real key
//          expired      iat/exp an hour in the past, re-signed with the real key
//   POST /_fault?token=ERROR      the next /token request (after the IdP handled it, so a code
//          is used up) answers 400 {"error":ERROR}; ERROR=500 answers 500 server_error instead
//   POST /_fault                  disarm everything
//   GET  /_fault                  what is armed, as JSON {"id_token":…,"token":…}
// /_fault requests are never recorded.
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import * as querystring from 'node:querystring';
import Provider, { interactionPolicy } from 'oidc-provider';
import {
  calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT,
} from 'jose';

// oidc-provider prints development notices with console.info; keep stdout for `ready`.
console.info = console.warn;

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.IDP_PORT || '0' },
    cert: { type: 'string', default: process.env.IDP_CERT },
    key: { type: 'string', default: process.env.IDP_KEY },
    'client-id': { type: 'string', default: 'cimd-proxy-test' },
    'redirect-uri': { type: 'string', multiple: true, default: (process.env.IDP_REDIRECT_URIS || '').split(' ').filter(Boolean) },
    audience: { type: 'string', default: 'api://cimd-proxy-test' },
    'at-alg': { type: 'string', default: 'RS256' },
    'id-token-alg': { type: 'string', default: 'RS256' },
    'at-ttl': { type: 'string', default: '3600' },
    'at-client-id-claim': { type: 'boolean', default: false },
    'typ-claim': { type: 'boolean', default: false },
    scopes: { type: 'string', default: 'openid offline_access profile email mcp:tools' },
    autologin: { type: 'string', default: process.env.IDP_AUTOLOGIN },
    keys: { type: 'string' },
    record: { type: 'string', default: process.env.IDP_RECORD },
    'record-fetches': { type: 'boolean', default: false },
    'token-delay-ms': { type: 'string', default: process.env.IDP_TOKEN_DELAY_MS || '0' },
  },
});
if (!opt.cert || !opt.key) {
  console.error('idp.mjs: --cert and --key are required');
  process.exit(2);
}
if (opt['redirect-uri'].length === 0) {
  console.error('idp.mjs: at least one --redirect-uri is required');
  process.exit(2);
}
const scopes = opt.scopes.split(/[\s,]+/).filter(Boolean);

// Users: any login works. The 00u… id is derived from the login so it is stable across runs
// and easy to predict in tests: alice -> 00ualice000000000000 (20 chars, like Okta's ids).
const logins = new Map(); // uid -> login
function uidFor(hint) {
  const login = hint.includes('@') ? hint.toLowerCase() : `${hint.toLowerCase()}@example.test`;
  const local = login.split('@')[0].replace(/[^a-z0-9]/g, '').slice(0, 17);
  const uid = `00u${local}`.padEnd(20, '0');
  logins.set(uid, login);
  return uid;
}
['alice', 'bob', 'carol'].forEach(uidFor);

async function signingKeys() {
  if (opt.keys && existsSync(opt.keys)) return JSON.parse(readFileSync(opt.keys, 'utf8'));
  const keys = [];
  for (const alg of ['RS256', 'ES256']) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    // A thumbprint in the kid keeps kids distinct between two instances (key-rotation tests).
    jwk.kid = `${alg}-${(await calculateJwkThumbprint(jwk)).slice(0, 8)}`;
    keys.push({ ...jwk, alg, use: 'sig' });
  }
  const jwks = { keys };
  if (opt.keys) writeFileSync(opt.keys, JSON.stringify(jwks), { mode: 0o644 });
  return jwks;
}

// The fault switch (see the header).
const ID_TOKEN_FAULTS = ['wrong-nonce', 'foreign-key', 'wrong-aud', 'wrong-iss', 'expired'];
const fault = { id_token: null, token: null };

async function alterIdToken(idToken, kind, jwks) {
  const header = decodeProtectedHeader(idToken);
  const claims = decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  let key;
  if (kind === 'foreign-key') {
    key = (await generateKeyPair(header.alg)).privateKey;
  } else {
    key = await importJWK(jwks.keys.find((k) => k.kid === header.kid), header.alg);
  }
  if (kind === 'wrong-nonce') claims.nonce = `wrong-${randomBytes(8).toString('hex')}`;
  if (kind === 'wrong-aud') claims.aud = 'other-client';
  if (kind === 'wrong-iss') claims.iss = 'https://evil.example.test';
  if (kind === 'expired') { claims.iat = now - 7200; claims.exp = now - 3600; }
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

// POST|GET /_fault: arms, disarms or shows the fault switch; answers itself.
function faultRoute(ctx) {
  if (ctx.method === 'GET') {
    ctx.body = { ...fault };
    return;
  }
  if (ctx.method !== 'POST') {
    ctx.status = 405;
    return;
  }
  const { id_token: idt, token } = ctx.query;
  if (idt !== undefined && !ID_TOKEN_FAULTS.includes(idt)) {
    ctx.status = 400;
    ctx.body = { error: `id_token fault must be one of ${ID_TOKEN_FAULTS.join(', ')}` };
    return;
  }
  if (token !== undefined && !/^[a-z_0-9]+$/.test(token)) {
    ctx.status = 400;
    ctx.body = { error: 'token fault must be an OAuth error code or 500' };
    return;
  }
  if (idt === undefined && token === undefined) {
    fault.id_token = null;
    fault.token = null;
  }
  if (idt !== undefined) fault.id_token = idt;
  if (token !== undefined) fault.token = token;
  ctx.body = { ...fault };
}

// After the token endpoint answered: applies an armed fault to that answer.
async function applyTokenFault(ctx, jwks) {
  if (ctx.path !== '/token' || ctx.method !== 'POST') return;
  if (fault.token) {
    const err = fault.token;
    fault.token = null;
    ctx.status = err === '500' ? 500 : 400;
    ctx.body = err === '500'
      ? { error: 'server_error', error_description: 'fault injected' }
      : { error: err, error_description: 'fault injected' };
    return;
  }
  if (fault.id_token && ctx.status === 200 && ctx.body && typeof ctx.body === 'object'
      && typeof ctx.body.id_token === 'string') {
    const kind = fault.id_token;
    fault.id_token = null;
    ctx.body = { ...ctx.body, id_token: await alterIdToken(ctx.body.id_token, kind, jwks) };
  }
}

function record(ctx, query) {
  if (!opt.record) return;
  const route = ctx.oidc?.route;
  const fetches = opt['record-fetches'] && (route === 'discovery' || route === 'jwks');
  if (route !== 'authorization' && route !== 'token' && !fetches) return;
  const params = { ...query, ...(ctx.oidc?.body || {}) };
  let error;
  if (ctx.body && typeof ctx.body === 'object' && !Buffer.isBuffer(ctx.body)) error = ctx.body.error;
  const line = {
    time: new Date().toISOString(),
    route,
    method: ctx.method,
    path: ctx.path,
    status: ctx.status,
    grant_type: params.grant_type,
    client_id: params.client_id,
    redirect_uri: params.redirect_uri,
    prompt: params.prompt,
    scope: params.scope,
    login_hint: params.login_hint,
    code_challenge_method: params.code_challenge_method,
    code_challenge_present: 'code_challenge' in params,
    code_verifier_present: 'code_verifier' in params,
    resource_present: 'resource' in params,
    authorization_header_present: 'authorization' in ctx.headers,
    user_agent: ctx.get('user-agent') || undefined,
    params,
    location: ctx.response.get('location') || undefined,
    error,
  };
  appendFileSync(opt.record, `${JSON.stringify(line)}\n`);
}

// Finish the current interaction: login as `login`, or grant everything that was asked for.
async function finishInteraction(provider, ctx, details, login) {
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: uidFor(login) } };
  } else {
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    if (missingOIDCScope) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, s] of Object.entries(missingResourceScopes || {})) {
      grant.addResourceScope(indicator, s.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(to);
}

async function readForm(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return querystring.parse(Buffer.concat(chunks).toString());
}

const server = createServer({ cert: readFileSync(opt.cert), key: readFileSync(opt.key) });
server.listen(Number(opt.port), '127.0.0.1', async () => {
  const issuer = `https://127.0.0.1:${server.address().port}`;
  const policy = interactionPolicy.base();
  policy.get('consent').checks.remove('native_client_prompt'); // doc/test-rig.md G12: Okta-like SSO
  const resourceServer = {
    scope: scopes.join(' '), // so AT `scope`/`scp` list every granted scope, as Okta's do
    audience: opt.audience,
    accessTokenFormat: 'jwt',
    accessTokenTTL: Number(opt['at-ttl']),
    jwt: { sign: { alg: opt['at-alg'] } },
  };

  const jwks = await signingKeys();
  const provider = new Provider(issuer, {
    clients: [{
      client_id: opt['client-id'],
      token_endpoint_auth_method: 'none',
      // oidc-provider refuses https loopback redirect URIs for native clients (RFC 8252 7.2
      // reserves https for claimed URIs); Okta does not, and the proxy over TLS on 127.0.0.1
      // (login-tls.test) registers one.
      application_type: opt['redirect-uri'].some((u) => u.startsWith('https:')) ? 'web' : 'native',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: opt['redirect-uri'],
      id_token_signed_response_alg: opt['id-token-alg'],
    }],
    jwks,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes,
    claims: { openid: opt['typ-claim'] ? ['sub', 'typ'] : ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username'] },
    conformIdTokenClaims: false, // put profile/email claims in the ID token, as Okta does
    findAccount: (ctx, id) => {
      const login = logins.get(id);
      if (!login) return undefined;
      return {
        accountId: id,
        claims: () => ({ ...(opt['typ-claim'] ? { typ: 'ID' } : {}), sub: id, email: login, email_verified: true, preferred_username: login, name: login.split('@')[0] }),
      };
    },
    interactions: { policy },
    // Okta asks first-party users for no consent: whatever the client requests is granted,
    // also after a grant was revoked (refresh-token reuse), so prompt=none keeps working.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      const grant = (grantId && await oidc.provider.Grant.find(grantId))
        || new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
      for (const [indicator, rs] of Object.entries(oidc.resourceServers)) {
        grant.addResourceScope(indicator, [...oidc.requestParamScopes].filter((x) => rs.scopes.has(x)).join(' '));
      }
      await grant.save();
      return grant;
    },
    pkce: { required: () => true },
    responseTypes: ['code'],
    rotateRefreshToken: true,
    features: {
      devInteractions: { enabled: true }, // login/consent forms for real-browser tests
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        // Okta ignores `resource`: every token gets the one fixed audience.
        defaultResource: () => opt.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: () => resourceServer,
      },
    },
    formats: {
      customizers: {
        jwt(ctx, token, jwt) {
          if (token.kind !== 'AccessToken') return;
          jwt.header = { typ: undefined }; // Okta's AT header is just {kid, alg}, no at+jwt
          const p = jwt.payload;
          p.ver = 1;
          p.uid = token.accountId;
          p.sub = logins.get(token.accountId) || token.accountId;
          p.cid = token.clientId;
          p.scp = (token.scope || '').split(' ').filter(Boolean);
          if (!opt['at-client-id-claim']) delete p.client_id;
          if (opt['typ-claim']) p.typ = 'Bearer';
        },
      },
    },
  });
  // Okta compares redirect URIs exactly; oidc-provider would let native loopback ports float.
  provider.Client.prototype.redirectUriAllowed = function exact(value) {
    return this.redirectUris.includes(value);
  };

  provider.use(async (ctx, next) => {
    // Okta serves its metadata under both well-known names.
    if (ctx.path === '/.well-known/oauth-authorization-server') ctx.path = '/.well-known/openid-configuration';
    if (ctx.path === '/_fault') return faultRoute(ctx);
    if (!/^\/interaction\/[^/]+$/.test(ctx.path)) {
      const query = { ...ctx.query };
      // oidc-provider drops offline_access unless prompt=consent (OIDC Core 11); Okta does
      // not. Asking for consent keeps it; the consent interaction below grants it (headless
      // with login_hint/--autologin, else via the form). The record keeps the original query.
      if (ctx.method === 'GET' && ctx.path === '/auth' && query.prompt === undefined
          && String(query.scope).split(' ').includes('offline_access')) {
        ctx.query = { ...query, prompt: 'consent' };
      }
      try {
        if (ctx.path === '/token' && Number(opt['token-delay-ms']) > 0) {
          await new Promise((resolve) => setTimeout(resolve, Number(opt['token-delay-ms'])));
        }
        await next();
        if (fault.token || fault.id_token) await applyTokenFault(ctx, jwks);
      } finally { record(ctx, query); }
      return;
    }
    // Interactions: GET with login_hint/autologin finishes headlessly; POST handles the
    // devInteractions forms, so that a typed login also maps to its 00u… id.
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (ctx.method === 'POST') {
      const form = await readForm(ctx.req);
      if (form.prompt === 'login' && !form.login) ctx.throw(400, 'login required');
      return finishInteraction(provider, ctx, details, form.login);
    }
    const login = details.params.login_hint || opt.autologin;
    if (ctx.method === 'GET' && login) return finishInteraction(provider, ctx, details, login);
    return next();
  });

  server.on('request', provider.callback());
  process.stdout.write(`ready ${issuer}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
