#!/usr/bin/env node
// store-bench-login: whole logins against one host as fast as a few
// clients can go, for make bench-store.  Each login is a new browser (no
// cookie, so the consent page each time): GET /authorize, POST Approve,
// the IdP stand-in's redirects (login_hint logs in), GET /callback, POST
// /token.  Figures, not a test.
//
//   node store-bench-login.mjs --base http://127.0.0.1:P --client-id URL \
//       --redirect-uri URI --logins N --concurrency C
//
// Prints one JSON line: {"logins", "errors", "seconds", "rate" (logins
// per second), "token_p50_ms", "token_p99_ms" (the POST /token alone:
// our exchange of the code, the IdP's /token call inside it included),
// "login_p50_ms", "login_p99_ms"}.  The IdP's CA comes from
// NODE_EXTRA_CA_CERTS.
import { cookieJar } from '../standins/cookie-jar.mjs';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    base: { type: 'string' },
    'client-id': { type: 'string' },
    'redirect-uri': { type: 'string' },
    logins: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '4' },
  },
});
for (const k of ['base', 'client-id', 'redirect-uri']) {
  if (!opt[k]) { console.error(`store-bench-login: --${k} is required`); process.exit(2); }
}
const MAX_HOPS = 12;
const SCOPE = 'openid offline_access mcp:tools';

async function step(jar, url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  const c = jar.header(url);
  if (c) headers.cookie = c;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(url, res);
  return res;
}

function need(res, status, what) {
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status}`);
}

async function login() {
  const jar = cookieJar();
  const verifier = randomBytes(32).toString('base64url');
  const q = new URLSearchParams({
    response_type: 'code', client_id: opt['client-id'], redirect_uri: opt['redirect-uri'],
    state: 'bench', code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256', scope: SCOPE, resource: `${opt.base}/mcp`, login_hint: 'alice',
  });
  const t0 = performance.now();
  let res = await step(jar, `${opt.base}/authorize?${q}`);
  const page = await res.text();
  // A refusal's page says why in its first paragraph.
  const why = () => (/<p>([^<]*)/.exec(page)?.[1] ?? '').slice(0, 160);
  if (res.status !== 200) throw new Error(`GET /authorize: HTTP ${res.status}: ${why()}`);
  const m = /name="request" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('no consent form');
  res = await step(jar, `${opt.base}/authorize`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request: m[1].replace(/&amp;/g, '&'), decision: 'approve' }).toString(),
  });
  need(res, 303, 'POST /authorize');
  let url = new URL(res.headers.get('location'), opt.base).toString();
  for (let hop = 0; !url.startsWith(opt['redirect-uri']); hop++) {
    if (hop === MAX_HOPS) throw new Error('too many redirects');
    res = await step(jar, url);
    await res.arrayBuffer();
    if (res.status < 300 || res.status >= 400) throw new Error(`${new URL(url).pathname}: HTTP ${res.status}`);
    url = new URL(res.headers.get('location'), url).toString();
  }
  const code = new URL(url).searchParams.get('code');
  if (!code) throw new Error(`no code: ${new URL(url).search.slice(0, 80)}`);
  const t1 = performance.now();
  res = await fetch(`${opt.base}/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: opt['redirect-uri'],
      client_id: opt['client-id'], code_verifier: verifier, resource: `${opt.base}/mcp`,
    }).toString(),
  });
  await res.arrayBuffer();
  need(res, 200, 'POST /token');
  const t2 = performance.now();
  return { token: t2 - t1, login: t2 - t0 };
}

const pct = (xs, p) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const total = Number(opt.logins);
const tokens = [];
const logins = [];
let started = 0;
let errors = 0;
let firstError;
async function worker() {
  while (started < total) {
    started++;
    try {
      const r = await login();
      tokens.push(r.token);
      logins.push(r.login);
    } catch (e) {
      errors++;
      firstError ??= String(e?.message ?? e);
    }
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: Number(opt.concurrency) }, worker));
const seconds = (performance.now() - t0) / 1000;
tokens.sort((a, b) => a - b);
logins.sort((a, b) => a - b);
const r1 = (x) => Math.round(x * 10) / 10;
console.log(JSON.stringify({
  logins: logins.length, errors, first_error: firstError, seconds: r1(seconds),
  rate: r1(logins.length / seconds),
  token_p50_ms: r1(pct(tokens, 0.5)), token_p99_ms: r1(pct(tokens, 0.99)),
  login_p50_ms: r1(pct(logins, 0.5)), login_p99_ms: r1(pct(logins, 0.99)),
}));
process.exit(errors ? 1 : 0);
