#!/usr/bin/env node
// The official MCP SDK client doing a whole CIMD login through cimd-proxy,
// headless: the SDK's own auth() discovers the proxy's metadata, picks
// clientMetadataUrl as its client_id (SEP-991), builds the PKCE request;
// this script plays the browser (cookie jar, manual redirects, consent
// form: it reads the hidden `request` field and posts Approve), then the
// SDK exchanges the code and, on a second auth() call, refreshes.
//
//   node login-client.mjs --mcp-url http://127.0.0.1:P/mcp \
//       --client-metadata-url https://127.0.0.1:D/harness.json \
//       --redirect-uri http://127.0.0.1:9300/callback [--login-hint alice]
//       [--list-and-call TOOL [--call-args JSON]] [--print-access-token]
//
// --print-access-token puts the access token the client ends with into
// the summary as `access_token`, for a human to use (README's
// walkthrough); tests never pass it, so no log of theirs holds a token.
//
// With --list-and-call, the SDK's MCP client drives the login instead, as
// an MCP application does: it connects to --mcp-url with no token, gets
// the 401, discovers the metadata from its WWW-Authenticate and logs in
// (the same browser part), then connects again with the token, lists the
// tools and calls TOOL.  The summary then has no refresh but `mcp` (each
// request the transport made: method, path, status, whether it carried a
// token), `tools`, `call` (the tool result) and `token_sha256` (of the
// access token the client holds, never the token itself).
//
// Prints one JSON summary line; exits 1 (with the reason on stderr) when
// any step fails.  The IdP's CA comes from NODE_EXTRA_CA_CERTS.
import { cookieJar } from './cookie-jar.mjs';
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const { values: opt } = parseArgs({
  options: {
    'mcp-url': { type: 'string' },
    'client-metadata-url': { type: 'string' },
    'redirect-uri': { type: 'string' },
    'login-hint': { type: 'string' },
    'max-hops': { type: 'string', default: '12' },
    'list-and-call': { type: 'string' },
    'call-args': { type: 'string', default: '{}' },
    'print-access-token': { type: 'boolean', default: false },
  },
});
for (const k of ['mcp-url', 'client-metadata-url', 'redirect-uri']) {
  if (!opt[k]) { console.error(`login-client: --${k} is required`); process.exit(2); }
}

// One browser: cookies by host:port (cookie-jar.mjs).
const jar = cookieJar();

const summary = { consent_pages: 0, authorize_redirects: 0, hops: [] };
let expectedState;
let landing;            // the final redirect to the client

async function step(url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  const c = jar.header(url);
  if (c) headers.cookie = c;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.take(url, res);
  summary.hops.push(`${init.method ?? 'GET'} ${new URL(url).host}${new URL(url).pathname} ${res.status}`);
  return res;
}

// Follows the browser's path from the proxy's /authorize to the client's
// redirect_uri.
async function browse(start) {
  let url = start;
  let res = await step(url);
  for (let hop = 0; hop < Number(opt['max-hops']); hop++) {
    if (res.status >= 300 && res.status < 400) {
      const next = new URL(res.headers.get('location'), url).toString();
      if (next.startsWith(opt['redirect-uri'])) return new URL(next);
      url = next;
      res = await step(url);
      continue;
    }
    const body = await res.text();
    const m = /name="request" value="([^"]+)"/.exec(body);
    if (res.status === 200 && m && new URL(url).pathname === '/authorize') {
      summary.consent_pages++;
      const form = new URLSearchParams({ request: m[1].replace(/&amp;/g, '&'), decision: 'approve' });
      url = new URL('/authorize', url).toString();
      res = await step(url, {
        method: 'POST', body: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      continue;
    }
    throw new Error(`stuck at ${url}: HTTP ${res.status}: ${body.slice(0, 300)}`);
  }
  throw new Error('too many redirects');
}

const store = {};
const provider = {
  get redirectUrl() { return opt['redirect-uri']; },
  get clientMetadataUrl() { return opt['client-metadata-url']; },
  get clientMetadata() {
    return {
      client_name: 'login-client.mjs', redirect_uris: [opt['redirect-uri']],
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state() { expectedState = `st-${Math.random().toString(36).slice(2)}`; return expectedState; },
  clientInformation() { return store.client; },
  saveClientInformation(c) { store.client = c; },
  tokens() { return store.tokens; },
  saveTokens(t) { store.tokens = t; },
  saveCodeVerifier(v) { store.verifier = v; },
  codeVerifier() { return store.verifier; },
  async redirectToAuthorization(u) {
    summary.authorize_redirects++;
    if (opt['login-hint']) u.searchParams.set('login_hint', opt['login-hint']);
    summary.authorize_params = Object.fromEntries(
      [...u.searchParams].filter(([k]) => k !== 'code_challenge'));
    landing = await browse(u.toString());
  },
};

function fail(why) {
  console.error(`login-client: ${why}`);
  console.log(JSON.stringify({ ok: false, why, ...summary }));
  process.exit(1);
}

// Every request of the MCP transport and the SDK's discovery and token
// calls, as `METHOD /path STATUS` plus whether it carried a bearer token.
async function logged(url, init = {}) {
  const res = await fetch(url, init);
  const u = new URL(url);
  summary.mcp.push({
    method: init.method ?? 'GET', path: u.pathname, status: res.status,
    bearer: /^Bearer /i.test(new Headers(init.headers).get('authorization') ?? ''),
  });
  return res;
}

// The MCP client's own path: 401, discovery, login, then tools.
async function listAndCall(serverUrl) {
  summary.mcp = [];
  const open = () => new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: logged });
  const first = open();
  try {
    await new Client({ name: 'login-client.mjs', version: '1' }).connect(first);
    fail('connected without logging in');
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
  }
  if (landing === undefined) fail('the 401 did not lead to a login');
  const p = landing.searchParams;
  summary.callback = { code: p.has('code'), state_ok: p.get('state') === expectedState, iss: p.get('iss'), error: p.get('error') };
  if (!p.get('code')) fail(`no code at the redirect_uri: ${landing}`);
  await first.finishAuth(p.get('code'));
  summary.client_id = store.client?.client_id;
  summary.token_sha256 = createHash('sha256').update(store.tokens.access_token).digest('hex');
  const client = new Client({ name: 'login-client.mjs', version: '1' });
  await client.connect(open());
  summary.tools = (await client.listTools()).tools.map((t) => t.name);
  summary.call = await client.callTool({ name: opt['list-and-call'], arguments: JSON.parse(opt['call-args']) });
  await client.close();
  if (summary.call.isError) fail(`${opt['list-and-call']} answered an error`);
}

try {
  const serverUrl = new URL(opt['mcp-url']);
  const t0 = Date.now();
  if (opt['list-and-call']) {
    await listAndCall(serverUrl);
    summary.ok = true;
    console.log(JSON.stringify(summary));
    process.exit(0);
  }
  if (await auth(provider, { serverUrl }) !== 'REDIRECT') fail('first auth() did not redirect');
  const p = landing.searchParams;
  summary.callback = { code: p.has('code'), state_ok: p.get('state') === expectedState, iss: p.get('iss'), error: p.get('error') };
  if (!p.get('code')) fail(`no code at the redirect_uri: ${landing}`);
  if (await auth(provider, { serverUrl, authorizationCode: p.get('code') }) !== 'AUTHORIZED') fail('code exchange failed');
  const first = store.tokens;
  summary.login_ms = Date.now() - t0;
  summary.client_id = store.client?.client_id;
  summary.token = {
    jwt: first.access_token.split('.').length === 3,
    token_type: first.token_type,
    scope: first.scope,
    refresh_wrapped: typeof first.refresh_token === 'string' && first.refresh_token.startsWith('v1.'),
    id_token: 'id_token' in first,
  };
  // A second auth() with a refresh token refreshes; a failed refresh
  // would fall back to a new redirect, which counts as failure here.
  const before = summary.authorize_redirects;
  if (await auth(provider, { serverUrl }) !== 'AUTHORIZED' || summary.authorize_redirects !== before) fail('refresh did not work');
  summary.refresh = {
    new_access_token: store.tokens.access_token !== first.access_token,
    new_refresh_token: store.tokens.refresh_token !== first.refresh_token,
    refresh_wrapped: store.tokens.refresh_token.startsWith('v1.'),
  };
  if (opt['print-access-token']) summary.access_token = store.tokens.access_token;
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (e) {
  fail(e?.stack ?? String(e));
}
