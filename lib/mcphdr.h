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
#include <stddef.h>

#include <json-c/json.h>

#include "limits.h"

/* The JSON-RPC error code and HTTP status of a refused header
 * (doc/protocol.md 13.13: MCP 2026-07-28 `HeaderMismatch`). */
#define CP_MCP_HEADER_MISMATCH          (-32020)
#define CP_MCP_HEADER_MISMATCH_STATUS   400

/* The Base64 form of an Mcp-Name value (doc/protocol.md 13.12): the
 * markers are case-sensitive. */
#define CP_MCP_B64_PREFIX       "=?base64?"
#define CP_MCP_B64_SUFFIX       "?="

/* How deep a request body may nest for the proxy to read it: the
 * message, its params and a tool's arguments, with room for arguments of
 * their own; twice the cap on the documents the proxy parses for itself
 * (CP_MAX_JSON_DEPTH, lib/jsonparse.h), and the depth json-c read MCP
 * bodies at before it was named.  json-c parses without recursion, but
 * freeing the tree recurses once a level, so this bounds what a body
 * costs a relay thread's stack (lib/relayd.h). */
#define CP_MCP_MAX_BODY_DEPTH   (2 * CP_MAX_JSON_DEPTH)

/* What the client sent: each header's value, NULL when absent, and
 * whether it was present but unreadable (control bytes: cp_req_header
 * gives NULL for those). */
struct cp_mcphdr {
	const char *method;             /* Mcp-Method */
	const char *name;               /* Mcp-Name */
	const char *version;            /* MCP-Protocol-Version */
	bool method_bad, name_bad;
};

/* The request body body[0..len) as one JSON-RPC message: a JSON object
 * nested under CP_MCP_MAX_BODY_DEPTH objects and arrays deep (json-c
 * counts the innermost value as a level too) with nothing but white space
 * after it (RFC 8259 section 2), or NULL (not JSON, an array, too deep,
 * bytes after it, out of memory).  The caller puts it. */
json_object *cp_mcphdr_body(const char *body, size_t len);

/* Checks h against msg, the request body's JSON-RPC message from
 * cp_mcphdr_body.  msg NULL (the body is not one JSON object) cannot be
 * matched against headers: refused when the client sent Mcp-Method or
 * Mcp-Name or speaks a revision that requires them (2026-07-28 has no
 * batches), else passed: the proxy uses nothing of such a body and the
 * gateway answers it (doc/protocol.md 13.13).  Returns NULL when the
 * headers agree with the body or say nothing, else a static message for
 * the HeaderMismatch error (it names the header, never echoes a
 * value). */
const char *cp_mcphdr_check(const struct cp_mcphdr *h, json_object *msg);

/* True when version names a revision that requires the headers on every
 * request (doc/protocol.md 13.11). */
bool cp_mcphdr_required(const char *version);

#endif
