#!/usr/bin/env node
// The consent flood of a visitor who never logs in: COUNT times, GET the
// proxy's /authorize URL with no cookie (a consent page and a new
// browser cookie), then POST Approve with that cookie, and never follow
// the redirect to the IdP.  One keep-alive connection carries it all, so
// a thousand rounds take seconds, not a process start each.
//
//   node consent-loop.mjs --url '<proxy>/authorize?...' [--count 1000]
//       [--seconds 240]
//
// Prints one JSON line {"rounds":N,"pages":N,"approved":N,"seconds":S,
// "unexpected":[...]} where approved counts the 303s to the IdP; exits 1
// when any round went otherwise or --seconds ran out first.
import { parseArgs } from 'node:util';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    count: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '240' },
  },
});
if (!opt.url) { console.error('consent-loop: --url is required'); process.exit(2); }

const out = { rounds: 0, pages: 0, approved: 0, seconds: 0, unexpected: [] };
const t0 = Date.now();
const deadline = t0 + Number(opt.seconds) * 1000;
const post = new URL('/authorize', opt.url).toString();

function odd(what) {
  if (out.unexpected.length < 5) out.unexpected.push(what);
}

try {
  for (let i = 0; i < Number(opt.count) && Date.now() < deadline; i++) {
    out.rounds++;
    const page = await fetch(opt.url, { redirect: 'manual', signal: AbortSignal.timeout(10000) });
    const body = await page.text();
    const token = /name="request" value="([^"]+)"/.exec(body);
    const cookie = (page.headers.getSetCookie().find((c) => c.startsWith('__Host-cimd-browser=')) ?? '')
      .split(';')[0];
    if (page.status !== 200 || !token || !cookie) {
      odd(`round ${i}: GET ${page.status}${token ? '' : ', no form'}${cookie ? '' : ', no cookie'}`);
      continue;
    }
    out.pages++;
    const res = await fetch(post, {
      method: 'POST', redirect: 'manual', signal: AbortSignal.timeout(10000),
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
      body: new URLSearchParams({ request: token[1].replace(/&amp;/g, '&'), decision: 'approve' }).toString(),
    });
    await res.arrayBuffer();
    if (res.status === 303 && /[?&]state=v1\./.test(res.headers.get('location') ?? '')) out.approved++;
    else odd(`round ${i}: POST ${res.status} ${res.headers.get('location') ?? ''}`.slice(0, 200));
  }
} catch (e) {
  odd(String(e?.stack ?? e).slice(0, 300));
}
out.seconds = (Date.now() - t0) / 1000;
console.log(JSON.stringify(out));
process.exit(out.approved === Number(opt.count) ? 0 : 1);
