// dochost.mjs - HTTPS host for client ID metadata documents, good and hostile (127.0.0.1 only).
//
// Usage: node dochost.mjs --cert server.pem --key server.key [--port N] [--docs DIR] [--slow-ms MS]
//   --port N        listen port; 0 = ephemeral (default 0)          env DOCHOST_PORT
//   --cert/--key    TLS certificate and key (tests/pki.sh)           env DOCHOST_CERT, DOCHOST_KEY
//   --docs DIR      templates (default ../docs next to this file); read on every request, so a
//                   test may edit a copy to simulate a changed document
//   --slow-ms MS    delay of /slow/ (default 30000)
// Prints exactly `ready https://127.0.0.1:<port>` on stdout once listening. Exits on SIGTERM.
//
// Templates: `{{URL}}` becomes the exact URL requested (origin + path + query), so a document's
// client_id equals its URL under every route below; `{{ORIGIN}}` becomes https://127.0.0.1:<port>.
//
// Document routes (NAME = a file in DIR, e.g. harness.json):
//   /NAME                   200 application/json, Cache-Control: max-age=300, ETag (304 on If-None-Match)
//   /cc/VALUE/NAME          same with Cache-Control: VALUE (URL-decoded; `none` = no header),
//                           e.g. /cc/no-store/…, /cc/no-cache/…, /cc/max-age=5/…
//   /redirect/NAME          302 to /NAME
//   /status/CODE/NAME       status CODE; 403 gets an HTML "challenge" page, other codes the valid
//                           document as JSON (only 200 may count as success)
//   /slow/NAME              the document after --slow-ms, without blocking other requests
//   /expires/SECONDS/NAME   the document with Expires: now + SECONDS (may be negative) and no
//                           Cache-Control
//   /challenge/NAME         200 text/html: a bot-protection "challenge" page instead of the document
//   /huge/NAME              the document padded to > 5 KB, still valid JSON, with Content-Length
//   /chunked-huge[/NAME]    the same without Content-Length (chunked); NAME defaults to harness.json
//   /text/NAME              the document as text/plain
//   /lying-length/NAME      Content-Length: 100 but an 8 KB body, then the connection closes
//   /bomb/CODE/NAME         status CODE, application/json, Content-Encoding: gzip: a gzip bomb, about
//                           1 KB per MiB of zeros, streamed (chunked) until the client goes away or
//                           BOMB_BLOCKS MiB; never finished, so it has no gzip trailer
// Control API (not counted, never down):
//   GET  /_count?path=P     {"path":P,"count":N}: fetches of pathname P (query ignored); no path = all
//   GET  /_sent?path=P      {"path":P,"bytes":N}: compressed bytes the last /bomb/ response at P wrote
//   POST /_down             every document route now resets the connection (TCP RST, else close)
//   POST /_up               back to normal
//   POST /_reset            up, and all counts zero
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants as zc, deflateRawSync } from 'node:zlib';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.DOCHOST_PORT || '0' },
    cert: { type: 'string', default: process.env.DOCHOST_CERT },
    key: { type: 'string', default: process.env.DOCHOST_KEY },
    docs: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '..', 'docs') },
    'slow-ms': { type: 'string', default: '30000' },
  },
});
if (!opt.cert || !opt.key) {
  console.error('dochost.mjs: --cert and --key are required');
  process.exit(2);
}

let origin;
let down = false;
const counts = new Map();
const sent = new Map();
const HUGE = 6000; // bytes of padding: over the 5 KB cap the proxy should enforce

// One MiB of zeros as a deflate block sequence ending in a full flush: it refers to nothing
// before it, so copies of it back to back are a valid stream of as many MiB.
const BOMB_BLOCK = deflateRawSync(Buffer.alloc(1 << 20), { level: 9, finishFlush: zc.Z_FULL_FLUSH });
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
const BOMB_BLOCKS = 1 << 16; // 64 GiB decoded

const CHALLENGE = '<!DOCTYPE html><html><head><title>Just a moment...</title></head>'
  + '<body><h1>Checking your browser before accessing the site.</h1>'
  + '<noscript>Enable JavaScript and cookies to continue</noscript></body></html>\n';

// The template NAME rendered for the request URL, or undefined if there is no such file.
function render(name, url) {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) return undefined;
  try {
    return readFileSync(join(opt.docs, name), 'utf8')
      .replaceAll('{{URL}}', origin + url)
      .replaceAll('{{ORIGIN}}', origin);
  } catch {
    return undefined;
  }
}

// Over 5 KB: an extra member, which a document may carry (unknown members are ignored); a
// template that is not a JSON object just gets trailing whitespace.
function pad(body) {
  let doc;
  try { doc = JSON.parse(body); } catch { /* not JSON */ }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return body + ' '.repeat(HUGE);
  return JSON.stringify({ ...doc, padding: 'x'.repeat(HUGE) }, null, 1);
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function json(res, status, value) {
  send(res, status, 'application/json', `${JSON.stringify(value)}\n`);
}

function control(req, res, url) {
  if (req.method === 'GET' && url.pathname === '/_count') {
    const path = url.searchParams.get('path');
    if (path === null) return json(res, 200, Object.fromEntries(counts));
    return json(res, 200, { path, count: counts.get(path) || 0 });
  }
  if (req.method === 'GET' && url.pathname === '/_sent') {
    const path = url.searchParams.get('path');
    return json(res, 200, { path, bytes: sent.get(path) || 0 });
  }
  if (req.method !== 'POST') return json(res, 405, { error: 'POST only' });
  if (url.pathname === '/_down') down = true;
  else if (url.pathname === '/_up') down = false;
  else if (url.pathname === '/_reset') { down = false; counts.clear(); }
  else return json(res, 404, { error: 'unknown control route' });
  return json(res, 200, { down });
}

function serveDocument(req, res, url) {
  counts.set(url.pathname, (counts.get(url.pathname) || 0) + 1);
  if (down) {
    // A TCP reset rather than an HTTP error: the proxy must see a transport failure. The
    // reset needs the TCP socket under TLS (`_parent`, Node internals); else just close.
    const tcp = req.socket._parent;
    if (typeof tcp?.resetAndDestroy === 'function') tcp.resetAndDestroy();
    else req.socket.destroy();
    return;
  }

  const parts = url.pathname.split('/').slice(1);
  let route = parts.length === 1 ? 'plain' : parts[0];
  let name = parts[parts.length - 1];
  if (parts[0] === 'chunked-huge') {
    route = 'chunked-huge';
    name = parts.length === 2 ? parts[1] : 'harness.json';
  }
  const expected = {
    plain: 1, cc: 3, redirect: 2, status: 3, slow: 2, expires: 3, challenge: 2, huge: 2, 'chunked-huge': 2,
    text: 2, 'lying-length': 2, bomb: 3,
  };
  const body = render(name, req.url);
  if (body === undefined || (expected[route] !== parts.length && route !== 'chunked-huge')) {
    return send(res, 404, 'text/plain', 'not found\n');
  }

  switch (route) {
    case 'plain':
    case 'cc': {
      const cc = route === 'cc' ? decodeURIComponent(parts[1]) : 'max-age=300';
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"`;
      const headers = { ETag: etag, ...(cc === 'none' ? {} : { 'Cache-Control': cc }) };
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, headers);
        return res.end();
      }
      return send(res, 200, 'application/json', body, headers);
    }
    case 'redirect':
      res.writeHead(302, { Location: `/${name}`, 'Content-Length': 0 });
      return res.end();
    case 'status': {
      const code = Number(parts[1]);
      if (!(code >= 200 && code <= 599)) return send(res, 400, 'text/plain', 'bad status\n');
      if (code === 403) return send(res, 403, 'text/html; charset=UTF-8', CHALLENGE);
      return send(res, code, 'application/json', body);
    }
    case 'slow': {
      const timer = setTimeout(() => send(res, 200, 'application/json', body), Number(opt['slow-ms']));
      res.on('close', () => clearTimeout(timer));
      return undefined;
    }
    case 'expires': {
      const seconds = Number(parts[1]);
      if (!Number.isInteger(seconds)) return send(res, 400, 'text/plain', 'bad seconds\n');
      return send(res, 200, 'application/json', body,
        { Expires: new Date(Date.now() + seconds * 1000).toUTCString() });
    }
    case 'challenge':
      return send(res, 200, 'text/html; charset=UTF-8', CHALLENGE);
    case 'huge':
      return send(res, 200, 'application/json', pad(body));
    case 'chunked-huge': {
      const big = pad(body);
      res.writeHead(200, { 'Content-Type': 'application/json' }); // no length: chunked
      for (let i = 0; i < big.length; i += 1024) res.write(big.slice(i, i + 1024));
      return res.end();
    }
    case 'text':
      return send(res, 200, 'text/plain', body);
    case 'lying-length': {
      // Node refuses to send more than Content-Length, so write the response on the raw socket.
      const big = pad(body).padEnd(8192, ' ');
      const head = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n'
        + 'Connection: close\r\n\r\n';
      req.socket.end(head + big);
      return undefined;
    }
    case 'bomb':
      return bomb(res, Number(parts[1]), url.pathname);
    default:
      return send(res, 404, 'text/plain', 'not found\n');
  }
}

// Streams the gzip bomb with status code, honouring backpressure, until the client closes.
function bomb(res, code, path) {
  if (!(code >= 200 && code <= 599)) return send(res, 400, 'text/plain', 'bad status\n');
  let bytes = 0;
  let blocks = 0;
  sent.set(path, 0);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' });
  const write = (chunk) => { bytes += chunk.length; sent.set(path, bytes); return res.write(chunk); };
  const pump = () => {
    while (!res.destroyed && blocks < BOMB_BLOCKS) {
      blocks += 1;
      if (!write(BOMB_BLOCK)) return res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
    return undefined;
  };
  write(GZIP_HEADER);
  return pump();
}

const server = createServer({ cert: readFileSync(opt.cert), key: readFileSync(opt.key) }, (req, res) => {
  try {
    const url = new URL(req.url, origin);
    if (url.pathname.startsWith('/_')) return control(req, res, url);
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'GET only\n');
    return serveDocument(req, res, url);
  } catch (e) { // a hostile request must not take the host down for the other tests
    console.error(`dochost: ${req.url}: ${e.message}`);
    if (!res.headersSent) send(res, 400, 'text/plain', 'bad request\n');
    return undefined;
  }
});
server.listen(Number(opt.port), '127.0.0.1', () => {
  origin = `https://127.0.0.1:${server.address().port}`;
  process.stdout.write(`ready ${origin}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
