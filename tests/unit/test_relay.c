/*
 * The relay's header rules: which request headers go to the gateway,
 * which response headers come back, the WWW-Authenticate rewrite, and
 * the MCP 2026-07-28 Mcp-Method / Mcp-Name check against the body.
 * The streaming itself is tested through real web servers
 * (tests/integration/relay.test).
 */
#include "config.h"

#include <string.h>
#include <sys/resource.h>

#include "conf.h"
#include "mcphdr.h"
#include "relay.h"
#include "relayd.h"
#include "../tap.h"

#define PRM "https://proxy.example/.well-known/oauth-protected-resource/mcp"

static void
challenge(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "Bearer error=\"invalid_token\", scope=\"mcp:tools\", "
		  "resource_metadata=\"https://gw.example/.well-known/oauth-protected-resource\"",
		  "Bearer error=\"invalid_token\", scope=\"mcp:tools\", resource_metadata=\"" PRM "\"" },
		{ "Bearer resource_metadata=\"https://gw.example/prm\"",
		  "Bearer resource_metadata=\"" PRM "\"" },
		{ "Bearer Resource_Metadata = \"https://gw.example/prm\", error=\"insufficient_scope\"",
		  "Bearer resource_metadata=\"" PRM "\", error=\"insufficient_scope\"" },
		{ "Bearer resource_metadata=https://gw.example/prm, scope=a",
		  "Bearer resource_metadata=\"" PRM "\", scope=a" },
		/* Quoted text that looks like the parameter is left alone. */
		{ "Bearer error_description=\"resource_metadata=\\\"x\\\"\", resource_metadata=\"y\"",
		  "Bearer error_description=\"resource_metadata=\\\"x\\\"\", resource_metadata=\"" PRM "\"" },
		/* A Bearer challenge without it gets ours. */
		{ "Bearer error=\"invalid_token\"",
		  "Bearer error=\"invalid_token\", resource_metadata=\"" PRM "\"" },
		{ "Bearer", "Bearer resource_metadata=\"" PRM "\"" },
		{ "bearer realm=\"x\"", "bearer realm=\"x\", resource_metadata=\"" PRM "\"" },
		/* Other schemes are kept as they are. */
		{ "Basic realm=\"gw\"", "Basic realm=\"gw\"" },
		{ "Bearerx realm=\"gw\"", "Bearerx realm=\"gw\"" },
	};
	struct cp_buf out;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cp_buf_init(&out, 4096);
		is_int(cp_relay_challenge(cases[i].in, PRM, &out), CP_OK, "rewrite %s", cases[i].in);
		is_str(cp_buf_cstr(&out), cases[i].want, "  result");
		cp_buf_free(&out);
	}
	cp_buf_init(&out, 4096);
	is_int(cp_relay_challenge("Bearer resource_metadata=\"open", PRM, &out), CP_ERR_SYNTAX,
	    "unterminated quoted string refused");
	cp_buf_free(&out);
}

static void
response_headers(void)
{
	static const struct { const char *name; bool want; } cases[] = {
		{ "Mcp-Session-Id", true }, { "mcp-session-id", true },
		{ "MCP-Protocol-Version", true }, { "Mcp-Name", true },
		{ "WWW-Authenticate", true }, { "www-authenticate", true },
		{ "Retry-After", true }, { "Allow", true },
		/* Answers are always no-store (response.c); the gateway's word
		 * would replace that. */
		{ "Cache-Control", false }, { "cache-control", false }, { "Pragma", false },
		{ "Expires", false },
		{ "Mcp-", false }, { "Content-Length", false }, { "Transfer-Encoding", false },
		{ "Connection", false }, { "Keep-Alive", false }, { "Set-Cookie", false },
		{ "Content-Encoding", false }, { "Server", false }, { "X-Powered-By", false },
		{ "Upgrade", false }, { "Trailer", false }, { "Location", false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(cp_relay_response_header_passed(cases[i].name, strlen(cases[i].name)),
		    cases[i].want, "response header %s %s", cases[i].name,
		    cases[i].want ? "passed" : "dropped");
}

/* The passed headers as one "|"-separated string. */
static void
joined(const struct cp_buf *b, char *out, size_t len)
{
	size_t off, k = 0;

	out[0] = '\0';
	for (off = 0; off < b->len && k + 2 < len; off += strlen(b->data + off) + 1) {
		k += (size_t)snprintf(out + k, len - k, "%s%s", k ? "|" : "", b->data + off);
		if (k >= len)
			break;
	}
}

static void
request_headers(void)
{
	char *env[] = {
		"REQUEST_METHOD=POST", "REQUEST_URI=/mcp",
		"HTTP_AUTHORIZATION=Bearer abc.def.ghi",
		"HTTP_ACCEPT=application/json, text/event-stream",
		"CONTENT_TYPE=application/json",
		"CONTENT_LENGTH=10",
		"HTTP_MCP_SESSION_ID=sess-1",
		"HTTP_MCP_PROTOCOL_VERSION=2025-06-18",
		"HTTP_LAST_EVENT_ID=ev-3",
		"HTTP_MCP_METHOD=tools/call",
		"HTTP_COOKIE=sid=secret",
		"HTTP_X_FORWARDED_FOR=10.0.0.1",
		"HTTP_FORWARDED=for=10.0.0.1",
		"HTTP_CONNECTION=keep-alive, X-Foo",
		"HTTP_X_FOO=bar",
		"HTTP_TE=trailers",
		"HTTP_UPGRADE=h2c",
		"HTTP_PROXY_AUTHORIZATION=Basic eA==",
		"HTTP_HOST=proxy.example",
		"HTTP_ORIGIN=https://app.example.test",
		"HTTP_MCP_EMPTY=",
		"HTTP_MCP_BAD=a\x01z",
		"HTTP_MCP_NAME=my tool",
		"HTTP_MCP_SESSION_ID=sess-2",
		"REMOTE_USER=alice",
		/* The same headers again (Mcp_Method beside Mcp-Method under
		 * lighttpd's mod_cgi): the proxy checked the first. */
		"HTTP_MCP_METHOD=tools/list",
		"HTTP_MCP_NAME=other",
		"HTTP_MCP_PROTOCOL_VERSION=2026-07-28",
		"HTTP_MCP_PARAM_REGION=us-west1",
		NULL,
	};
	struct cp_config cfg;
	struct cp_req req;
	struct cp_buf b;
	char got[2048];

	memset(&cfg, 0, sizeof(cfg));
	is_int(cp_req_init(&req, NULL, env, &cfg), CP_OK, "request set up");
	cp_buf_init(&b, 8192);
	is_int(cp_relay_request_headers(&req, &b), CP_OK, "headers built");
	joined(&b, got, sizeof(got));
	is_str(got, "Authorization: Bearer abc.def.ghi|Accept: application/json, text/event-stream|"
	    "Content-Type: application/json|Last-Event-ID: ev-3|Mcp-Session-Id: sess-1|"
	    "MCP-Protocol-Version: 2025-06-18|Mcp-Method: tools/call|Mcp-Name: my tool|"
	    "Mcp-Param-Region: us-west1",
	    "only the MCP set passes: no cookie, forwarding, hop-by-hop or identity headers");
	ok(strstr(got, "sess-2") == NULL, "  one Mcp-Session-Id, the one cp_req_header reads");
	ok(strstr(got, "tools/list") == NULL && strstr(got, "other") == NULL &&
	    strstr(got, "2026-07-28") == NULL,
	    "  one Mcp-Method, Mcp-Name and MCP-Protocol-Version, those cp_req_header reads");
	cp_buf_free(&b);

	cfg.gateway_protocol_version = "2025-11-25";
	cp_buf_init(&b, 8192);
	is_int(cp_relay_request_headers(&req, &b), CP_OK, "headers built, version set");
	joined(&b, got, sizeof(got));
	is_str(got, "Authorization: Bearer abc.def.ghi|Accept: application/json, text/event-stream|"
	    "Content-Type: application/json|Last-Event-ID: ev-3|Mcp-Session-Id: sess-1|"
	    "MCP-Protocol-Version: 2025-06-18|Mcp-Method: tools/call|Mcp-Name: my tool|"
	    "Mcp-Param-Region: us-west1",
	    "gateway_protocol_version leaves a client's own version alone");
	cp_buf_free(&b);
	cp_req_free(&req);
	{
		char *bare[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/mcp",
			"HTTP_AUTHORIZATION=Bearer abc.def.ghi", NULL };
		is_int(cp_req_init(&req, NULL, bare, &cfg), CP_OK, "request without a version");
		cp_buf_init(&b, 8192);
		is_int(cp_relay_request_headers(&req, &b), CP_OK, "headers built");
		joined(&b, got, sizeof(got));
		is_str(got, "Authorization: Bearer abc.def.ghi|MCP-Protocol-Version: 2025-11-25",
		    "gateway_protocol_version stands in for a client that sent none");
		cp_buf_free(&b);
		cp_req_free(&req);
	}
	/* A version with bytes past ASCII is read (cp_req_header takes them)
	 * but not passed: the gateway must still get one. */
	{
		char *odd[] = { "REQUEST_METHOD=POST", "REQUEST_URI=/mcp",
			"HTTP_AUTHORIZATION=Bearer abc.def.ghi",
			"HTTP_MCP_PROTOCOL_VERSION=2025-11-25\xc3\xa9", NULL };
		is_int(cp_req_init(&req, NULL, odd, &cfg), CP_OK, "request with a non-ASCII version");
		ok(cp_req_header(&req, "MCP-Protocol-Version") != NULL, "  which cp_req_header reads");
		cp_buf_init(&b, 8192);
		is_int(cp_relay_request_headers(&req, &b), CP_OK, "headers built");
		joined(&b, got, sizeof(got));
		is_str(got, "Authorization: Bearer abc.def.ghi|MCP-Protocol-Version: 2025-11-25",
		    "gateway_protocol_version stands in for a version that would not be passed");
		cp_buf_free(&b);
		cp_req_free(&req);
	}

	/* Too many Mcp-* headers is refused, not truncated. */
	{
		char *many[CP_RELAY_MAX_PASSED_HEADERS + 4], names[CP_RELAY_MAX_PASSED_HEADERS + 1][32];
		size_t i;
		many[0] = "REQUEST_METHOD=GET";
		many[1] = "REQUEST_URI=/mcp";
		for (i = 0; i <= CP_RELAY_MAX_PASSED_HEADERS; i++) {
			snprintf(names[i], sizeof(names[i]), "HTTP_MCP_X%zu=v", i);
			many[2 + i] = names[i];
		}
		many[3 + CP_RELAY_MAX_PASSED_HEADERS] = NULL;
		cfg.gateway_protocol_version = NULL;
		cp_req_init(&req, NULL, many, &cfg);
		cp_buf_init(&b, 8192);
		is_int(cp_relay_request_headers(&req, &b), CP_ERR_LIMIT,
		    "over %d Mcp-* headers refused", CP_RELAY_MAX_PASSED_HEADERS);
		cp_buf_free(&b);
		cp_req_free(&req);
	}
}

/* The default max_streams leaves room for a stream's four descriptors:
 * with two a stream (its first sizing), 5,000 streams through Apache
 * filled a 20,000 limit and new streams got 502 (upstream connect failed)
 * instead of the cap's 503 (make bench-streams). */
static void
default_max_streams(void)
{
	struct rlimit saved, rl;

	if (getrlimit(RLIMIT_NOFILE, &saved) != 0 || saved.rlim_cur < 1064) {
		ok(1, "# SKIP open-files limit below 1064");
		return;
	}
	rl = saved;
	rl.rlim_cur = 1064;
	ok(setrlimit(RLIMIT_NOFILE, &rl) == 0, "soft open-files limit set to 1064");
	is_int((int)cp_relayd_default_max_streams(), (1064 - 64) / 4,
	    "default max_streams: (limit - %d) / 4 descriptors a stream", CP_RELAYD_FD_SLACK);
	setrlimit(RLIMIT_NOFILE, &saved);
}

/* doc/protocol.md 13.10-13.14, with the examples of MCP 2026-07-28
 * transports, "Request Metadata" and "Value Encoding". */
static void
header_check(void)
{
#define V "2026-07-28"
#define CALL(id, name) "{\"jsonrpc\":\"2.0\"," id "\"method\":\"tools/call\"," \
	"\"params\":{\"name\":\"" name "\",\"arguments\":{}}}"
	static const struct {
		const char *method, *name, *version, *body;
		bool pass;
		const char *what;
	} cases[] = {
		{ NULL, NULL, NULL, CALL("\"id\":1,", "get_weather"), true,
		  "no headers, no revision: a 2025-11-25 request is not checked" },
		{ NULL, NULL, "2025-11-25", CALL("\"id\":1,", "get_weather"), true,
		  "no headers under 2025-11-25" },
		{ "tools/call", "get_weather", V, CALL("\"id\":1,", "get_weather"), true,
		  "both headers match" },
		{ "tools/call", "get_weather", NULL, CALL("\"id\":1,", "get_weather"), true,
		  "both headers match, no revision header" },
		{ "tools/list", NULL, V, CALL("\"id\":1,", "get_weather"), false,
		  "Mcp-Method names another method" },
		{ "Tools/Call", "get_weather", V, CALL("\"id\":1,", "get_weather"), false,
		  "values are case-sensitive" },
		{ "tools/call", "get_weather", "2025-11-25", CALL("\"id\":1,", "get_weather"), true,
		  "present headers are checked under any revision (matching)" },
		{ "tools/list", NULL, "2025-11-25", CALL("\"id\":1,", "get_weather"), false,
		  "present headers are checked under any revision (mismatch)" },
		{ "tools/call", "get_forecast", V, CALL("\"id\":1,", "get_weather"), false,
		  "Mcp-Name names another tool" },
		{ "tools/call", "get_forecast", NULL, CALL("\"id\":1,", "get_weather"), false,
		  "Mcp-Name names another tool, no revision header" },
		{ NULL, "get_weather", V, CALL("\"id\":1,", "get_weather"), false,
		  "2026-07-28 request without Mcp-Method" },
		{ "tools/call", NULL, V, CALL("\"id\":1,", "get_weather"), false,
		  "2026-07-28 tools/call without Mcp-Name" },
		{ "tools/call", NULL, "2025-11-25", CALL("\"id\":1,", "get_weather"), true,
		  "Mcp-Name is not required under 2025-11-25" },
		{ NULL, NULL, "2027-01-01", CALL("\"id\":1,", "get_weather"), true,
		  "a revision the proxy does not know is not held to the requirement" },
		{ "tools/call", "=?base64?Z2V0X3dlYXRoZXI=?=", V, CALL("\"id\":1,", "get_weather"), true,
		  "Base64 Mcp-Name is decoded before the comparison" },
		{ "tools/call", "=?base64?SGVsbG8sIOS4lueVjA==?=", V, CALL("\"id\":1,", "Hello, \u4e16\u754c"),
		  true, "Base64 of UTF-8 (the spec's example)" },
		{ "tools/call", "=?base64?SGVsbG8sIOS4lueVjA==?=", V, CALL("\"id\":1,", "Hello, world"),
		  false, "Base64 that decodes to another name" },
		{ "tools/call", "=?base64?Z2V0X3dlYXRoZXI?=", V, CALL("\"id\":1,", "get_weather"), false,
		  "Base64 without its padding is malformed" },
		{ "tools/call", "=?base64?Z2V0X3dlYXRoZXJ=?=", V, CALL("\"id\":1,", "get_weather"), false,
		  "Base64 with nonzero trailing bits is malformed" },
		{ "tools/call", "=?base64?not base64!?=", V, CALL("\"id\":1,", "get_weather"), false,
		  "not Base64 at all" },
		{ "tools/call", "=?base64?/w==?=", V, CALL("\"id\":1,", "get_weather"), false,
		  "Base64 of bytes that are not UTF-8" },
		{ "tools/call", "=?BASE64?Z2V0X3dlYXRoZXI=?=", V, CALL("\"id\":1,", "get_weather"), false,
		  "the markers are case-sensitive: this one is a plain (other) name" },
		{ "tools/call", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=", V,
		  CALL("\"id\":1,", "=?base64?literal?="), true, "a name that looks like the sentinel" },
		{ "tools/call", "get\xc3\xa9", V, CALL("\"id\":1,", "get\u00e9"), false,
		  "raw non-ASCII in Mcp-Name is malformed" },
		{ "tools/call", "my tool", V, CALL("\"id\":1,", "my tool"), true,
		  "a space inside a plain value is allowed" },
		{ "tools/call", "", V, CALL("\"id\":1,", "get_weather"), false, "an empty Mcp-Name" },
		{ "tools/call", "get_weather", V, CALL("\"id\":1,", "get_weather") "", true,
		  "(repeat) matching" },
		{ "resources/read", "file:///projects/myapp/config.json", V,
		  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\","
		  "\"params\":{\"uri\":\"file:///projects/myapp/config.json\"}}", true,
		  "resources/read: Mcp-Name is params.uri" },
		{ "resources/read", "file:///etc/passwd", V,
		  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resources/read\","
		  "\"params\":{\"uri\":\"file:///projects/myapp/config.json\"}}", false,
		  "resources/read with another uri" },
		{ "prompts/get", "code_review", V,
		  "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/get\","
		  "\"params\":{\"name\":\"code_review\"}}", true, "prompts/get: params.name" },
		{ "prompts/get", "other", V,
		  "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"prompts/get\","
		  "\"params\":{\"name\":\"code_review\"}}", false, "prompts/get with another name" },
		{ "tools/call", "get_weather", V, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}",
		  false, "Mcp-Name with a body that names no tool" },
		{ "subscriptions/listen", NULL, V,
		  "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"subscriptions/listen\",\"params\":{}}", true,
		  "subscriptions/listen names nothing: no Mcp-Name needed" },
		{ "tools/call", NULL, V,
		  "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"subscriptions/listen\",\"params\":{}}", false,
		  "a listen request labelled tools/call (it would escape max_streams)" },
		{ "tools/list", "anything", V, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}",
		  true, "Mcp-Name on a method that names nothing is not compared" },
		{ NULL, NULL, V, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}", true,
		  "a notification need not carry Mcp-Method" },
		{ "notifications/y", NULL, V, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/x\"}", false,
		  "but one it carries must match" },
		{ "tools/call", NULL, V, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", false,
		  "Mcp-Method on a body that is a response" },
		{ NULL, NULL, V, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", true,
		  "a response needs no Mcp-Method: it has no method to mirror" },
		{ NULL, NULL, V, "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-1,"
		  "\"message\":\"no\"}}", true, "nor does an error response" },
		{ NULL, NULL, V, "{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\","
		  "\"params\":{\"name\":\"get_weather\"}}", true,
		  "a notification named like a tools/call needs no Mcp-Name either" },
		{ "tools/call", "x", V, "[1,2]", false,
		  "a batch with Mcp-Method: nothing to check it against (2026-07-28 has none)" },
		{ "tools/list\x01", NULL, V, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\x01\"}",
		  false, "control bytes in Mcp-Method" },
	};
	struct cp_mcphdr h;
	json_object *msg;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&h, 0, sizeof(h));
		h.method = cases[i].method;
		h.name = cases[i].name;
		h.version = cases[i].version;
		msg = json_tokener_parse(cases[i].body);
		ok(msg != NULL, "case %zu parses", i);
		why = cp_mcphdr_check(&h, msg);
		ok((why == NULL) == cases[i].pass, "%s: %s", cases[i].pass ? "passes" : "refused",
		    cases[i].what);
		ok(why == NULL || strncmp(why, "Header mismatch: ", 17) == 0, "  message %s",
		    why ? why : "(none)");
		json_object_put(msg);
	}
	memset(&h, 0, sizeof(h));
	h.name_bad = true;
	h.method = "tools/call";
	msg = json_tokener_parse(CALL("\"id\":1,", "x"));
	ok(cp_mcphdr_check(&h, msg) != NULL, "an Mcp-Name the server passed with control bytes");
	json_object_put(msg);
	is_int(CP_MCP_HEADER_MISMATCH, -32020, "HeaderMismatch is -32020");
	is_int(CP_MCP_HEADER_MISMATCH_STATUS, 400, "  with HTTP 400");
#undef CALL
#undef V
}

/* A body json-c cannot read as one object cannot be matched against the
 * headers (doc/protocol.md 13.13): refused when the client sent them or
 * speaks 2026-07-28, passed to the gateway otherwise. */
static void
unreadable_body(void)
{
	static const struct {
		const char *body;
		bool object;
		const char *what;
	} bodies[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}", true, "one object" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"} \r\n\t", true,
		  "one object, white space after it" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}x", false,
		  "bytes after the object" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}"
		  "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\"}", false,
		  "two objects" },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}]", false, "a batch" },
		{ "[1,2]", false, "an array" },
		{ "\"tools/list\"", false, "a string" },
		{ "", false, "empty" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,", false, "cut short" },
		{ "not json", false, "not JSON" },
	};
	struct cp_mcphdr none = { 0 }, method = { .method = "tools/list" },
	    name = { .name = "echo" }, bad = { .method_bad = true },
	    old = { .version = "2025-11-25" }, new = { .version = "2026-07-28" };
	char deep[1024];
	json_object *msg;
	size_t i, d, n;

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		msg = cp_mcphdr_body(bodies[i].body, strlen(bodies[i].body));
		ok((msg != NULL) == bodies[i].object, "body %s: %s", bodies[i].object ?
		    "read" : "not one JSON object", bodies[i].what);
		json_object_put(msg);
	}
	msg = cp_mcphdr_body("{}\0{}", 5);
	ok(msg == NULL, "body with a NUL after the object: not one JSON object");
	json_object_put(msg);
	/* A tools/call whose objects nest d levels (the message, params and
	 * arguments are three of them): json-c counts the innermost value as
	 * a level too, so CP_MCP_MAX_BODY_DEPTH - 1 objects is the most. */
	for (d = CP_MCP_MAX_BODY_DEPTH - 1; d <= CP_MCP_MAX_BODY_DEPTH; d++) {
		n = (size_t)snprintf(deep, sizeof(deep), "{\"jsonrpc\":\"2.0\",\"id\":1,"
		    "\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":");
		for (i = 2; i < d; i++)
			n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "1");
		for (i = 0; i < d; i++)
			n += (size_t)snprintf(deep + n, sizeof(deep) - n, "}");
		msg = cp_mcphdr_body(deep, n);
		ok((msg != NULL) == (d < CP_MCP_MAX_BODY_DEPTH), "a body %zu objects deep (%zu bytes) %s",
		    d, n, d < CP_MCP_MAX_BODY_DEPTH ? "is read" : "is not");
		json_object_put(msg);
	}
	ok(cp_mcphdr_check(&none, NULL) == NULL, "unreadable body, no headers: passed to the gateway");
	ok(cp_mcphdr_check(&old, NULL) == NULL, "  nor under 2025-11-25");
	ok(cp_mcphdr_check(&method, NULL) != NULL, "unreadable body with Mcp-Method: refused");
	ok(cp_mcphdr_check(&name, NULL) != NULL, "  with Mcp-Name: refused");
	ok(cp_mcphdr_check(&bad, NULL) != NULL, "  with an unreadable Mcp-Method: refused");
	ok(cp_mcphdr_check(&new, NULL) != NULL, "  under 2026-07-28 without headers: refused");
	msg = json_tokener_parse("[1,2]");
	ok(cp_mcphdr_check(&new, msg) != NULL, "  an array given as the message: refused");
	ok(cp_mcphdr_check(&none, msg) == NULL, "  ... and passed without headers");
	json_object_put(msg);
}

int
main(void)
{
	default_max_streams();
	challenge();
	response_headers();
	request_headers();
	header_check();
	unreadable_body();
	return tap_done();
}
