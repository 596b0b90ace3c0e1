// AgentCore Identity stand-in (test only, loopback only).
//
// Imported by gateway.mjs, which runs it in the same node process so the two
// share state: the gateway registers a pending session URI when its 3LO tool
// elicits, and this server completes it on CompleteResourceTokenAuth and puts
// a fake "GitHub token" in the vault keyed by the inbound token's `sub`
// (like AgentCore keys its token vault by the user identity).
//
// Wire behaviour follows doc/agentcore-okta.md section 1-2:
//   POST /identities/CompleteResourceTokenAuth   (SigV4, service bedrock-agentcore)
//     body {"sessionUri": "urn:ietf:params:oauth:request_uri:<[A-Za-z0-9-._~]+>",
//           "userIdentifier": {"userToken": "<compact JWS>"} | {"userId": "<1-128>"}}
//     200 empty body                          pending + unexpired + byte-identical token
//     403 AccessDeniedException "Invalid or expired session"   otherwise
//     403 InvalidSignatureException / UnrecognizedClientException /
//         MissingAuthenticationTokenException  (SigV4 failures)
//     400 ValidationException                 malformed body
//   GET /identities/oauth2/authorize?request_uri=...
//     stands in for the GitHub consent step: 302 to <return URL>?session_id=<pct-encoded URI>
//     (one-shot, like AgentCore's "Invalid request" on a reused consent URL)
// Test-only endpoints (unauthenticated):
//   POST /_fail?status=500|429|403|...&delay=ms&count=N   next N completion calls fail/are delayed
//   GET  /_calls          recorded completion/authorize calls (JSON array)
//   GET  /_state          pending sessions (tokens hashed) and vault users
//   POST /_reset          clears calls + fault switches; ?all=1 also clears pending sessions and vault
//   POST /_vault?sub=...&action=put|delete   seed/remove a vault entry directly
// Every response carries x-amzn-RequestId.

import https from 'node:https';
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';
import aws4 from 'aws4';

export const SESSION_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
const SESSION_URI_RE = /^urn:ietf:params:oauth:request_uri:[a-zA-Z0-9\-._~]+$/;
const USER_TOKEN_RE = /^[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+$/;
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export function sha256hex(s) {
  return crypto.createHash('sha256').update(s ?? '').digest('hex');
}

// random string in the session-URI alphabet [A-Za-z0-9-._~]
function randomUriToken(n = 48) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~';
  const bytes = crypto.randomBytes(n);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

export function createAgentCoreState(opts = {}) {
  const ttlMs = (opts.sessionTtlSeconds ?? 600) * 1000;
  const state = {
    ttlMs,
    pending: new Map(), // sessionUri -> entry
    vault: new Map(), // sub -> { githubToken, storedAt, sessionUri }
    calls: [],
    faults: [], // queue of {status, delay, remaining}
  };
  // Called by the gateway when github_repos elicits.
  // reuse: elicit again for that session URI (tests of a gateway that repeats one, or
  // names another user's); a pending session of that URI is left as it is.
  state.registerPending = ({ token, sub, uid, returnUrl, origin, reuse }) => {
    const sessionUri = reuse || SESSION_URI_PREFIX + randomUriToken();
    const elicitationId = crypto.randomUUID();
    const url = `${origin}/identities/oauth2/authorize?request_uri=${encodeURIComponent(sessionUri)}`;
    if (!state.pending.has(sessionUri)) {
      state.pending.set(sessionUri, {
        sessionUri, elicitationId, url, token, sub, uid, returnUrl: returnUrl || null,
        createdAt: Date.now(), status: 'pending', authorizeVisits: 0,
      });
    }
    return { sessionUri, elicitationId, url };
  };
  state.vaultGet = (sub) => state.vault.get(sub);
  return state;
}

function awsError(res, status, type, message, extra = {}) {
  const body = JSON.stringify({ __type: type, message, ...extra });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'x-amzn-ErrorType': type,
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
  return { status, type, message };
}

// SigV4 verification: parse the Authorization header, rebuild the request with
// exactly the signed headers, let aws4 compute the signature, compare.
export function verifySigV4(req, rawBody, cfg) {
  const auth = req.headers['authorization'];
  if (!auth) return { ok: false, status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' };
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]{64})\s*$/.exec(auth);
  if (!m) return { ok: false, status: 403, type: 'IncompleteSignatureException', message: 'Authorization header requires \'Credential\', \'SignedHeaders\' and \'Signature\' parameters.' };
  const [, credential, signedHeadersStr, signature] = m;
  const cparts = credential.split('/');
  if (cparts.length !== 5) return { ok: false, status: 403, type: 'IncompleteSignatureException', message: 'Credential should be scoped to a valid region.' };
  const [akid, date, region, service, term] = cparts;
  if (akid !== cfg.accessKeyId) return { ok: false, status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  if (term !== 'aws4_request') return { ok: false, status: 403, type: 'InvalidSignatureException', message: 'Credential should be scoped with a valid terminator: \'aws4_request\'.' };
  if (service !== 'bedrock-agentcore') return { ok: false, status: 403, type: 'InvalidSignatureException', message: `Credential should be scoped to correct service: 'bedrock-agentcore'.` };
  if (region !== cfg.region) return { ok: false, status: 403, type: 'InvalidSignatureException', message: `Credential should be scoped to a valid region. ` };
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) return { ok: false, status: 403, type: 'IncompleteSignatureException', message: 'Authorization header requires existence of either a \'X-Amz-Date\' or a \'Date\' header.' };
  if (amzDate.slice(0, 8) !== date) return { ok: false, status: 403, type: 'InvalidSignatureException', message: 'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.' };
  const t = Date.parse(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!Number.isFinite(t) || Math.abs(Date.now() - t) > 5 * 60 * 1000) return { ok: false, status: 403, type: 'InvalidSignatureException', message: 'Signature expired: ' + amzDate + ' is now earlier/later than allowed (5 min skew).' };
  const signed = signedHeadersStr.split(';');
  if (!signed.includes('host')) return { ok: false, status: 403, type: 'InvalidSignatureException', message: SIGNATURE_MISMATCH };
  // session token: if configured it must be present and signed-or-sent and equal
  const stok = req.headers['x-amz-security-token'];
  if (cfg.sessionToken) {
    if (stok !== cfg.sessionToken) return { ok: false, status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  } else if (stok !== undefined) {
    return { ok: false, status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' };
  }
  // body hash header, if sent, must match the body
  const bodyHashHdr = req.headers['x-amz-content-sha256'];
  if (bodyHashHdr !== undefined && bodyHashHdr !== 'UNSIGNED-PAYLOAD' && bodyHashHdr !== sha256hex(rawBody)) {
    return { ok: false, status: 400, type: 'XAmzContentSHA256Mismatch', message: 'The provided \'x-amz-content-sha256\' header does not match what was computed.' };
  }
  const headers = {};
  const include = Object.create(null);
  for (const name of signed) {
    const v = req.headers[name];
    if (v === undefined) return { ok: false, status: 403, type: 'InvalidSignatureException', message: SIGNATURE_MISMATCH };
    headers[name] = Array.isArray(v) ? v.join(',') : v;
    include[name] = true; // also sign headers aws4 would otherwise ignore (user-agent, ...)
  }
  const u = new URL(req.url, 'http://x');
  const signer = new aws4.RequestSigner({
    method: req.method,
    host: req.headers.host,
    path: u.pathname + u.search,
    headers,
    body: rawBody,
    service,
    region,
    doNotModifyHeaders: true,
    extraHeadersToInclude: include,
  }, { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey, sessionToken: cfg.sessionToken });
  signer.datetime = amzDate;
  signer.prepareRequest();
  signer.datetime = amzDate;
  const expected = signer.signature();
  if (signer.signedHeaders() !== signed.join(';')) {
    return { ok: false, status: 403, type: 'InvalidSignatureException', message: SIGNATURE_MISMATCH, detail: 'signed header list not canonical (lowercase, sorted)' };
  }
  const a = Buffer.from(expected), b = Buffer.from(signature);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
    return { ok: false, status: 403, type: 'InvalidSignatureException', message: SIGNATURE_MISMATCH, detail: 'canonical request:\n' + signer.canonicalString() };
  }
  return { ok: true };
}

function validateBody(raw, contentType) {
  const v = (message, fields = []) => ({ ok: false, message, fieldList: fields });
  if (!/^application\/json\b/i.test(contentType || '')) return v('Content-Type must be application/json');
  let body;
  try { body = JSON.parse(raw); } catch { return v('Could not parse request body into json'); }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return v('Request body must be a JSON object');
  const su = body.sessionUri;
  if (typeof su !== 'string') return v("1 validation error detected: Value null at 'sessionUri' failed to satisfy constraint: Member must not be null", [{ name: 'sessionUri', message: 'Member must not be null' }]);
  if (su.length < 1 || su.length > 1024) return v("1 validation error detected: Value at 'sessionUri' failed to satisfy constraint: Member must have length between 1 and 1024", [{ name: 'sessionUri', message: 'length' }]);
  if (!SESSION_URI_RE.test(su)) return v("1 validation error detected: Value at 'sessionUri' failed to satisfy constraint: Member must satisfy regular expression pattern: urn:ietf:params:oauth:request_uri:[a-zA-Z0-9-._~]+", [{ name: 'sessionUri', message: 'pattern' }]);
  const ui = body.userIdentifier;
  if (!ui || typeof ui !== 'object' || Array.isArray(ui)) return v("1 validation error detected: Value null at 'userIdentifier' failed to satisfy constraint: Member must not be null", [{ name: 'userIdentifier', message: 'Member must not be null' }]);
  const keys = Object.keys(ui);
  if (keys.length !== 1 || !['userToken', 'userId'].includes(keys[0])) return v('userIdentifier must have exactly one of userToken, userId', [{ name: 'userIdentifier', message: 'union' }]);
  if (keys[0] === 'userToken') {
    const t = ui.userToken;
    if (typeof t !== 'string' || t.length < 1 || t.length > 131072 || !USER_TOKEN_RE.test(t)) return v("1 validation error detected: Value at 'userIdentifier.userToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[A-Za-z0-9-_=]+.[A-Za-z0-9-_=]+.[A-Za-z0-9-_=]+$", [{ name: 'userIdentifier.userToken', message: 'pattern' }]);
  } else {
    const id = ui.userId;
    if (typeof id !== 'string' || id.length < 1 || id.length > 128) return v("1 validation error detected: Value at 'userIdentifier.userId' failed to satisfy constraint: Member must have length between 1 and 128", [{ name: 'userIdentifier.userId', message: 'length' }]);
  }
  return { ok: true, body };
}

export function startAgentCore(state, cfg) {
  // cfg: { host, port, cert, key, region, accessKeyId, secretAccessKey, sessionToken, returnUrl, recordFile, authorizeReuse, log }
  const log = cfg.log || (() => {});
  const record = (entry) => {
    state.calls.push(entry);
    if (cfg.recordFile) fs.appendFileSync(cfg.recordFile, JSON.stringify(entry) + '\n');
  };

  const handler = async (req, res) => {
    const requestId = crypto.randomUUID();
    res.setHeader('x-amzn-RequestId', requestId);
    const u = new URL(req.url, 'https://127.0.0.1');
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const raw = Buffer.concat(chunks).toString('utf8');
    const json = (status, obj) => {
      const b = JSON.stringify(obj);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
      res.end(b);
    };

    // ---- test-only endpoints ----
    if (u.pathname === '/_calls' && req.method === 'GET') return json(200, state.calls);
    if (u.pathname === '/_state' && req.method === 'GET') {
      return json(200, {
        pending: [...state.pending.values()].map((p) => ({
          sessionUri: p.sessionUri, elicitationId: p.elicitationId, url: p.url, sub: p.sub, uid: p.uid,
          token_sha256: sha256hex(p.token), status: p.status, createdAt: p.createdAt,
          expired: Date.now() - p.createdAt > state.ttlMs, authorizeVisits: p.authorizeVisits, returnUrl: p.returnUrl,
        })),
        vault: [...state.vault.entries()].map(([sub, v]) => ({ sub, sessionUri: v.sessionUri, storedAt: v.storedAt })),
        faults: state.faults,
      });
    }
    if (u.pathname === '/_reset' && req.method === 'POST') {
      state.calls.length = 0;
      state.faults.length = 0;
      if (u.searchParams.get('all') === '1') { state.pending.clear(); state.vault.clear(); }
      return json(200, { ok: true });
    }
    if (u.pathname === '/_fail' && req.method === 'POST') {
      const f = {
        status: u.searchParams.has('status') ? Number(u.searchParams.get('status')) : null,
        delay: u.searchParams.has('delay') ? Number(u.searchParams.get('delay')) : 0,
        remaining: u.searchParams.has('count') ? Number(u.searchParams.get('count')) : 1,
      };
      state.faults.push(f);
      return json(200, { ok: true, fault: f });
    }
    if (u.pathname === '/_vault' && req.method === 'POST') {
      const sub = u.searchParams.get('sub');
      if (!sub) return json(400, { error: 'sub required' });
      if (u.searchParams.get('action') === 'delete') state.vault.delete(sub);
      else state.vault.set(sub, { githubToken: 'gho_seeded_' + randomUriToken(20), storedAt: Date.now(), sessionUri: null });
      return json(200, { ok: true });
    }

    const entry = {
      t: new Date().toISOString(), requestId, method: req.method, path: u.pathname, query: u.search,
      headers: req.headers, body: raw,
    };

    // ---- consent step (browser) ----
    if (u.pathname === '/identities/oauth2/authorize' && req.method === 'GET') {
      const su = u.searchParams.get('request_uri');
      const p = su ? state.pending.get(su) : undefined;
      let outcome;
      if (!p || p.status !== 'pending' || Date.now() - p.createdAt > state.ttlMs ||
          (p.authorizeVisits > 0 && !cfg.authorizeReuse)) {
        outcome = { status: 400, reason: !p ? 'unknown' : p.status !== 'pending' ? p.status : (Date.now() - p.createdAt > state.ttlMs ? 'expired' : 'reused') };
        res.writeHead(400, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>Error</title><p>Invalid request</p>');
      } else {
        p.authorizeVisits++;
        const ret = p.returnUrl || cfg.returnUrl;
        if (!ret) {
          outcome = { status: 500, reason: 'no return URL configured' };
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end('no return URL configured (--return-url)');
        } else {
          const loc = ret + (ret.includes('?') ? '&' : '?') + 'session_id=' + encodeURIComponent(su);
          outcome = { status: 302, location: loc };
          res.writeHead(302, { Location: loc, 'Content-Length': 0 });
          res.end();
        }
      }
      record({ ...entry, kind: 'authorize', outcome });
      return;
    }

    // ---- CompleteResourceTokenAuth ----
    if (u.pathname === '/identities/CompleteResourceTokenAuth') {
      entry.kind = 'complete';
      let parsed = null;
      try { parsed = JSON.parse(raw); } catch { /* recorded raw */ }
      entry.json = parsed;
      entry.userToken_sha256 = parsed?.userIdentifier?.userToken ? sha256hex(parsed.userIdentifier.userToken) : null;
      const finish = (outcome) => { entry.outcome = outcome; record(entry); log(`agentcore complete -> ${outcome.status} ${outcome.type || ''}`); };

      if (req.method !== 'POST') {
        res.writeHead(405, { 'Content-Type': 'application/json', 'x-amzn-ErrorType': 'UnknownOperationException' });
        res.end('{"message":"Method Not Allowed"}');
        return finish({ status: 405 });
      }
      // The signature and the body are checked first, as AWS does, so a
      // call that meets an injected fault was still a well-formed one.
      const sig = verifySigV4(req, raw, cfg);
      if (!sig.ok) {
        entry.sigv4_detail = sig.detail;
        return finish(awsError(res, sig.status, sig.type, sig.message));
      }
      const val = validateBody(raw, req.headers['content-type']);
      if (!val.ok) return finish(awsError(res, 400, 'ValidationException', val.message, { reason: 'FieldValidationFailed', fieldList: val.fieldList }));
      // fault switches
      const f = state.faults[0];
      if (f) {
        if (--f.remaining <= 0) state.faults.shift();
        entry.fault = { status: f.status, delay: f.delay };
        if (f.delay > 0) {
          await new Promise((resolve) => {
            const tm = setTimeout(resolve, f.delay);
            res.on('close', () => { clearTimeout(tm); resolve(); });
          });
          if (res.destroyed || res.writableEnded) return finish({ status: 0, note: 'client went away during delay' });
        }
        if (f.status === 500) return finish(awsError(res, 500, 'InternalServerException', 'An internal error occurred. Please retry later.'));
        if (f.status === 429) return finish(awsError(res, 429, 'ThrottlingException', 'Rate exceeded'));
        if (f.status === 503) return finish(awsError(res, 503, 'ServiceUnavailableException', 'Service unavailable'));
        if (f.status === 404) return finish(awsError(res, 404, 'ResourceNotFoundException', 'Resource not found'));
        if (f.status === 401) return finish(awsError(res, 401, 'UnauthorizedException', 'JWT bearer token is invalid or not found'));
        if (f.status === 403) return finish(awsError(res, 403, 'AccessDeniedException', 'Invalid or expired session'));
        if (f.status === 400) return finish(awsError(res, 400, 'ValidationException', 'Injected validation failure'));
        if (f.status) return finish(awsError(res, f.status, 'InternalServerException', 'Injected failure'));
      }
      const { sessionUri, userIdentifier } = val.body;
      const p = state.pending.get(sessionUri);
      let reason = null;
      if (!p) reason = 'unknown session';
      else if (p.status !== 'pending') reason = 'session ' + p.status;
      else if (Date.now() - p.createdAt > state.ttlMs) reason = 'session expired';
      else if (userIdentifier.userId !== undefined) reason = 'userId does not match the originating identity';
      else if (userIdentifier.userToken !== p.token) reason = 'userToken differs from the token that started the flow';
      if (reason) {
        entry.deny_reason = reason;
        return finish(awsError(res, 403, 'AccessDeniedException', 'Invalid or expired session'));
      }
      p.status = 'completed';
      p.completedAt = Date.now();
      state.vault.set(p.sub, { githubToken: 'gho_fake_' + randomUriToken(24), storedAt: Date.now(), sessionUri });
      res.writeHead(200, { 'Content-Length': 0 });
      res.end();
      return finish({ status: 200 });
    }

    record({ ...entry, kind: 'unknown', outcome: { status: 404 } });
    awsError(res, 404, 'UnknownOperationException', 'Unknown operation');
  };

  const wrapped = (req, res) => {
    handler(req, res).catch((e) => {
      log('agentcore handler error: ' + (e?.stack || e));
      if (!res.headersSent) awsError(res, 500, 'InternalServerException', 'stand-in crashed: ' + e?.message);
      else res.destroy();
    });
  };
  const server = cfg.cert
    ? https.createServer({ cert: fs.readFileSync(cfg.cert), key: fs.readFileSync(cfg.key) }, wrapped)
    : http.createServer(wrapped);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port ?? 0, cfg.host ?? '127.0.0.1', () => resolve(server));
  });
}
