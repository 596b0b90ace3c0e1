// mcp2-probe.mjs - drive an MCP endpoint with the official SDK 2.x client
// (@modelcontextprotocol/client, pinned in package.json) speaking MCP 2026-07-28: a pinned
// version negotiation (server/discover), then requests that carry the revision's request
// metadata headers (MCP-Protocol-Version, Mcp-Method, Mcp-Name), as the SDK writes them.
//
// Usage: node mcp2-probe.mjs --url URL --token TOKEN COMMAND [ARGS]
//   call TOOL [JSON-ARGS]    {"result":…} | {"error":{code,message}}
//   read URI                 {"result":…}
//   listen N NOTIFY-URL      subscriptions/listen {toolsListChanged}; prints {"t","acknowledged":filter}
//                            once the stream is open, then N times: POST NOTIFY-URL (the gateway
//                            stand-in's /_notify) and wait (20 s at most) for the
//                            notifications/tools/list_changed it causes: {"t","notification":…}; the
//                            next is asked for only once the previous arrived, so events a relay holds
//                            back stall the run.  Last {"t","closed":reason} after close().
// One JSON object per line on stdout. Exit 0 ok, 1 JSON-RPC error, 2 timeout/other, 4 usage.
import { parseArgs } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';

const REVISION = '2026-07-28';
const WAIT_MS = 20000;
const t0 = performance.now();
const ms = () => Math.round((performance.now() - t0) * 10) / 10;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const { values: opt, positionals: args } = parseArgs({
  options: { url: { type: 'string' }, token: { type: 'string' } },
  allowPositionals: true,
});
if (!opt.url || !args.length) {
  process.stderr.write('usage: mcp2-probe.mjs --url URL --token TOKEN call|read|listen ...\n');
  process.exit(4);
}

const transport = new StreamableHTTPClientTransport(new URL(opt.url), {
  requestInit: { headers: opt.token ? { Authorization: `Bearer ${opt.token}` } : {} },
});
const client = new Client({ name: 'mcp2-probe', version: '1.0.0' },
  { versionNegotiation: { mode: { pin: REVISION } } });

let code = 0;
try {
  await client.connect(transport);
  const [cmd, a1, a2] = args;
  if (cmd === 'call') {
    out({ result: await client.callTool({ name: a1, arguments: a2 ? JSON.parse(a2) : {} }) });
  } else if (cmd === 'read') {
    out({ result: await client.readResource({ uri: a1 }) });
  } else if (cmd === 'listen') {
    const n = Number(a1);
    let arrived = null;
    client.setNotificationHandler('notifications/tools/list_changed', (note) => {
      out({ t: ms(), notification: note });
      if (arrived) arrived();
    });
    const sub = await client.listen({ toolsListChanged: true });
    out({ t: ms(), acknowledged: sub.honoredFilter });
    for (let i = 0; i < n; i++) {
      const got = new Promise((resolve, reject) => {
        const tm = setTimeout(() => reject(new Error(`notification ${i + 1} did not arrive in ${WAIT_MS} ms`)), WAIT_MS);
        arrived = () => { clearTimeout(tm); resolve(); };
      });
      const r = await fetch(a2, { method: 'POST' });
      if (!r.ok) throw new Error(`${a2} answered ${r.status}`);
      await got;
    }
    await sub.close();
    out({ t: ms(), closed: await sub.closed });
  } else {
    process.stderr.write(`unknown command ${cmd}\n`);
    process.exit(4);
  }
} catch (e) {
  if (typeof e?.code === 'number') {
    out({ error: { code: e.code, message: e.message } });
    code = 1;
  } else {
    out({ error: { message: String(e?.message || e) } });
    code = 2;
  }
}
await client.close().catch(() => {});
process.exit(code);
