#!/usr/bin/env node
// Headless Chromium through a CIMD login, as a person would click it:
// opens the proxy's /authorize URL, checks the consent page is there,
// saves a screenshot, clicks Approve, logs in on the IdP's own HTML form
// (no login_hint), accepts the IdP's consent step if one is shown, and
// reports the client's redirect_uri as the browser requested it
// (page.on('request'): nothing listens there; doc/test-rig.md G14).
//
//   node login-browser.mjs --url '<proxy>/authorize?...' \
//       --redirect-uri http://127.0.0.1:9300/callback --screenshot out.png
//
// Prints one JSON line; exits 1 when the code never arrives.
//
// Certificates are checked: run it with a HOME whose NSS database trusts
// the test CA (login-setup.sh chromium_home), as the IdP and, in TLS
// mode, the proxy serve HTTPS.
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    'redirect-uri': { type: 'string' },
    screenshot: { type: 'string' },
    user: { type: 'string', default: 'alice' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    'timeout-ms': { type: 'string', default: '30000' },
  },
});

const out = { ok: false, steps: [] };
const browser = await chromium.launch({
  executablePath: opt.chromium,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--no-first-run'],
});
try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(Number(opt['timeout-ms']));
  let landed;
  const arrived = new Promise((resolve) => {
    page.on('request', (r) => {
      if (r.url().startsWith(opt['redirect-uri']) && !landed) { landed = r.url(); resolve(); }
    });
  });
  // The IdP's pages @import web fonts that never load offline.
  await page.route(/fonts\.(googleapis|gstatic)\.com/, (r) => r.abort());

  await page.goto(opt.url, { waitUntil: 'domcontentloaded' });
  out.consent_title = await page.title();
  out.consent_has_approve = await page.locator('#approve').count() === 1;
  if (opt.screenshot) await page.screenshot({ path: opt.screenshot, fullPage: true });
  out.steps.push('consent');
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith('/authorize')), page.click('#approve')]);
  out.steps.push(`idp ${new URL(page.url()).pathname}`);

  // oidc-provider's devInteractions: a login form, then (offline_access)
  // a consent form; each submits with a button.
  for (let i = 0; i < 3 && !landed; i++) {
    const login = page.locator('input[name="login"]');
    if (await login.count()) {
      await login.fill(opt.user);
      await page.locator('input[name="password"]').fill('secret');
      out.steps.push('idp login form');
    } else {
      out.steps.push('idp consent form');
    }
    await Promise.race([arrived, Promise.all([page.waitForEvent('framenavigated'),
      page.locator('button[type="submit"]').first().click()])]);
  }
  await Promise.race([arrived, new Promise((r) => setTimeout(r, Number(opt['timeout-ms'])))]);
  if (landed) {
    const u = new URL(landed);
    out.code = u.searchParams.has('code');
    out.state = u.searchParams.get('state');
    out.iss = u.searchParams.get('iss');
    out.error = u.searchParams.get('error');
    out.ok = out.code && out.consent_has_approve;
  }
  out.cookies = (await context.cookies()).map((c) => `${c.name} secure=${c.secure} httpOnly=${c.httpOnly} sameSite=${c.sameSite} path=${c.path}`)
    .filter((c) => c.startsWith('__Host-'));
} catch (e) {
  out.why = String(e?.stack ?? e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
