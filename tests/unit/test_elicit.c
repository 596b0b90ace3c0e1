#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elicit.h"
#include "../tap.h"

#define SESSION "urn:ietf:params:oauth:request_uri:AbC-1.2_3~x"
#define SESSION_ENC "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3AAbC-1.2_3~x"
#define AUTHZ_URL "https://bedrock-agentcore.us-east-1.amazonaws.com/identities/oauth2/authorize?request_uri="

/* What the callback saw. */
struct seen {
	size_t n;
	char session_uri[8][CP_ELICIT_MAX_SESSION_URI + 1];
	char id[8][64];
	bool input_required[8];
};

static void
found(void *arg, const struct cp_elicitation *e)
{
	struct seen *s = arg;

	if (s->n < 8) {
		snprintf(s->session_uri[s->n], sizeof(s->session_uri[0]), "%s", e->session_uri);
		snprintf(s->id[s->n], sizeof(s->id[0]), "%s", e->elicitation_id);
		s->input_required[s->n] = e->input_required;
	}
	s->n++;
}

static const char err_32042[] =
	"{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":-32042,"
	"\"message\":\"This request requires more information.\","
	"\"data\":{\"elicitations\":[{\"mode\":\"url\",\"elicitationId\":\"el-1\","
	"\"url\":\"" AUTHZ_URL SESSION_ENC "\","
	"\"message\":\"Please login to this URL for authorization.\"}]}}}";

static const char mrtr[] =
	"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"resultType\":\"input_required\","
	"\"inputRequests\":{\"gh-1\":{\"method\":\"elicitation/create\",\"params\":"
	"{\"mode\":\"url\",\"message\":\"Please login\",\"url\":\"" AUTHZ_URL SESSION_ENC "\"}},"
	"\"form-1\":{\"method\":\"elicitation/create\",\"params\":{\"mode\":\"form\","
	"\"message\":\"Name?\",\"requestedSchema\":{\"type\":\"object\",\"properties\":{}}}},"
	"\"roots\":{\"method\":\"roots/list\",\"params\":{}}},"
	"\"requestState\":\"opaque\"}}";

/* Feeds text in pieces of the given sizes (cycled), then ends the body. */
static struct seen
run(enum cp_elicit_framing framing, const char *text, size_t len, size_t piece,
    struct cp_elicit *out)
{
	struct cp_elicit s;
	struct seen seen;
	size_t off = 0, n;

	memset(&seen, 0, sizeof(seen));
	cp_elicit_init(&s, framing, found, &seen);
	while (off < len) {
		n = piece == 0 || piece > len - off ? len - off : piece;
		cp_elicit_feed(&s, text + off, n);
		off += n;
	}
	cp_elicit_end(&s);
	if (out)
		*out = s;
	cp_elicit_free(&s);
	return seen;
}

/* Splits text in two at every byte and checks one elicitation each time. */
static void
every_split(enum cp_elicit_framing framing, const char *text, const char *what)
{
	size_t len = strlen(text), cut, bad = 0;
	struct cp_elicit s;
	struct seen seen;

	for (cut = 0; cut <= len; cut++) {
		memset(&seen, 0, sizeof(seen));
		cp_elicit_init(&s, framing, found, &seen);
		cp_elicit_feed(&s, text, cut);
		cp_elicit_feed(&s, text + cut, len - cut);
		cp_elicit_end(&s);
		cp_elicit_free(&s);
		if (seen.n != 1 || strcmp(seen.session_uri[0], SESSION) != 0)
			bad++;
	}
	is_int(bad, 0, "%s: found at every one of %zu split points", what, len + 1);
}

static char *
sse_event(const char *json, const char *eol)
{
	size_t n = strlen(json) + 64;
	char *e = malloc(n);

	if (e)
		snprintf(e, n, "event: message%sdata: %s%s%s", eol, json, eol, eol);
	return e;
}

static void
framing(void)
{
	is_int(cp_elicit_framing_of("application/json"), CP_ELICIT_JSON, "application/json");
	is_int(cp_elicit_framing_of("Application/JSON; charset=utf-8"), CP_ELICIT_JSON,
	    "media type case-insensitive, parameters ignored");
	is_int(cp_elicit_framing_of("text/event-stream"), CP_ELICIT_SSE, "text/event-stream");
	is_int(cp_elicit_framing_of("application/jsonx"), CP_ELICIT_OFF, "no prefix match");
	is_int(cp_elicit_framing_of("text/html"), CP_ELICIT_OFF, "HTML is not scanned");
	is_int(cp_elicit_framing_of(NULL), CP_ELICIT_OFF, "no Content-Type");
}

static void
session_uris(void)
{
	static const struct { const char *url; enum cp_status want; } cases[] = {
		{ AUTHZ_URL SESSION_ENC, CP_OK },
		{ AUTHZ_URL SESSION, CP_OK },                       /* colons unescaped */
		{ "http://127.0.0.1:9/identities/oauth2/authorize?request_uri=" SESSION_ENC, CP_OK },
		{ "https://a.example/x?x=1&request_uri=" SESSION_ENC "&y=2", CP_OK },
		{ "http://a.example/x?request_uri=" SESSION_ENC, CP_ERR_SYNTAX },   /* plain http */
		{ "javascript:alert(1)", CP_ERR_SYNTAX },
		{ "not a url", CP_ERR_SYNTAX },
		{ "https://a.example/x?request_uri=" SESSION_ENC "&request_uri=x", CP_ERR_SYNTAX },
		{ "https://a.example/x?request_uri=%zz", CP_ERR_SYNTAX },
		{ "https://a.example/x", CP_ERR_NOT_FOUND },
		{ "https://a.example/x?session_id=" SESSION_ENC, CP_ERR_NOT_FOUND },
		{ "https://a.example/x?request_uri=", CP_ERR_NOT_FOUND },
		{ "https://a.example/x?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A", CP_ERR_INVALID },
		{ "https://a.example/x?request_uri=urn%3Aother%3Ax", CP_ERR_INVALID },
		{ "https://a.example/x?request_uri=" SESSION_ENC "%2F", CP_ERR_INVALID },
		{ "https://a.example/x?request_uri=" SESSION_ENC "+x", CP_ERR_INVALID },
		{ "https://a.example/x#request_uri=" SESSION_ENC, CP_ERR_NOT_FOUND },
	};
	struct cp_buf out;
	char url[2200];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cp_buf_init(&out, CP_ELICIT_MAX_SESSION_URI);
		is_int(cp_elicit_session_uri(cases[i].url, &out), cases[i].want,
		    "session URI of %s", cases[i].url);
		if (cases[i].want == CP_OK)
			is_str(cp_buf_cstr(&out), SESSION, "  decoded");
		cp_buf_free(&out);
	}
	/* Exactly at the length limit, and one past it. */
	for (i = 0; i < 2; i++) {
		size_t n = CP_ELICIT_MAX_SESSION_URI - strlen(CP_ELICIT_SESSION_URI_PREFIX) + i;
		int k = snprintf(url, sizeof(url), "https://a.example/x?request_uri=%s",
		    CP_ELICIT_SESSION_URI_PREFIX);
		memset(url + k, 'a', n);
		url[k + (int)n] = '\0';
		cp_buf_init(&out, CP_ELICIT_MAX_SESSION_URI);
		is_int(cp_elicit_session_uri(url, &out), i == 0 ? CP_OK : CP_ERR_INVALID,
		    "session URI of %zu bytes", strlen(CP_ELICIT_SESSION_URI_PREFIX) + n);
		cp_buf_free(&out);
	}
}

static void
json_bodies(void)
{
	struct cp_elicit s;
	struct seen seen;
	char *big;

	seen = run(CP_ELICIT_JSON, err_32042, strlen(err_32042), 0, NULL);
	is_int(seen.n, 1, "JSON -32042: one elicitation");
	is_str(seen.session_uri[0], SESSION, "  session URI decoded");
	is_str(seen.id[0], "el-1", "  elicitationId");
	ok(!seen.input_required[0], "  2025-11-25 shape");
	every_split(CP_ELICIT_JSON, err_32042, "JSON -32042");

	seen = run(CP_ELICIT_JSON, mrtr, strlen(mrtr), 0, NULL);
	is_int(seen.n, 1, "JSON input_required: only the URL-mode request");
	is_str(seen.id[0], "gh-1", "  inputRequests key as id");
	ok(seen.input_required[0], "  2026-07-28 shape");
	every_split(CP_ELICIT_JSON, mrtr, "JSON input_required");

	seen = run(CP_ELICIT_JSON, err_32042, strlen(err_32042), 1, &s);
	is_int(seen.n, 1, "JSON fed one byte at a time");

	{
		static const char batch_fmt[] = "[{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}},%s,%s]";
		char batch[4096];
		snprintf(batch, sizeof(batch), batch_fmt, err_32042, mrtr);
		seen = run(CP_ELICIT_JSON, batch, strlen(batch), 7, NULL);
		is_int(seen.n, 2, "JSON-RPC batch: both shapes found");
	}

	static const char *const nothing[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"-32042\"}]}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32603,\"message\":\"input_required\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"input_required\",\"requestState\":\"x\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"resultType\":\"complete\",\"inputRequests\":{}}}",
		"{\"error\":{\"code\":\"-32042\",\"data\":{\"elicitations\":[]}}}",
		"{\"error\":{\"code\":-32042",                                  /* truncated */
		"not json -32042",
		"",
	};
	size_t i;
	for (i = 0; i < sizeof(nothing) / sizeof(nothing[0]); i++) {
		seen = run(CP_ELICIT_JSON, nothing[i], strlen(nothing[i]), 0, NULL);
		is_int(seen.n, 0, "nothing in %.60s", nothing[i]);
	}

	/* A body over the limit is not kept and not scanned. */
	big = malloc(CP_ELICIT_MAX_MESSAGE + sizeof(err_32042));
	if (big) {
		memset(big, ' ', CP_ELICIT_MAX_MESSAGE);
		memcpy(big + CP_ELICIT_MAX_MESSAGE, err_32042, sizeof(err_32042));
		seen = run(CP_ELICIT_JSON, big, strlen(big), 4096, &s);
		is_int(seen.n, 0, "JSON body over %d bytes: not scanned", CP_ELICIT_MAX_MESSAGE);
		is_int(s.skipped, 1, "  counted as skipped");
		free(big);
	}
}

static void
malformed(void)
{
	static const struct { const char *entries; size_t want_found, want_malformed; } cases[] = {
		{ "{\"mode\":\"url\",\"url\":\"" AUTHZ_URL SESSION_ENC "\",\"message\":\"m\"}", 0, 1 },
		{ "{\"mode\":\"url\",\"elicitationId\":\"\",\"url\":\"" AUTHZ_URL SESSION_ENC "\"}", 0, 1 },
		{ "{\"mode\":\"form\",\"elicitationId\":\"e\",\"url\":\"" AUTHZ_URL SESSION_ENC "\"}", 0, 1 },
		{ "{\"elicitationId\":\"e\",\"url\":\"" AUTHZ_URL SESSION_ENC "\"}", 0, 1 },
		{ "{\"mode\":\"url\",\"elicitationId\":\"e\"}", 0, 1 },
		{ "{\"mode\":\"url\",\"elicitationId\":\"e\",\"url\":42}", 0, 1 },
		{ "{\"mode\":\"url\",\"elicitationId\":\"e\",\"url\":\"::not a url::\"}", 0, 1 },
		{ "{\"mode\":\"url\",\"elicitationId\":\"e\",\"url\":\"https://x.example/a?b=c\"}", 0, 1 },
		{ "{\"mode\":\"url\",\"elicitationId\":\"e\",\"url\":\"https://x.example/a?request_uri=urn%3Ax\"}", 0, 1 },
		{ "\"just a string\"", 0, 1 },
		/* One bad entry does not hide a good one. */
		{ "{\"mode\":\"form\",\"elicitationId\":\"e\"},"
		  "{\"mode\":\"url\",\"elicitationId\":\"e2\",\"url\":\"" AUTHZ_URL SESSION_ENC "\",\"message\":\"m\"}", 1, 1 },
	};
	char body[2048];
	struct cp_elicit s;
	struct seen seen;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":-32042,"
		    "\"message\":\"m\",\"data\":{\"elicitations\":[%s]}}}", cases[i].entries);
		seen = run(CP_ELICIT_JSON, body, strlen(body), 0, &s);
		is_int(seen.n, cases[i].want_found, "malformed case %zu: found", i);
		is_int(s.malformed, cases[i].want_malformed, "  malformed count");
	}
	/* -32042 without its list; input_required with a broken request. */
	{
		static const char m[] = "{\"error\":{\"code\":-32042,\"data\":{}}}";
		seen = run(CP_ELICIT_JSON, m, strlen(m), 0, &s);
	}
	ok(seen.n == 0 && s.malformed == 1, "-32042 without elicitations: malformed");
	{
		static const char m[] = "{\"result\":{\"resultType\":\"input_required\",\"inputRequests\":"
		    "{\"a\":{\"method\":\"elicitation/create\",\"params\":{\"mode\":\"url\"}},"
		    "\"b\":{\"method\":\"elicitation/create\"},"
		    "\"c\":{\"method\":\"elicitation/create\",\"params\":{\"message\":\"form by default\"}}}}}";
		seen = run(CP_ELICIT_JSON, m, strlen(m), 0, &s);
		ok(seen.n == 0 && s.malformed == 2, "input requests without url or params: malformed; "
		    "form (no mode) ignored");
	}
}

static void
sse_streams(void)
{
	char *ev, *ev_crlf, *ev_cr, stream[8192], *big;
	struct cp_elicit s;
	struct seen seen;
	size_t piece;

	ev = sse_event(err_32042, "\n");
	ev_crlf = sse_event(err_32042, "\r\n");
	ev_cr = sse_event(mrtr, "\r");
	if (!ev || !ev_crlf || !ev_cr) {
		free(ev);
		free(ev_crlf);
		free(ev_cr);
		return;
	}
	seen = run(CP_ELICIT_SSE, ev, strlen(ev), 0, NULL);
	is_int(seen.n, 1, "SSE event with -32042");
	every_split(CP_ELICIT_SSE, ev, "SSE LF");
	every_split(CP_ELICIT_SSE, ev_crlf, "SSE CRLF");
	every_split(CP_ELICIT_SSE, ev_cr, "SSE lone CR, input_required");

	/* Several events, priming and notifications around the one we want,
	 * fed in many piece sizes. */
	snprintf(stream, sizeof(stream),
	    "id: 1\ndata:\n\n"
	    ": a comment\n"
	    "event: message\nid: 2\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{}}\n\n"
	    "%s"
	    "retry: 1000\n\n"
	    "%s",
	    ev_crlf, ev);
	for (piece = 1; piece <= 64; piece++) {
		seen = run(CP_ELICIT_SSE, stream, strlen(stream), piece, &s);
		if (seen.n != 2)
			break;
	}
	is_int(seen.n, 2, "several events, two elicitations, every piece size up to 64");
	is_int(s.messages, 2, "  only the candidate events were parsed");

	/* Multi-line data is joined with LF, which JSON takes as space. */
	snprintf(stream, sizeof(stream), "%s",
	    "data: {\"jsonrpc\":\"2.0\",\"id\":7,\n"
	    "data:\"error\":{\"code\":-32042,\"message\":\"m\",\n"
	    "data\n"
	    "data: \"data\":{\"elicitations\":[{\"mode\":\"url\",\"elicitationId\":\"el-9\","
	    "\"url\":\"" AUTHZ_URL SESSION_ENC "\",\"message\":\"m\"}]}}}\n\n");
	seen = run(CP_ELICIT_SSE, stream, strlen(stream), 3, NULL);
	is_int(seen.n, 1, "multi-line data (with a bare \"data\" line)");
	is_str(seen.id[0], "el-9", "  the right entry");

	/* Fields that are not "data" do not contribute. */
	snprintf(stream, sizeof(stream), "dataX: %s\n\ndat: %s\n\n", err_32042, err_32042);
	seen = run(CP_ELICIT_SSE, stream, strlen(stream), 0, NULL);
	is_int(seen.n, 0, "\"dataX\" and \"dat\" fields ignored");

	/* An event cut off by the end of the stream is not dispatched. */
	snprintf(stream, sizeof(stream), "data: %s\n", err_32042);
	seen = run(CP_ELICIT_SSE, stream, strlen(stream), 0, NULL);
	is_int(seen.n, 0, "event without its blank line at the end: not dispatched");

	/* A BOM at the start, then an event. */
	snprintf(stream, sizeof(stream), "\xef\xbb\xbf" "data: %s\n\n", err_32042);
	seen = run(CP_ELICIT_SSE, stream, strlen(stream), 1, NULL);
	is_int(seen.n, 1, "leading BOM skipped");

	/* An oversized event is skipped; the next one is still scanned and
	 * the scanner never held more than the limit. */
	big = malloc(CP_ELICIT_MAX_MESSAGE * 2 + 8192);
	if (big) {
		size_t k = 0, i;
		k += (size_t)snprintf(big, 64, "data: ");
		for (i = 0; i < CP_ELICIT_MAX_MESSAGE + 10; i++)
			big[k++] = 'x';
		k += (size_t)snprintf(big + k, 64, "\ndata: %s", "-32042\n\n");
		k += (size_t)snprintf(big + k, 8192, "%s", ev);
		memset(&seen, 0, sizeof(seen));
		cp_elicit_init(&s, CP_ELICIT_SSE, found, &seen);
		for (i = 0; i < k; i += 1000) {
			cp_elicit_feed(&s, big + i, k - i < 1000 ? k - i : 1000);
			if (s.msg.len > CP_ELICIT_MAX_MESSAGE)
				break;
		}
		ok(i >= k, "scanner never holds over %d bytes", CP_ELICIT_MAX_MESSAGE);
		cp_elicit_end(&s);
		is_int(s.skipped, 1, "oversized event skipped");
		is_int(seen.n, 1, "the event after it is found");
		cp_elicit_free(&s);
		free(big);
	}

	/* JSON-framing text given as SSE, and the reverse, find nothing. */
	seen = run(CP_ELICIT_SSE, err_32042, strlen(err_32042), 0, NULL);
	is_int(seen.n, 0, "a JSON body read as SSE: nothing");
	seen = run(CP_ELICIT_OFF, ev, strlen(ev), 0, NULL);
	is_int(seen.n, 0, "framing off: nothing");
	free(ev);
	free(ev_crlf);
	free(ev_cr);
}

/* Which elicitation URLs may make a binding: AgentCore's host only. */
static void
hosts(void)
{
	static const struct { const char *url; bool want; } cases[] = {
		{ AUTHZ_URL SESSION_ENC, true },
		{ "https://BEDROCK-AGENTCORE.us-east-1.amazonaws.com/x?request_uri=" SESSION_ENC, true },
		{ "https://bedrock-agentcore.us-east-1.amazonaws.com:443/x", true },
		{ "https://bedrock-agentcore.us-east-1.amazonaws.com:8443/x", false },
		{ "https://bedrock-agentcore.us-west-2.amazonaws.com/x", false },
		{ "https://bedrock-agentcore.us-east-1.amazonaws.com.evil.example/x", false },
		{ "https://bedrock-agentcore.us-east-1.amazonaws.com@evil.example/x", false },
		{ "https://evil.example/x?u=https://bedrock-agentcore.us-east-1.amazonaws.com/", false },
		{ "https://vpce-1.bedrock-agentcore.us-east-1.vpce.amazonaws.com/x", true },
		{ "https://consent.example/connect", true },
		{ "https://consent.example:444/connect", false },
		{ "https://127.0.0.1:8443/x", true },
		{ "http://127.0.0.1:8443/x", true },
		{ "https://127.0.0.1/x", false },
		{ "https://localhost:8443/x", false },
		{ "not a url", false },
	};
	char *hostlist[] = { "consent.example", "127.0.0.1:8443" };
	struct cp_config cfg;
	struct cp_buf host;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.agentcore_region = "us-east-1";
	cfg.agentcore_endpoint = "https://vpce-1.bedrock-agentcore.us-east-1.vpce.amazonaws.com";
	cfg.elicitation_host.v = hostlist;
	cfg.elicitation_host.n = 2;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(cp_elicit_host_trusted(&cfg, cases[i].url, NULL), cases[i].want,
		    "%s: %s", cases[i].url, cases[i].want ? "AgentCore's" : "not AgentCore's");
	cp_buf_init(&host, 256);
	cp_elicit_host_trusted(&cfg, "https://Evil.example:444/p?q", &host);
	is_str(cp_buf_cstr(&host), "Evil.example:444", "the host named for the log");
	cp_buf_free(&host);

	/* Derived from the region alone (agentcore_endpoint unset). */
	cfg.agentcore_endpoint = NULL;
	cfg.elicitation_host.n = 0;
	ok(cp_elicit_host_trusted(&cfg, AUTHZ_URL SESSION_ENC, NULL), "region alone: its AgentCore host");
	ok(!cp_elicit_host_trusted(&cfg, "https://consent.example/connect", NULL),
	    "  and no other");
	cfg.agentcore_region = NULL;
	ok(!cp_elicit_host_trusted(&cfg, AUTHZ_URL SESSION_ENC, NULL), "nothing configured: none");
}

/* MCP 2026-07-28: a client answers an input_required result by echoing
 * its requestState exactly, so the scanner may only look: a state full
 * of escapes, non-ASCII, a "-32042" lookalike and SSE-looking text, in a
 * plain JSON body and in an SSE event whose data spans two lines, is
 * found once and left byte for byte as it was fed. */
static void
request_state(void)
{
	static const char state[] = "\"requestState\":\"eyJ\\u00e9\\\"x\\\\/-32042"
	    "\\ndata: {}\\r\\n\u00e9\u2028 tail\"";
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{"
	    "\"resultType\":\"input_required\",\"inputRequests\":{\"gh-2\":{\"method\":"
	    "\"elicitation/create\",\"params\":{\"mode\":\"url\",\"message\":\"Log in\","
	    "\"url\":\"" AUTHZ_URL SESSION_ENC "\"}}},";
	char json[1024], sse[1200], copy[1200];
	struct seen seen;
	size_t len;

	snprintf(json, sizeof(json), "%s%s}}", head, state);
	len = strlen(json);
	memcpy(copy, json, len + 1);
	seen = run(CP_ELICIT_JSON, json, len, 7, NULL);
	is_int(seen.n, 1, "JSON input_required with a requestState: one elicitation");
	ok(seen.n == 1 && seen.input_required[0] && strcmp(seen.id[0], "gh-2") == 0,
	    "  the 2026-07-28 shape, keyed gh-2");
	ok(memcmp(copy, json, len + 1) == 0, "  requestState byte for byte as fed");
	every_split(CP_ELICIT_JSON, json, "JSON input_required with requestState");

	/* The same message split over two data lines (joined by LF). */
	snprintf(sse, sizeof(sse), "event: message\r\ndata: %s\r\ndata: %s}}\r\n\r\n",
	    head, state);
	len = strlen(sse);
	memcpy(copy, sse, len + 1);
	seen = run(CP_ELICIT_SSE, sse, len, 5, NULL);
	is_int(seen.n, 1, "SSE input_required over two data lines: one elicitation");
	ok(seen.n == 1 && seen.input_required[0], "  the 2026-07-28 shape");
	ok(memcmp(copy, sse, len + 1) == 0, "  the event byte for byte as fed");
	every_split(CP_ELICIT_SSE, sse, "SSE input_required with requestState");
}

int
main(void)
{
	framing();
	session_uris();
	json_bodies();
	malformed();
	sse_streams();
	hosts();
	request_state();
	return tap_done();
}
