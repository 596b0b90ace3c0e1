#!/usr/bin/env node
// Headless Chromium opening a session-binding link as a person would:
// optionally logs in at the IdP first as --user (login_hint, in this
// browser context only, so two runs are two users with two IdP sessions),
// then opens --url (the elicitation URL at AgentCore, or the proxy's
// /sessionbinding/callback URL), follows every redirect, fills the IdP's
// login form as --form-user if one appears on the way (the interactive
// restart after login_required), and reports the page it ends on.
//
//   node binding-browser.mjs --url '<elicitation or callback URL>' \
//       [--user alice --idp https://127.0.0.1:N --login-redirect URI [--client-id ID]] \
//       [--form-user alice] [--screenshot out.png] [--chromium /usr/bin/chromium]
//
// --login-redirect must be a redirect URI the IdP has registered; only
// the browser's request for it is noted, so nothing need listen there.
//
// Prints one JSON line:
//   {"ok":bool, "status":N, "path":"/final/path", "title":…, "text":…,
//    "hops":["302 http://127.0.0.1:P/sessionbinding/callback", …],
//    "idp_login":bool, "form_login":bool, "cookies":["__Host-… secure=… …"], "why"?:…}
// hops are the main frame's navigation responses in order, origin and path
// only (no query: codes and states stay out of logs).  ok = a final page
// was reached; the caller asserts its status.  Exit 0 when ok, else 1.
//
// Certificates are checked: run it with a HOME whose NSS database trusts
// the test CA (tests/lib.sh chromium_home), as the IdP and AgentCore
// stand-ins serve HTTPS.
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    user: { type: 'string' },
    idp: { type: 'string' },
    'client-id': { type: 'string', default: 'cimd-proxy-test' },
    'login-redirect': { type: 'string' },
    'form-user': { type: 'string' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    'timeout-ms': { type: 'string', default: '30000' },
  },
});
if (!opt.url || (opt.user && (!opt.idp || !opt['login-redirect']))) {
  console.error('usage: binding-browser.mjs --url URL [--user U --idp ISSUER --login-redirect URI] '
    + '[--form-user U] [--screenshot F]');
  process.exit(2);
}
const timeout = Number(opt['timeout-ms']);
const short = (u) => { const x = new URL(u); return `${x.origin}${x.pathname}`; };

const out = { ok: false, status: null, path: null, hops: [], idp_login: false, form_login: false };
const browser = await chromium.launch({
  executablePath: opt.chromium,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--no-first-run'],
});
try {
  const context = await browser.newContext();
  // The IdP's pages @import web fonts that never load offline.
  await context.route(/fonts\.(googleapis|gstatic)\.com/, (r) => r.abort());
  context.setDefaultTimeout(timeout);

  if (opt.user) {
    // An IdP session for --user: the code flow with login_hint, up to the
    // registered redirect URI.  Routes do not see redirects, so the request
    // is only noted (as in login-browser.mjs); its load fails, nothing listens.
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const redirect = opt['login-redirect'];
    let landed = null;
    const loginPage = await context.newPage();
    loginPage.on('request', (r) => { if (!landed && r.url().startsWith(redirect)) landed = r.url(); });
    const q = new URLSearchParams({
      client_id: opt['client-id'], response_type: 'code', redirect_uri: redirect, scope: 'openid',
      state: 'browser-login', code_challenge: challenge, code_challenge_method: 'S256', login_hint: opt.user,
    });
    await loginPage.goto(`${opt.idp}/auth?${q}`, { waitUntil: 'load' }).catch(() => {});
    await loginPage.close();
    out.idp_login = landed !== null && new URL(landed).searchParams.has('code');
    if (!out.idp_login) throw new Error(`IdP login as ${opt.user} did not finish`);
  }

  // The link, in a page of its own in the same context (same cookies).
  const page = await context.newPage();
  page.on('response', (r) => {
    const req = r.request();
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      out.hops.push(`${r.status()} ${short(r.url())}`);
      out.status = r.status();
    }
  });
  await page.goto(opt.url, { waitUntil: 'load' });

  // The interactive restart: the IdP's own login form.
  const login = page.locator('input[name="login"]');
  if (opt['form-user'] && await login.count()) {
    const idpOrigin = new URL(page.url()).origin;
    await login.fill(opt['form-user']);
    await page.locator('input[name="password"]').fill('secret');
    await Promise.all([
      page.waitForURL((u) => u.origin !== idpOrigin, { waitUntil: 'load' }),
      page.locator('button[type="submit"]').first().click(),
    ]);
    out.form_login = true;
  }
  out.path = new URL(page.url()).pathname;
  out.title = await page.title();
  out.text = (await page.locator('body').innerText()).trim();
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
  out.cookies = (await context.cookies())
    .filter((c) => c.name.startsWith('__Host-'))
    .map((c) => `${c.name} secure=${c.secure} httpOnly=${c.httpOnly} sameSite=${c.sameSite} path=${c.path}`);
  out.ok = out.status !== null;
} catch (e) {
  out.why = String(e?.stack ?? e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
