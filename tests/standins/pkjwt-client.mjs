#!/usr/bin/env node
// A private_key_jwt CIMD client on jose, doing what ChatGPT's connector
// does: it publishes a client document whose token_endpoint_auth_method
// is private_key_jwt with its public keys (inline jwks, or a jwks_uri on
// the same host), and at /token authenticates with a client_assertion it
// signs (RFC 7523 sections 2.2 and 3): iss = sub = its client_id, aud =
// the token_endpoint of the server's metadata, a short exp, a fresh jti.
//
//   node pkjwt-client.mjs publish --docs DIR --keys DIR --name NAME
//       [--alg RS256|ES256|PS256] [--jwks-uri] [--redirect-uri URI]
//     Writes DIR/NAME.json (the document, client_id {{URL}} for the doc
//     host), with --jwks-uri also DIR/NAME-jwks.json (the key set, at
//     {{ORIGIN}}/NAME-jwks.json), and KEYS/NAME.jwk (the private key).
//
//   node pkjwt-client.mjs assert --key FILE --client-id ID --aud AUD
//       [--exp-in SECONDS] [--jti JTI] [--iss ISS] [--alg-none]
//     Prints one client_assertion; --aud given twice or more makes aud an
//     array (one assertion good at several servers of a fleet).  --exp-in (default 60) may be negative
//     or far ahead and --iss may differ from the client_id, for the
//     negative tests; --alg-none writes an unsigned JWT (alg none).
//
//   node pkjwt-client.mjs token --issuer URL --key FILE --client-id ID
//       (--code CODE --verifier V --redirect-uri URI | --refresh-token RT)
//       [--jti JTI]
//     Reads the authorization server metadata at URL (RFC 8414), checks it
//     offers private_key_jwt with the key's alg, signs an assertion for its
//     token_endpoint and POSTs the grant; prints {"status":N,"body":{...},
//     "jti":...}.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as jose from 'jose';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    docs: { type: 'string' },
    keys: { type: 'string' },
    name: { type: 'string' },
    alg: { type: 'string', default: 'RS256' },
    'jwks-uri': { type: 'boolean', default: false },
    'redirect-uri': { type: 'string', default: 'http://127.0.0.1:9300/callback' },
    key: { type: 'string' },
    'client-id': { type: 'string' },
    aud: { type: 'string', multiple: true },
    iss: { type: 'string' },
    'exp-in': { type: 'string', default: '60' },
    jti: { type: 'string' },
    'alg-none': { type: 'boolean', default: false },
    issuer: { type: 'string' },
    code: { type: 'string' },
    verifier: { type: 'string' },
    'refresh-token': { type: 'string' },
  },
});

function die(why) {
  console.error(`pkjwt-client.mjs: ${why}`);
  process.exit(1);
}

async function publish() {
  const { docs, keys, name, alg } = opt;
  if (!docs || !keys || !name) die('publish needs --docs, --keys and --name');
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { extractable: true });
  const pub = { ...(await jose.exportJWK(publicKey)), kid: `${name}-1`, alg, use: 'sig' };
  const priv = { ...(await jose.exportJWK(privateKey)), kid: pub.kid, alg };
  const doc = {
    client_id: '{{URL}}',
    client_name: `pkjwt ${name}`,
    redirect_uris: [opt['redirect-uri']],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: alg,
  };
  if (opt['jwks-uri']) {
    doc.jwks_uri = `{{ORIGIN}}/${name}-jwks.json`;
    writeFileSync(join(docs, `${name}-jwks.json`), JSON.stringify({ keys: [pub] }));
  } else {
    doc.jwks = { keys: [pub] };
  }
  writeFileSync(join(docs, `${name}.json`), JSON.stringify(doc, null, 1));
  writeFileSync(join(keys, `${name}.jwk`), JSON.stringify(priv), { mode: 0o600 });
}

// One client_assertion (RFC 7523 section 3).
async function sign({ keyFile, clientId, aud, iss, expIn, jti, none }) {
  const jwk = JSON.parse(readFileSync(keyFile, 'utf8'));
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: iss ?? clientId, sub: clientId, aud, iat: now, exp: now + expIn, jti };
  if (none) {
    return `${jose.base64url.encode(JSON.stringify({ alg: 'none' }))}.`
      + `${jose.base64url.encode(JSON.stringify(claims))}.`;
  }
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
    .sign(await jose.importJWK(jwk, jwk.alg));
}

async function assert() {
  if (!opt.key || !opt['client-id'] || !opt.aud) die('assert needs --key, --client-id and --aud');
  process.stdout.write(await sign({
    keyFile: opt.key, clientId: opt['client-id'],
    aud: opt.aud.length === 1 ? opt.aud[0] : opt.aud, iss: opt.iss,
    expIn: Number(opt['exp-in']), jti: opt.jti ?? randomUUID(), none: opt['alg-none'],
  }));
  process.stdout.write('\n');
}

async function token() {
  const clientId = opt['client-id'];
  if (!opt.issuer || !opt.key || !clientId) die('token needs --issuer, --key and --client-id');
  const alg = JSON.parse(readFileSync(opt.key, 'utf8')).alg;
  const mr = await fetch(`${opt.issuer}/.well-known/oauth-authorization-server`);
  if (mr.status !== 200) die(`metadata: HTTP ${mr.status}`);
  const md = await mr.json();
  if (!(md.token_endpoint_auth_methods_supported ?? []).includes('private_key_jwt')) {
    die('the server does not offer private_key_jwt');
  }
  if (!(md.token_endpoint_auth_signing_alg_values_supported ?? []).includes(alg)) {
    die(`the server does not accept ${alg} assertions`);
  }
  const jti = opt.jti ?? randomUUID();
  const form = new URLSearchParams({ client_id: clientId });
  if (opt['refresh-token']) {
    form.set('grant_type', 'refresh_token');
    form.set('refresh_token', opt['refresh-token']);
  } else {
    form.set('grant_type', 'authorization_code');
    form.set('code', opt.code);
    form.set('code_verifier', opt.verifier);
    form.set('redirect_uri', opt['redirect-uri']);
  }
  form.set('client_assertion_type', ASSERTION_TYPE);
  form.set('client_assertion', await sign({
    keyFile: opt.key, clientId, aud: md.token_endpoint, expIn: 60, jti,
  }));
  const r = await fetch(md.token_endpoint, { method: 'POST', body: form });
  let body;
  try { body = await r.json(); } catch { body = null; }
  process.stdout.write(`${JSON.stringify({ status: r.status, body, jti })}\n`);
}

const commands = { publish, assert, token };
if (!commands[positionals[0]]) die('usage: pkjwt-client.mjs publish|assert|token ...');
await commands[positionals[0]]();
