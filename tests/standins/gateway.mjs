// gateway.mjs - Amazon Bedrock AgentCore Gateway stand-in (MCP server, CUSTOM_JWT authorizer)
// plus the AgentCore Identity stand-in (agentcore.mjs) in the same process, for cimd-proxy tests.
// Loopback only. Test-only endpoints are unauthenticated by design.
//
// Usage: node gateway.mjs [options]
//  MCP gateway (plain HTTP unless --tls-cert/--tls-key):
//   --port N                 listen port, 0 = ephemeral (default 0)               env GATEWAY_PORT
//   --tls-cert F --tls-key F serve the gateway over HTTPS
//   --issuer URL             required `iss`; also discovery base if no JWKS flag
//   --discovery-url URL      OIDC discovery document (default <issuer>/.well-known/openid-configuration)
//   --jwks-url URL           JWKS URL (skips discovery); HTTPS trusts NODE_EXTRA_CA_CERTS
//   --jwks-file F            local JWKS file (tests without an IdP)
//   --allowed-audience A     allowedAudience, comma-separated or repeated (empty = not checked)
//   --allowed-clients C      allowedClients, comma-separated or repeated (empty = not checked)
//   --client-claim X         claim(s) allowedClients is matched against: any (client_id, else cid;
//                            default) | client_id (real AgentCore) | cid
//   --allowed-scopes S       allowedScopes, at least one token scope must match (empty = not checked)
//   --scope-hint S           scope= in WWW-Authenticate and PRM scopes_supported (default mcp:tools)
//   --public-url URL         gateway origin used in PRM / resource_metadata (default http(s)://127.0.0.1:<port>)
//   --stateless              no Mcp-Session-Id; fresh server+transport per request
//   --json-response          SDK enableJsonResponse (plain JSON instead of SSE for every response)
//   --resumable              SDK in-memory event store (priming events, Last-Event-ID replay)
//   --get-405                answer GET /mcp with 405 (no standalone SSE stream)
//   --sdk2                   serve /mcp with @modelcontextprotocol/server 2.4.0 (createMcpHandler): MCP
//                            2026-07-28 per request (Mcp-Method/Mcp-Name checked by the SDK, subscriptions/listen
//                            streams), 2025-era requests stateless, GET and DELETE answered 405 by the SDK.
//                            Tools: echo{text}; resource file:///projects/myapp/config.json
//   --no-require-protocol-version  do not enforce MCP-Protocol-Version after initialize
//   --mcp-session-ttl SEC    absolute MCP session lifetime (default 3600)
//   --elicit-delivery D      default delivery of github_repos' elicitation: sse|json|http401|mrtr|mrtr_sse
//   --cache-control V        every /mcp answer carries Cache-Control: V instead of its own
//   --record F               append one JSON line per received HTTP request     env GATEWAY_RECORD
//  AgentCore Identity (HTTPS when --agentcore-cert/--agentcore-key given, else HTTP):
//   --agentcore-port N       (default 0)
//   --agentcore-cert F --agentcore-key F
//   --agentcore-origin URL   origin put into elicitation URLs (default https://127.0.0.1:<port>)
//   --region R               SigV4 region (default us-east-1)
//   --aws-access-key-id K    (default AKIDCIMDPROXYTEST)
//   --aws-secret-access-key S (default cimd-proxy-test-secret)
//   --aws-session-token T    require X-Amz-Security-Token = T
//   --return-url URL         where the consent step redirects (the proxy's /sessionbinding/callback)
//   --session-ttl SEC        session URI lifetime (default 600)
//   --authorize-reuse        allow visiting one consent URL more than once
//   --agentcore-record F     append one JSON line per AgentCore call
//
// Prints `ready <mcp url> <agentcore url>` on stdout once both listen. Exits on SIGTERM/SIGINT.
//
// Gateway endpoints:
//   POST/GET/DELETE /mcp                         MCP Streamable HTTP (SDK 1.32.2), bearer JWT required
//   GET /.well-known/oauth-protected-resource[/mcp]   PRM, unauthenticated
//   GET /_records, POST /_reset[?all=1]          request log (test only); all=1 also clears vault,
//                                                pending sessions, AgentCore calls and MCP sessions
//   POST|GET /_fixed                             instant fixed JSON-RPC result (relay benchmarks)
//   POST /_ack?id=ID&i=N                         the client got notification N of slow{ack: ID}
//   POST /_notify                                --sdk2: notifications/tools/list_changed to every open
//                                                subscriptions/listen stream that asked for it
// Tools: echo{text}, whoami, slow{count,interval_ms,ack?}, broadcast{text} (log notification on the
//   standalone GET stream), github_repos{delivery?, session_uri?, origin?} (3LO target: -32042
//   until AgentCore completion; session_uri: elicit for that session URI again instead of a new
//   one; origin: the elicitation URL's origin instead of the AgentCore stand-in's).
// Records of hand-written deliveries carry response_sha256, the SHA-256 of the body sent.
//
// Elicitation deliveries of github_repos (argument `delivery`, else --elicit-delivery):
//   sse      thrown UrlElicitationRequiredError through the SDK -> text/event-stream event
//            (or application/json with --json-response)
//   json     hand-written 200 application/json JSON-RPC error -32042
//   http401  hand-written 401 application/json JSON-RPC error -32042, no WWW-Authenticate
//            (what LibreChat reports AgentCore does, danny-avila/LibreChat#13267)
//   mrtr     hand-written 200 application/json MCP 2026-07-28 InputRequiredResult (see mrtrResult)
//   mrtr_sse same InputRequiredResult as one SSE event
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import * as jose from 'jose';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { InMemoryEventStore } from '@modelcontextprotocol/sdk/examples/shared/inMemoryEventStore.js';
import { UrlElicitationRequiredError, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createAgentCoreState, startAgentCore, sha256hex } from './agentcore.mjs';
import { McpServer as McpServer2, createMcpHandler } from '@modelcontextprotocol/server';

const list = (v) => (v || []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.GATEWAY_PORT || '0' },
    host: { type: 'string', default: '127.0.0.1' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    issuer: { type: 'string' },
    'discovery-url': { type: 'string' },
    'jwks-url': { type: 'string' },
    'jwks-file': { type: 'string' },
    'allowed-audience': { type: 'string', multiple: true },
    'allowed-clients': { type: 'string', multiple: true },
    'client-claim': { type: 'string', default: 'any' },
    'allowed-scopes': { type: 'string', multiple: true },
    'scope-hint': { type: 'string', default: 'mcp:tools' },
    'public-url': { type: 'string' },
    stateless: { type: 'boolean', default: false },
    'json-response': { type: 'boolean', default: false },
    resumable: { type: 'boolean', default: false },
    'get-405': { type: 'boolean', default: false },
    sdk2: { type: 'boolean', default: false },
    'no-require-protocol-version': { type: 'boolean', default: false },
    'mcp-session-ttl': { type: 'string', default: '3600' },
    'elicit-delivery': { type: 'string', default: 'sse' },
    'cache-control': { type: 'string' },
    record: { type: 'string', default: process.env.GATEWAY_RECORD },
    'agentcore-port': { type: 'string', default: '0' },
    'agentcore-cert': { type: 'string' },
    'agentcore-key': { type: 'string' },
    'agentcore-origin': { type: 'string' },
    region: { type: 'string', default: 'us-east-1' },
    'aws-access-key-id': { type: 'string', default: 'AKIDCIMDPROXYTEST' },
    'aws-secret-access-key': { type: 'string', default: 'cimd-proxy-test-secret' },
    'aws-session-token': { type: 'string' },
    'return-url': { type: 'string' },
    'session-ttl': { type: 'string', default: '600' },
    'authorize-reuse': { type: 'boolean', default: false },
    'agentcore-record': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const DELIVERIES = ['sse', 'json', 'http401', 'mrtr', 'mrtr_sse'];
if (!DELIVERIES.includes(opt['elicit-delivery'])) {
  console.error(`gateway.mjs: --elicit-delivery must be one of ${DELIVERIES.join('|')}`);
  process.exit(2);
}
if (!opt.issuer) {
  console.error('gateway.mjs: --issuer is required');
  process.exit(2);
}
if (!['any', 'cid', 'client_id'].includes(opt['client-claim'])) {
  console.error('gateway.mjs: --client-claim must be any|cid|client_id');
  process.exit(2);
}
const log = (m) => { if (opt.verbose) process.stderr.write(`[gateway] ${m}\n`); };

const cfg = {
  issuer: opt.issuer,
  audiences: list(opt['allowed-audience']),
  clients: list(opt['allowed-clients']),
  scopes: list(opt['allowed-scopes']),
  clientClaim: opt['client-claim'],
  scopeHint: opt['scope-hint'],
  requireVersion: !opt['no-require-protocol-version'],
  sessionTtlMs: Number(opt['mcp-session-ttl']) * 1000,
  elicitDelivery: opt['elicit-delivery'],
};

// ---------------------------------------------------------------- shared state
const ac = createAgentCoreState({ sessionTtlSeconds: Number(opt['session-ttl']) });
let agentcoreOrigin; // set after listen
let publicUrl; // gateway origin
const records = [];
const sessions = new Map(); // sid -> { transport, server, sub, createdAt }

// ---------------------------------------------------------------- JWT authorizer
let keySet = null;
async function getKeySet() {
  if (keySet) return keySet;
  if (opt['jwks-file']) {
    keySet = jose.createLocalJWKSet(JSON.parse(fs.readFileSync(opt['jwks-file'], 'utf8')));
  } else if (opt['jwks-url']) {
    keySet = jose.createRemoteJWKSet(new URL(opt['jwks-url']));
  } else {
    const du = opt['discovery-url'] || opt.issuer.replace(/\/$/, '') + '/.well-known/openid-configuration';
    const r = await fetch(du, { signal: AbortSignal.timeout(5000) });
    if (!r.ok) throw new Error(`discovery ${du} -> HTTP ${r.status}`);
    const d = await r.json();
    if (!d.jwks_uri) throw new Error('discovery document has no jwks_uri');
    keySet = jose.createRemoteJWKSet(new URL(d.jwks_uri));
  }
  return keySet;
}

async function authenticate(req) {
  const h = req.headers.authorization;
  const m = h && /^Bearer[ ]+([^\s]+)\s*$/i.exec(h);
  if (!m) return { ok: false, status: 401, why: 'no bearer token' };
  const token = m[1];
  let claims;
  try {
    const ks = await getKeySet();
    ({ payload: claims } = await jose.jwtVerify(token, ks, {
      issuer: cfg.issuer,
      audience: cfg.audiences.length ? cfg.audiences : undefined,
      algorithms: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'],
      clockTolerance: 5,
      requiredClaims: ['exp'],
    }));
  } catch (e) {
    return { ok: false, status: 401, why: `jwt: ${e.code || ''} ${e.message}` };
  }
  if (cfg.clients.length) {
    const c = cfg.clientClaim === 'cid' ? claims.cid
      : cfg.clientClaim === 'client_id' ? claims.client_id
      : (claims.client_id ?? claims.cid);
    if (!cfg.clients.includes(c)) return { ok: false, status: 401, why: `client ${c} not in allowedClients` };
  }
  const scopes = Array.isArray(claims.scp) ? claims.scp
    : typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  if (cfg.scopes.length && !scopes.some((s) => cfg.scopes.includes(s))) {
    return { ok: false, status: 403, why: 'no allowed scope', insufficientScope: true };
  }
  return { ok: true, token, claims, scopes };
}

function prmUrl() { return `${publicUrl}/.well-known/oauth-protected-resource`; }

function sendAuthFailure(res, a) {
  const err = a.insufficientScope ? 'insufficient_scope' : 'invalid_token';
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: a.insufficientScope ? 'Insufficient scope' : 'Invalid Bearer token' } });
  res.writeHead(a.status, {
    'WWW-Authenticate': `Bearer error="${err}", scope="${cfg.scopeHint}", resource_metadata="${prmUrl()}"`,
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

// ---------------------------------------------------------------- helpers
// --cache-control: whatever headers an answer is written with (the SDK's own included),
// its Cache-Control is the one given.
function forceCacheControl(res, value) {
  const writeHead = res.writeHead.bind(res);
  res.writeHead = (status, ...rest) => {
    for (const h of rest) {
      if (h && typeof h === 'object' && !Array.isArray(h)) {
        for (const k of Object.keys(h)) if (k.toLowerCase() === 'cache-control') delete h[k];
      }
    }
    res.setHeader('Cache-Control', value);
    return writeHead(status, ...rest);
  };
}
function sendJson(res, status, obj, extraHeaders = {}) {
  const b = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b), ...extraHeaders });
  res.end(b);
}
const rpcError = (id, code, message, data) => ({ jsonrpc: '2.0', id: id ?? null, error: data === undefined ? { code, message } : { code, message, data } });

const ELICIT_ERROR_MESSAGE = 'This request requires more information.';
const ELICIT_ENTRY_MESSAGE = 'Please login to this URL for authorization.';
const META_KEY = 'aws.bedrock-agentcore.gateway/credentialProviderConfiguration';

// Registers a pending AgentCore session for (exact bearer token, user) and returns
// {elicitationId, url, sessionUri}. Vault key is the token's `sub`, like AgentCore.
function issueElicitation(token, claims, meta, args = {}) {
  const returnUrl = meta?.[META_KEY]?.oauthCredentialProvider?.returnUrl;
  const el = ac.registerPending({ token, sub: claims.sub, uid: claims.uid, returnUrl,
    origin: typeof args.origin === 'string' ? args.origin : agentcoreOrigin,
    reuse: typeof args.session_uri === 'string' ? args.session_uri : undefined });
  log(`elicitation ${el.elicitationId} for sub=${claims.sub} ${el.sessionUri}`);
  return el;
}
function needsElicitation(claims, meta) {
  const force = meta?.[META_KEY]?.oauthCredentialProvider?.forceAuthentication === true;
  return force || !ac.vaultGet(claims.sub);
}
function elicitationErrorBody(id, el) {
  return rpcError(id, -32042, ELICIT_ERROR_MESSAGE, {
    elicitations: [{ mode: 'url', elicitationId: el.elicitationId, url: el.url, message: ELICIT_ENTRY_MESSAGE }],
  });
}
// MCP 2026-07-28 multi round-trip result. Spec text followed (modelcontextprotocol/modelcontextprotocol):
//  - schema/2026-07-28/schema.ts (commit 1898711f): `InputRequiredResult extends Result { inputRequests?:
//    InputRequests; requestState?: string }`, `Result.resultType: "complete" | "input_required"`,
//    `InputRequests { [key: string]: InputRequest }`, `InputRequest = CreateMessageRequest | ListRootsRequest |
//    ElicitRequest`, `ElicitRequest { method: "elicitation/create"; params: ElicitRequestParams }` (no jsonrpc/id),
//    `ElicitRequestURLParams { mode: "url"; message: string; url: string }` (no elicitationId in this version;
//    -32042 is reserved as "URL elicitation required, 2025-11-25 only").
//  - docs/specification/2026-07-28/basic/patterns/mrtr.mdx "InputRequiredResult": JSON-RPC result
//    {"resultType":"input_required","inputRequests":{<key>:{"method":"elicitation/create","params":{…}}},
//    "requestState":"…"}; keys are server-assigned and unique within the request; at least one of
//    inputRequests/requestState MUST be present; tools/call may return it.
//  - docs/specification/2026-07-28/client/elicitation.mdx "URL Mode Elicitation Requests": params are
//    mode "url", message, url; the client retries the original request with inputResponses
//    ({"action":"accept"}) and the echoed requestState.
// We key the input request by the elicitation id and put an opaque (unsigned, never trusted) requestState;
// on retry the vault decides, as AgentCore does.
function mrtrResult(id, el) {
  return {
    jsonrpc: '2.0',
    id,
    result: {
      resultType: 'input_required',
      inputRequests: {
        [el.elicitationId]: {
          method: 'elicitation/create',
          params: { mode: 'url', message: ELICIT_ENTRY_MESSAGE, url: el.url },
        },
      },
      requestState: Buffer.from(JSON.stringify({ e: el.elicitationId, t: Date.now() })).toString('base64url'),
    },
  };
}

function writeSseEvent(res, obj, headers = {}) {
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', ...headers });
  res.end(`event: message\ndata: ${JSON.stringify(obj)}\n\n`);
}

// Hand-written deliveries (json, http401, mrtr, mrtr_sse). Returns true if it answered.
function maybeRawElicitation(req, res, body, a, sid) {
  if (req.method !== 'POST' || !body || body.method !== 'tools/call' || body.params?.name !== 'github_repos') return false;
  const delivery = body.params?.arguments?.delivery ?? cfg.elicitDelivery;
  if (delivery === 'sse' || !DELIVERIES.includes(delivery)) return false;
  const meta = body.params?._meta;
  if (!needsElicitation(a.claims, meta)) return false; // vault has a token: SDK answers normally
  const el = issueElicitation(a.token, a.claims, meta, body.params?.arguments);
  const h = sid ? { 'mcp-session-id': sid } : {};
  const obj = delivery === 'mrtr' || delivery === 'mrtr_sse' ? mrtrResult(body.id, el) : elicitationErrorBody(body.id, el);
  if (req.record) {
    const text = JSON.stringify(obj);
    req.record.response_sha256 = sha256hex(delivery === 'mrtr_sse' ? `event: message\ndata: ${text}\n\n` : text);
  }
  if (delivery === 'json') sendJson(res, 200, obj, h);
  else if (delivery === 'http401') sendJson(res, 401, obj, h);
  else if (delivery === 'mrtr') sendJson(res, 200, obj, h);
  else if (delivery === 'mrtr_sse') writeSseEvent(res, obj, h);
  return true;
}

// ---------------------------------------------------------------- MCP server
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (t) => ({ content: [{ type: 'text', text: t }] });

// Lockstep streaming: slow{ack: ID} sends notification N + 1 only after
// the client said (POST /_ack?id=ID&i=N, out of band) that N arrived, so
// a relay that holds events back stalls the tool instead of passing a
// timing check by luck.  An ack may come before its waiter.
const ACK_TIMEOUT_MS = 15000;
const ACK_MAX_PENDING = 1000;
const acks = new Map();         // `${id}:${i}` -> { done } | { resolve }
function ackArrived(id, i) {
  const k = `${id}:${i}`;
  const e = acks.get(k);
  if (e?.resolve) e.resolve();
  else if (acks.size < ACK_MAX_PENDING) acks.set(k, { done: true });
}
function ackWait(id, i) {
  const k = `${id}:${i}`;
  if (acks.get(k)?.done) { acks.delete(k); return Promise.resolve(true); }
  return new Promise((resolve) => {
    const tm = setTimeout(() => { acks.delete(k); resolve(false); }, ACK_TIMEOUT_MS);
    acks.set(k, { resolve: () => { clearTimeout(tm); acks.delete(k); resolve(true); } });
  });
}

function makeServer() {
  const server = new McpServer(
    { name: 'agentcore-gateway-standin', version: '1.0.0' },
    { capabilities: { logging: {}, tools: {} } },
  );
  server.registerTool('echo', {
    description: 'Returns its text',
    inputSchema: { text: z.string() },
  }, async ({ text: t }) => text(t));

  server.registerTool('whoami', {
    description: 'Returns claims of the verified bearer token',
    inputSchema: {},
  }, async (_args, extra) => {
    const c = extra.authInfo?.extra?.claims || {};
    return text(JSON.stringify({ uid: c.uid, sub: c.sub, cid: c.cid, client_id: c.client_id, scp: c.scp, aud: c.aud, iss: c.iss, token_sha256: sha256hex(extra.authInfo?.token) }));
  });

  server.registerTool('slow', {
    description: 'Sends `count` notifications/message spaced by `interval_ms`, then returns',
    inputSchema: { count: z.number().int().min(0).max(1000).optional(), interval_ms: z.number().int().min(0).max(60000).optional(),
      ack: z.string().max(64).optional() },
  }, async ({ count = 5, interval_ms = 200, ack }, extra) => {
    const t0 = Date.now();
    const progressToken = extra._meta?.progressToken;
    for (let i = 1; i <= count; i++) {
      if (i > 1 || interval_ms === 0) { /* first one immediately */ }
      await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', logger: 'slow', data: { i, of: count, ms: Date.now() - t0 } } });
      if (progressToken !== undefined) {
        await extra.sendNotification({ method: 'notifications/progress', params: { progressToken, progress: i, total: count } });
      }
      if (i < count && ack !== undefined && !(await ackWait(ack, i))) {
        return { ...text(`slow: notification ${i} never reached the client (no ack in ${ACK_TIMEOUT_MS} ms)`), isError: true };
      }
      if (i < count) await sleep(interval_ms);
      if (extra.signal?.aborted) break;
    }
    return text(`slow done: ${count} notifications in ${Date.now() - t0} ms`);
  });

  server.registerTool('broadcast', {
    description: 'Sends a notifications/message not tied to this request (arrives on the standalone GET SSE stream)',
    inputSchema: { text: z.string().optional() },
  }, async ({ text: t = 'broadcast' }) => {
    await server.server.notification({ method: 'notifications/message', params: { level: 'info', logger: 'broadcast', data: t } });
    return text('broadcast sent');
  });

  server.registerTool('github_repos', {
    description: '3LO tool: needs a GitHub token in the AgentCore vault for the calling user (-32042 URL elicitation otherwise)',
    inputSchema: { delivery: z.enum(DELIVERIES).optional(), session_uri: z.string().optional(), origin: z.string().optional() },
  }, async (args, extra) => {
    const a = extra.authInfo;
    const claims = a?.extra?.claims || {};
    if (needsElicitation(claims, extra._meta)) {
      const el = issueElicitation(a.token, claims, extra._meta, args);
      const err = new UrlElicitationRequiredError([
        { mode: 'url', elicitationId: el.elicitationId, url: el.url, message: ELICIT_ENTRY_MESSAGE },
      ], ELICIT_ERROR_MESSAGE);
      err.message = ELICIT_ERROR_MESSAGE; // wire message as AgentCore's, not "MCP error -32042: …"
      throw err;
    }
    const v = ac.vaultGet(claims.sub);
    return text(JSON.stringify({
      user: claims.sub,
      github_token_sha256: sha256hex(v.githubToken),
      repos: [{ full_name: 'octocat/hello-world', private: false }, { full_name: 'octocat/spoon-knife', private: false }],
    }));
  });
  return server;
}

// --sdk2: the SDK 2.x serving entry, one server instance per request.
const CONFIG_URI = 'file:///projects/myapp/config.json';
function makeServer2() {
  const server = new McpServer2(
    { name: 'agentcore-gateway-standin', version: '2.0.0' },
    { capabilities: { tools: { listChanged: true }, resources: {} } },
  );
  server.registerTool('echo', {
    description: 'Returns its text',
    inputSchema: z.object({ text: z.string() }),
  }, async ({ text: t }) => text(t));
  server.registerResource('config', CONFIG_URI, { mimeType: 'application/json' },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: '{"ok":true}' }] }));
  return server;
}
const sdk2 = opt.sdk2 ? createMcpHandler(() => makeServer2(), { legacy: 'stateless', keepAliveMs: 0 }) : null;

// Node request (body already read) -> web Request -> SDK 2.x -> node response, streamed.
async function serveSdk2(req, res, raw, a) {
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const ac = new AbortController();
  res.on('close', () => ac.abort());
  const request = new Request(`http://${req.headers.host || '127.0.0.1'}${req.url}`, {
    method: req.method, headers, signal: ac.signal,
    body: req.method === 'POST' ? raw : undefined,
  });
  const authInfo = { token: a.token, clientId: a.claims.client_id ?? a.claims.cid, scopes: a.scopes,
    expiresAt: a.claims.exp, extra: { claims: a.claims } };
  const r = await sdk2.fetch(request, { authInfo });
  const out = {};
  r.headers.forEach((v, k) => { out[k] = v; });
  if (req.record) req.record.response_status = r.status;
  res.writeHead(r.status, out);
  if (!r.body) return res.end();
  const reader = r.body.getReader();
  res.on('close', () => reader.cancel().catch(() => {}));
  for (;;) {
    let chunk;
    try { chunk = await reader.read(); } catch { break; }
    if (chunk.done) break;
    if (req.record && req.method !== 'POST') req.record.response_body = (req.record.response_body ?? '') + Buffer.from(chunk.value).toString('utf8');
    res.write(chunk.value);
  }
  res.end();
}

function newTransport(stateful) {
  return new StreamableHTTPServerTransport({
    sessionIdGenerator: stateful ? () => crypto.randomUUID() : undefined,
    enableJsonResponse: opt['json-response'],
    eventStore: opt.resumable ? new InMemoryEventStore() : undefined,
  });
}

// ---------------------------------------------------------------- recording
const RECORDED = ['mcp-session-id', 'mcp-protocol-version', 'mcp-method', 'mcp-name', 'accept', 'content-type', 'last-event-id'];
// res is watched for its end: closed_ms is when the response closed, finished whether the
// stand-in had sent all of it by then (false: the client went away mid-answer). Both are
// filled in later, so they show in /_records, not in the --record file.
function recordRequest(req, res, body, a) {
  const u = new URL(req.url, 'http://x');
  const h = req.headers;
  const m = h.authorization && /^Bearer[ ]+(\S+)/i.exec(h.authorization);
  const headers = {};
  for (const [k, v] of Object.entries(h)) headers[k] = k === 'authorization' ? '<redacted>' : v;
  const rec = {
    t: new Date().toISOString(),
    ms: Date.now(),
    method: req.method,
    path: u.pathname,
    query: u.search,
    authorization: !!h.authorization,
    token_sha256: m ? sha256hex(m[1]) : null,
    ...Object.fromEntries(RECORDED.map((n) => [n, h[n] ?? null])),
    header_names: Object.keys(h),
    headers,
    rpc_method: body?.method ?? null,
    rpc_id: body?.id ?? null,
    tool: body?.method === 'tools/call' ? body.params?.name ?? null : null,
    sub: a?.claims?.sub ?? null,
    remote_port: req.socket.remotePort ?? null,
    closed_ms: null,
    finished: null,
  };
  res.once('close', () => { rec.closed_ms = Date.now(); rec.finished = res.writableFinished; });
  req.record = rec;
  records.push(rec);
  if (opt.record) fs.appendFileSync(opt.record, JSON.stringify(rec) + '\n');
}

// ---------------------------------------------------------------- HTTP handler
async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(req, res) {
  const u = new URL(req.url, 'http://x');
  const path = u.pathname;

  // test-only endpoints (not recorded)
  if (path === '/_fixed') {
    let id = 1;
    if (req.method === 'POST') {
      const raw = await readBody(req);
      try { const b = JSON.parse(raw); if (b && b.id !== undefined) id = b.id; } catch { /* keep 1 */ }
    } else req.resume();
    return sendJson(res, 200, { jsonrpc: '2.0', id, result: { ok: true } });
  }
  if (path === '/_records' && req.method === 'GET') return sendJson(res, 200, records);
  if (path === '/_ack' && req.method === 'POST') {
    req.resume();
    ackArrived(u.searchParams.get('id') ?? '', u.searchParams.get('i') ?? '');
    return sendJson(res, 200, { ok: true });
  }
  if (path === '/_notify' && req.method === 'POST') {
    req.resume();
    if (sdk2) sdk2.notify.toolsChanged();
    return sendJson(res, sdk2 ? 200 : 404, { ok: !!sdk2 });
  }
  if (path === '/_reset' && req.method === 'POST') {
    records.length = 0;
    if (u.searchParams.get('all') === '1') {
      ac.pending.clear(); ac.vault.clear(); ac.calls.length = 0; ac.faults.length = 0;
      for (const s of sessions.values()) s.transport.close().catch(() => {});
      sessions.clear();
    }
    return sendJson(res, 200, { ok: true });
  }

  let raw = '';
  let body;
  if (req.method === 'POST') {
    raw = await readBody(req);
    try { body = JSON.parse(raw); } catch { body = undefined; }
  }

  if (path === '/.well-known/oauth-protected-resource' || path === '/.well-known/oauth-protected-resource/mcp') {
    recordRequest(req, res, body, null);
    return sendJson(res, 200, {
      authorization_servers: [cfg.issuer],
      resource: `${publicUrl}/mcp`,
      scopes_supported: [cfg.scopeHint],
      bearer_methods_supported: ['header'],
    });
  }
  if (path !== '/mcp') {
    recordRequest(req, res, body, null);
    return sendJson(res, 404, { message: 'Not Found' });
  }

  if (opt['cache-control']) forceCacheControl(res, opt['cache-control']);
  const a = await authenticate(req);
  recordRequest(req, res, body, a.ok ? a : null);
  if (!a.ok) {
    log(`401 ${req.method} ${path}: ${a.why}`);
    return sendAuthFailure(res, a);
  }
  if (sdk2) return serveSdk2(req, res, raw, a);
  if (req.method === 'POST' && body === undefined) {
    return sendJson(res, 400, rpcError(null, -32700, 'Parse error'));
  }
  if (req.method === 'GET' && opt['get-405']) {
    res.writeHead(405, { Allow: 'POST, DELETE' });
    return res.end();
  }
  req.auth = { token: a.token, clientId: a.claims.client_id ?? a.claims.cid, scopes: a.scopes, expiresAt: a.claims.exp, extra: { claims: a.claims } };
  const isInit = req.method === 'POST' && isInitializeRequest(body);

  // AgentCore enforces MCP-Protocol-Version on every request after initialize
  // (can1357/oh-my-pi#8264: "-32603 An internal error occurred. Please retry later.", JSON-RPC error).
  const versionMissing = (res) => {
    if (!cfg.requireVersion || isInit || req.headers['mcp-protocol-version']) return false;
    sendJson(res, 200, rpcError(body?.id, -32603, 'An internal error occurred. Please retry later.'));
    return true;
  };

  if (opt.stateless) {
    if (versionMissing(res)) return;
    if (maybeRawElicitation(req, res, body, a, null)) return;
    const server = makeServer();
    const transport = newTransport(false);
    res.on('close', () => { transport.close().catch(() => {}); server.close().catch(() => {}); });
    await server.connect(transport);
    return transport.handleRequest(req, res, body);
  }

  const sid = req.headers['mcp-session-id'];
  if (!sid) {
    if (!isInit) return sendJson(res, 400, rpcError(body?.id, -32000, 'Bad Request: No valid session ID provided'));
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      enableJsonResponse: opt['json-response'],
      eventStore: opt.resumable ? new InMemoryEventStore() : undefined,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server, sub: a.claims.sub, createdAt: Date.now() });
        log(`session ${id} for ${a.claims.sub}`);
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    return transport.handleRequest(req, res, body);
  }
  const s = sessions.get(sid);
  if (s && Date.now() - s.createdAt > cfg.sessionTtlMs) {
    sessions.delete(sid);
    s.transport.close().catch(() => {});
  }
  if (!s || s.sub !== a.claims.sub || Date.now() - s.createdAt > cfg.sessionTtlMs) {
    return sendJson(res, 404, rpcError(body?.id, -32001, 'Session not found'));
  }
  if (versionMissing(res)) return;
  if (maybeRawElicitation(req, res, body, a, sid)) return;
  return s.transport.handleRequest(req, res, body);
}

// ---------------------------------------------------------------- start
const onReq = (req, res) => {
  handle(req, res).catch((e) => {
    process.stderr.write(`[gateway] handler error: ${e?.stack || e}\n`);
    if (!res.headersSent) sendJson(res, 500, rpcError(null, -32603, 'stand-in error: ' + e?.message));
    else res.destroy();
  });
};
const tls = opt['tls-cert'] && opt['tls-key'];
const gw = tls
  ? https.createServer({ cert: fs.readFileSync(opt['tls-cert']), key: fs.readFileSync(opt['tls-key']) }, onReq)
  : http.createServer(onReq);
gw.keepAliveTimeout = 65000;

await new Promise((resolve, reject) => {
  gw.once('error', reject);
  gw.listen(Number(opt.port), opt.host, resolve);
});
const gwPort = gw.address().port;
publicUrl = (opt['public-url'] || `${tls ? 'https' : 'http'}://127.0.0.1:${gwPort}`).replace(/\/$/, '');

const acServer = await startAgentCore(ac, {
  host: opt.host,
  port: Number(opt['agentcore-port']),
  cert: opt['agentcore-cert'],
  key: opt['agentcore-key'],
  region: opt.region,
  accessKeyId: opt['aws-access-key-id'],
  secretAccessKey: opt['aws-secret-access-key'],
  sessionToken: opt['aws-session-token'],
  returnUrl: opt['return-url'],
  recordFile: opt['agentcore-record'],
  authorizeReuse: opt['authorize-reuse'],
  log,
});
const acPort = acServer.address().port;
const acUrl = `${opt['agentcore-cert'] ? 'https' : 'http'}://127.0.0.1:${acPort}`;
agentcoreOrigin = (opt['agentcore-origin'] || acUrl).replace(/\/$/, '');

const shutdown = () => {
  for (const s of sessions.values()) s.transport.close().catch(() => {});
  gw.closeAllConnections?.();
  acServer.closeAllConnections?.();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

process.stdout.write(`ready ${publicUrl}/mcp ${acUrl}\n`);
