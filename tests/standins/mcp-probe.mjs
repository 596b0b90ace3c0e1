// mcp-probe.mjs - drive an MCP Streamable HTTP endpoint (the gateway stand-in or the proxy)
// with the official SDK client (Client + StreamableHTTPClientTransport). For shell tests.
//
// Usage: node mcp-probe.mjs --url URL [--token TOKEN] [options] COMMAND [ARGS]
//   --url URL            MCP endpoint                                   env MCP_URL
//   --token TOKEN        bearer access token                            env MCP_TOKEN
//   --header 'K: V'      extra request header (repeatable)
//   --session-id SID     reuse an existing session (skips initialize)
//   --protocol-version V MCP-Protocol-Version to send with --session-id (default 2025-11-25)
//   --timeout MS         per-request timeout (default 20000)
// Commands (one JSON object per line on stdout):
//   init                         initialize, print {session_id, protocol_version, server}; session left open
//   list                         {"tools":[names…]}
//   call TOOL [JSON-ARGS]        {"result":…} | {"error":{code,message,data}}
//   stream [COUNT] [INTERVAL_MS] [ACK_URL]
//                                calls `slow`; one {"t":ms,"notification":…} line per notification as it
//                                arrives (ms since start), then {"t":ms,"result":…}.  With ACK_URL (the
//                                gateway stand-in's /_ack) the tool runs in lockstep: each notification
//                                is acknowledged there once it arrived, and the next is sent only then
//   elicit [DELIVERY]            calls github_repos (delivery sse|json|http401|mrtr|mrtr_sse, default: the
//                                gateway's); prints {"elicitation":true,"kind":…,"urls":[…],…}
//   delete-session               DELETE the session (the --session-id one, else a fresh one)
//   listen [MS]                  open the standalone GET SSE stream for MS ms (default 3000), print notifications
//                                (--session-id: open it on that session; --last-event-id ID: resume from ID)
// Exit codes: 0 ok (elicit: an elicitation arrived); 1 JSON-RPC/MCP error; 2 unexpected outcome
//   (elicit: the call succeeded or another error); 3 HTTP/transport error; 4 usage.
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  LoggingMessageNotificationSchema, ProgressNotificationSchema, ResultSchema, CallToolResultSchema,
  UrlElicitationRequiredError, McpError,
} from '@modelcontextprotocol/sdk/types.js';

const t0 = performance.now();
const ms = () => Math.round((performance.now() - t0) * 10) / 10;
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string', default: process.env.MCP_URL },
      token: { type: 'string', default: process.env.MCP_TOKEN },
      header: { type: 'string', multiple: true, default: [] },
      'session-id': { type: 'string' },
      'protocol-version': { type: 'string', default: '2025-11-25' },
      timeout: { type: 'string', default: '20000' },
      'last-event-id': { type: 'string' },
    },
  });
} catch (e) {
  process.stderr.write(`mcp-probe: ${e.message}\n`);
  process.exit(4);
}
const { values: opt, positionals } = parsed;
const [cmd, ...args] = positionals;
const usage = (m) => { process.stderr.write(`mcp-probe: ${m}\n`); process.exit(4); };
if (!opt.url) usage('--url (or MCP_URL) required');
if (!cmd) usage('command required: init|list|call|stream|elicit|delete-session|listen');
const timeout = Number(opt.timeout);

const headers = {};
if (opt.token) headers.Authorization = `Bearer ${opt.token}`;
for (const h of opt.header) {
  const i = h.indexOf(':');
  if (i < 1) usage(`bad --header ${h}`);
  headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
}

const transport = new StreamableHTTPClientTransport(new URL(opt.url), {
  requestInit: { headers },
  sessionId: opt['session-id'],
  reconnectionOptions: { maxReconnectionDelay: 1000, initialReconnectionDelay: 200, reconnectionDelayGrowFactor: 1.5, maxRetries: 0 },
});
if (opt['session-id']) transport.setProtocolVersion(opt['protocol-version']);
const client = new Client(
  { name: 'cimd-proxy-mcp-probe', version: '1.0.0' },
  { capabilities: { elicitation: { form: {}, url: {} } } },
);

const notifications = [];
const ackId = `probe-${process.pid}-${Date.now()}`;
client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => {
  notifications.push(n);
  if (cmd === 'stream' || cmd === 'listen') out({ t: ms(), notification: n });
  const ackUrl = cmd === 'stream' ? args[2] : undefined;
  if (ackUrl && n.params?.logger === 'slow') {
    await fetch(`${ackUrl}?id=${encodeURIComponent(ackId)}&i=${n.params.data?.i}`, { method: 'POST' })
      .catch((e) => process.stderr.write(`mcp-probe: ack failed: ${e?.message}\n`));
  }
});
client.setNotificationHandler(ProgressNotificationSchema, (n) => {
  if (cmd === 'stream') out({ t: ms(), notification: n });
});
client.onerror = (e) => { if (process.env.MCP_PROBE_DEBUG) process.stderr.write(`mcp-probe: transport error: ${e?.message}\n`); };

function errorInfo(e) {
  if (e instanceof McpError) return { code: e.code, message: e.message, data: e.data };
  if (e instanceof StreamableHTTPError) return { http_status: e.code, message: e.message };
  return { message: String(e?.message || e), name: e?.name };
}
async function finish(code) {
  try { await Promise.race([client.close(), new Promise((r) => setTimeout(r, 500))]); } catch { /* ignore */ }
  process.exit(code);
}
function exitForError(e) {
  if (e instanceof McpError) return 1;
  return 3;
}
// pull a JSON-RPC message out of an HTTP error text like "Error POSTing to endpoint: {…}"
function jsonFromErrorText(s) {
  const i = s.indexOf('{');
  if (i < 0) return null;
  try { return JSON.parse(s.slice(i)); } catch { return null; }
}

try {
  await client.connect(transport);
} catch (e) {
  out({ t: ms(), phase: 'connect', error: errorInfo(e) });
  await finish(exitForError(e));
}

const reqOpts = { timeout };
try {
  switch (cmd) {
    case 'init': {
      out({ t: ms(), session_id: transport.sessionId ?? null, protocol_version: transport.protocolVersion ?? null, server: client.getServerVersion() ?? null, capabilities: client.getServerCapabilities() ?? null });
      process.exit(0); // do not DELETE or close the session
      break;
    }
    case 'list': {
      const r = await client.listTools({}, reqOpts);
      out({ t: ms(), tools: r.tools.map((t) => t.name) });
      await finish(0);
      break;
    }
    case 'call': {
      const [tool, json] = args;
      if (!tool) usage('call TOOL [JSON-ARGS]');
      const r = await client.callTool({ name: tool, arguments: json ? JSON.parse(json) : {} }, CallToolResultSchema, reqOpts);
      out({ t: ms(), result: r });
      await finish(r.isError ? 1 : 0);
      break;
    }
    case 'stream': {
      const count = Number(args[0] ?? 5), interval = Number(args[1] ?? 300);
      const slowArgs = { count, interval_ms: interval, ...(args[2] ? { ack: ackId } : {}) };
      const r = await client.callTool({ name: 'slow', arguments: slowArgs }, CallToolResultSchema,
        { timeout: Math.max(timeout, count * interval + 10000) });
      out({ t: ms(), result: r, notifications: notifications.length });
      await finish(r.isError ? 1 : 0);
      break;
    }
    case 'elicit': {
      const params = { name: 'github_repos', arguments: args[0] ? { delivery: args[0] } : {} };
      let r;
      try {
        // loose schema: a 2026-07-28 InputRequiredResult is not a CallToolResult
        r = await client.request({ method: 'tools/call', params }, ResultSchema, reqOpts);
      } catch (e) {
        if (e instanceof UrlElicitationRequiredError) {
          out({ t: ms(), elicitation: true, kind: 'url_elicitation_required', transport: 'jsonrpc', code: e.code, message: e.message, elicitations: e.elicitations, urls: e.elicitations.map((x) => x.url) });
          await finish(0);
        }
        if (e instanceof StreamableHTTPError) {
          const m = jsonFromErrorText(e.message);
          if (m?.error?.code === -32042) {
            const els = m.error.data?.elicitations || [];
            out({ t: ms(), elicitation: true, kind: 'url_elicitation_required', transport: 'http_error', http_status: e.code, code: -32042, message: m.error.message, elicitations: els, urls: els.map((x) => x.url) });
            await finish(0);
          }
        }
        out({ t: ms(), elicitation: false, error: errorInfo(e) });
        await finish(2);
      }
      if (r?.resultType === 'input_required') {
        const reqs = Object.entries(r.inputRequests || {}).map(([key, v]) => ({ key, ...v }));
        const urls = reqs.filter((x) => x.method === 'elicitation/create' && x.params?.mode === 'url').map((x) => x.params.url);
        out({ t: ms(), elicitation: urls.length > 0, kind: 'input_required', input_requests: reqs, request_state: r.requestState ?? null, urls });
        await finish(urls.length > 0 ? 0 : 2);
      }
      out({ t: ms(), elicitation: false, result: r });
      await finish(2);
      break;
    }
    case 'delete-session': {
      const sid = transport.sessionId;
      await transport.terminateSession();
      out({ t: ms(), session_id: sid ?? null, deleted: sid !== undefined });
      await finish(0);
      break;
    }
    case 'listen': {
      const dur = Number(args[0] ?? 3000);
      // a fresh session: the SDK client opened the standalone GET stream after initialize.
      // a reused session (--session-id): open it here; --last-event-id resumes (Last-Event-ID header).
      if (opt['last-event-id']) await transport.resumeStream(opt['last-event-id']);
      else if (opt['session-id']) await transport._startOrAuthSse({ resumptionToken: undefined });
      await new Promise((r) => setTimeout(r, dur));
      out({ t: ms(), notifications: notifications.length });
      await finish(0);
      break;
    }
    default:
      usage(`unknown command ${cmd}`);
  }
} catch (e) {
  out({ t: ms(), error: errorInfo(e) });
  await finish(exitForError(e));
}
