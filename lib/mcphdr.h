/*
 * The request metadata headers of MCP 2026-07-28 (doc/protocol.md
 * 13.10-13.14): Mcp-Method mirrors the JSON-RPC method, Mcp-Name the
 * params.name of tools/call and prompts/get or the params.uri of
 * resources/read.  The proxy uses the body's method and tool name (the
 * audit line, the max_streams slot of subscriptions/listen), so when a
 * client sends these headers they must say what the body says, or a
 * gateway routing on the header and the proxy reading the body would act
 * on different requests.  The headers themselves pass to the gateway
 * unchanged (lib/relay.c).
 */
#ifndef CP_MCPHDR_H
#define CP_MCPHDR_H

#include <stdbool.h>

#include <json-c/json.h>

/* The JSON-RPC error code and HTTP status of a refused header
 * (doc/protocol.md 13.13: MCP 2026-07-28 `HeaderMismatch`). */
#define CP_MCP_HEADER_MISMATCH          (-32020)
#define CP_MCP_HEADER_MISMATCH_STATUS   400

/* The Base64 form of an Mcp-Name value (doc/protocol.md 13.12): the
 * markers are case-sensitive. */
#define CP_MCP_B64_PREFIX       "=?base64?"
#define CP_MCP_B64_SUFFIX       "?="

/* What the client sent: each header's value, NULL when absent, and
 * whether it was present but unreadable (control bytes: cp_req_header
 * gives NULL for those). */
struct cp_mcphdr {
	const char *method;             /* Mcp-Method */
	const char *name;               /* Mcp-Name */
	const char *version;            /* MCP-Protocol-Version */
	bool method_bad, name_bad;
};

/* Checks h against msg, the request body's JSON-RPC message (NULL when
 * the body is not a JSON object: the proxy then uses nothing of it and
 * checks nothing).  Returns NULL when the headers agree with the body or
 * say nothing, else a static message for the HeaderMismatch error (it
 * names the header, never echoes a value). */
const char *cp_mcphdr_check(const struct cp_mcphdr *h, json_object *msg);

/* True when version names a revision that requires the headers on every
 * request (doc/protocol.md 13.11). */
bool cp_mcphdr_required(const char *version);

#endif
