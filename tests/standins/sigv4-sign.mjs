// sigv4-sign.mjs - call (or print a curl command for) AgentCore CompleteResourceTokenAuth,
// SigV4-signed with aws4 (service bedrock-agentcore). Test helper for the AgentCore stand-in.
//
// Usage: node sigv4-sign.mjs --endpoint https://127.0.0.1:PORT --session-uri URI --user-token JWT [options]
//   --endpoint URL           AgentCore origin (scheme://host:port)
//   --session-uri URI        sessionUri (urn:ietf:params:oauth:request_uri:…)
//   --user-token JWT         userIdentifier.userToken   (or --user-id ID)
//   --body JSON              send this exact body instead (overrides the two above)
//   --region R               (default us-east-1)
//   --access-key-id K        (default AKIDCIMDPROXYTEST)
//   --secret-access-key S    (default cimd-proxy-test-secret)
//   --session-token T        adds X-Amz-Security-Token
//   --tamper                 change the body after signing (bad-signature test)
//   --print-curl             print a curl command instead of calling (uses --cacert $NODE_EXTRA_CA_CERTS)
//   --timeout MS             (default 10000)
// Output (call mode): one JSON line {"status":N,"headers":{…},"body":"…"}; exit 0 if status 200, else 1.
// TLS trust comes from NODE_EXTRA_CA_CERTS.
import { parseArgs } from 'node:util';
import https from 'node:https';
import http from 'node:http';
import aws4 from 'aws4';

const { values: o } = parseArgs({
  options: {
    endpoint: { type: 'string' },
    'session-uri': { type: 'string' },
    'user-token': { type: 'string' },
    'user-id': { type: 'string' },
    body: { type: 'string' },
    region: { type: 'string', default: 'us-east-1' },
    'access-key-id': { type: 'string', default: 'AKIDCIMDPROXYTEST' },
    'secret-access-key': { type: 'string', default: 'cimd-proxy-test-secret' },
    'session-token': { type: 'string' },
    tamper: { type: 'boolean', default: false },
    'print-curl': { type: 'boolean', default: false },
    timeout: { type: 'string', default: '10000' },
  },
});
if (!o.endpoint) { process.stderr.write('sigv4-sign: --endpoint required\n'); process.exit(4); }
const u = new URL(o.endpoint);
const body = o.body ?? JSON.stringify({
  sessionUri: o['session-uri'],
  userIdentifier: o['user-id'] !== undefined ? { userId: o['user-id'] } : { userToken: o['user-token'] },
});
const req = {
  host: u.hostname,
  port: u.port || undefined,
  method: 'POST',
  path: '/identities/CompleteResourceTokenAuth',
  service: 'bedrock-agentcore',
  region: o.region,
  headers: { 'Content-Type': 'application/json' },
  body,
};
aws4.sign(req, { accessKeyId: o['access-key-id'], secretAccessKey: o['secret-access-key'], sessionToken: o['session-token'] });
const sentBody = o.tamper ? body.replace('"sessionUri"', '"sessionUri" ') : body;
if (o.tamper) req.headers['Content-Length'] = Buffer.byteLength(sentBody);

if (o['print-curl']) {
  const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
  const parts = ['curl', '-sS', '-m', '10', '-X', 'POST'];
  if (process.env.NODE_EXTRA_CA_CERTS) parts.push('--cacert', q(process.env.NODE_EXTRA_CA_CERTS));
  for (const [k, v] of Object.entries(req.headers)) if (k.toLowerCase() !== 'content-length') parts.push('-H', q(`${k}: ${v}`));
  parts.push('--data-binary', q(sentBody), q(`${u.origin}${req.path}`));
  process.stdout.write(parts.join(' ') + '\n');
  process.exit(0);
}

const mod = u.protocol === 'https:' ? https : http;
const r = mod.request({ host: u.hostname, port: u.port, method: 'POST', path: req.path, headers: req.headers, timeout: Number(o.timeout) }, (res) => {
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    process.stdout.write(JSON.stringify({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }) + '\n');
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
});
r.on('timeout', () => { r.destroy(new Error('timeout')); });
r.on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, error: e.message }) + '\n'); process.exit(3); });
r.end(sentBody);
