#!/usr/bin/env node
// A load balancer in front of a fleet, for the fleet tests: plain HTTP on
// loopback, no sticky sessions, and a routing rule chosen by the test so
// that each hop of a flow lands on the host the test wants.
//
//   node balancer.mjs --port N --default http://127.0.0.1:A \
//       [--route '/token=http://127.0.0.1:B,http://127.0.0.1:A']... \
//       [--record FILE]
//
// A request whose path is a --route's path goes to that route's hosts in
// turn (the first request to the first host, the second to the second,
// and round again); every other request goes to --default.  Requests and
// answers pass unchanged, Host and cookies included, as a balancer that
// preserves the Host header does.  --record appends one JSON line per
// request: {"method", "path", "host" (the backend origin), "status"}; no
// query, header or body is recorded (they hold codes and tokens).
//
// Prints "ready http://127.0.0.1:N" once listening.
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    port: { type: 'string' },
    default: { type: 'string' },
    route: { type: 'string', multiple: true, default: [] },
    record: { type: 'string' },
  },
});
if (!opt.port || !opt.default) {
  console.error('usage: balancer.mjs --port N --default ORIGIN [--route PATH=ORIGIN,...]... [--record FILE]');
  process.exit(2);
}
const UPSTREAM_TIMEOUT_MS = 30000;

const routes = new Map();
for (const r of opt.route) {
  const i = r.indexOf('=');
  if (i < 1) { console.error(`balancer: bad --route ${r}`); process.exit(2); }
  routes.set(r.slice(0, i), { hosts: r.slice(i + 1).split(','), next: 0 });
}

function pick(path) {
  const r = routes.get(path);
  if (!r) return opt.default;
  const h = r.hosts[r.next % r.hosts.length];
  r.next++;
  return h;
}

function note(line) {
  if (opt.record) appendFileSync(opt.record, `${JSON.stringify(line)}\n`);
}

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const origin = pick(path);
  const target = new URL(req.url, origin);
  const up = http.request(target, {
    method: req.method, headers: req.headers, timeout: UPSTREAM_TIMEOUT_MS,
  }, (ur) => {
    note({ method: req.method, path, host: origin, status: ur.statusCode });
    res.writeHead(ur.statusCode, ur.rawHeaders);
    ur.pipe(res);
  });
  up.on('timeout', () => up.destroy(new Error('upstream timeout')));
  up.on('error', (e) => {
    note({ method: req.method, path, host: origin, status: 502, why: e.message });
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('balancer: upstream failed\n');
  });
  req.pipe(up);
});
server.listen(Number(opt.port), '127.0.0.1', () => {
  console.log(`ready http://127.0.0.1:${opt.port}`);
});
