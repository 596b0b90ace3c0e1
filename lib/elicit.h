/*
 * The URL-elicitation scanner: watches a relayed MCP response for the
 * elicitations that start an AgentCore session binding, without holding
 * the stream back.  The relay forwards every chunk first and then hands
 * a copy to cp_elicit_feed; the scanner keeps at most
 * CP_ELICIT_MAX_MESSAGE bytes of the message it is in (one JSON body, or
 * the data of one SSE event) and drops a message that grows past that.
 *
 * Two shapes are recognised, on any HTTP status (doc/agentcore-okta.md 3):
 *   - MCP 2025-11-25: a JSON-RPC error with code -32042 whose
 *     error.data.elicitations[] holds {mode:"url", elicitationId, url,
 *     message} (doc/protocol.md 14.1; schema.ts URLElicitationRequiredError).
 *   - MCP 2026-07-28: a result with resultType "input_required" whose
 *     inputRequests map holds {method:"elicitation/create", params:{mode:
 *     "url", message, url}} (modelcontextprotocol schema/2026-07-28/
 *     schema.ts InputRequiredResult, ElicitRequestURLParams; there the map
 *     key stands in for the elicitation id).
 * An entry counts only when its url carries a request_uri query
 * parameter of the urn:ietf:params:oauth:request_uri: form: that value is
 * the session URI the binding is keyed by.  Malformed entries are logged
 * and skipped; form-mode and other input requests are not ours.
 */
#ifndef CP_ELICIT_H
#define CP_ELICIT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "status.h"

#define CP_ELICIT_MAX_MESSAGE       (64 * 1024) /* one JSON body or SSE event */
#define CP_ELICIT_MAX_ENTRIES       16          /* elicitations looked at per message */
#define CP_ELICIT_MAX_BATCH         64          /* messages in one JSON-RPC batch */
#define CP_ELICIT_MAX_SESSION_URI   1024        /* AgentCore's sessionUri bound */
#define CP_ELICIT_SESSION_URI_PREFIX "urn:ietf:params:oauth:request_uri:"

enum cp_elicit_framing {
	CP_ELICIT_OFF = 0,      /* not a body we scan (HTML, empty, ...) */
	CP_ELICIT_JSON,         /* application/json: the whole body is one message */
	CP_ELICIT_SSE           /* text/event-stream: each event's data is one */
};

/* One usable URL elicitation; every pointer is owned by the scanner and
 * valid only during the callback. */
struct cp_elicitation {
	const char *session_uri;        /* decoded request_uri */
	const char *elicitation_id;     /* elicitationId, or the inputRequests key */
	const char *url;
	bool input_required;            /* the 2026-07-28 shape */
};

typedef void cp_elicit_found_fn(void *arg, const struct cp_elicitation *e);

enum cp_elicit_line {
	CP_ELICIT_LINE_START,   /* nothing of this line seen yet */
	CP_ELICIT_LINE_FIELD,   /* reading the field name */
	CP_ELICIT_LINE_VALUE0,  /* after "data:", before the optional space */
	CP_ELICIT_LINE_DATA,    /* inside a data value */
	CP_ELICIT_LINE_SKIP     /* a comment or a field we ignore */
};

struct cp_elicit {
	enum cp_elicit_framing framing;
	cp_elicit_found_fn *found;
	void *arg;
	struct cp_buf msg;      /* the message so far (SSE: data lines joined) */
	bool oversized;         /* msg outgrew the limit: skip this message */
	size_t offset;          /* SSE BOM bytes matched; 3 once past the start */
	/* SSE line state (WHATWG HTML "Server-sent events", 9.2.6). */
	enum cp_elicit_line line;
	char field[8];
	size_t field_len;
	bool after_cr;          /* a CR ended the last line: skip one LF */
	bool has_data;          /* the event has at least one data line */
	/* Counts, for logs and tests. */
	size_t messages;        /* messages parsed as JSON */
	size_t skipped;         /* messages over the limit */
	size_t found_n;         /* usable elicitations reported */
	size_t malformed;       /* entries ignored as malformed */
};

/* The framing for an upstream Content-Type (media type compared
 * case-insensitively, parameters ignored); NULL gives CP_ELICIT_OFF. */
enum cp_elicit_framing cp_elicit_framing_of(const char *content_type);

/* Prepares s; found (may be NULL) is called once per usable elicitation. */
void cp_elicit_init(struct cp_elicit *s, enum cp_elicit_framing framing,
    cp_elicit_found_fn *found, void *arg);
/* Feeds the next n bytes of the body.  Never fails: a message that
 * cannot be kept is skipped (and counted), the stream is not affected. */
void cp_elicit_feed(struct cp_elicit *s, const void *p, size_t n);
/* The body ended: a JSON body is scanned now; an SSE event without its
 * closing blank line is discarded, as the SSE rules say. */
void cp_elicit_end(struct cp_elicit *s);
void cp_elicit_free(struct cp_elicit *s);

/* Scans one JSON text (a JSON-RPC message or a batch array) and reports
 * each usable elicitation; returns how many were reported.  Used by the
 * scanner, exposed for tests. */
size_t cp_elicit_scan(struct cp_elicit *s, const char *json, size_t len);

/* Appends to out the session URI carried by an elicitation URL: the
 * percent-decoded request_uri query parameter, which must be
 * CP_ELICIT_SESSION_URI_PREFIX followed by one or more RFC 3986
 * unreserved characters, at most CP_ELICIT_MAX_SESSION_URI bytes.  The
 * URL must be absolute https (or http to a loopback host).
 * CP_ERR_SYNTAX: not such a URL; CP_ERR_NOT_FOUND: no request_uri;
 * CP_ERR_INVALID: a request_uri of another form. */
enum cp_status cp_elicit_session_uri(const char *url, struct cp_buf *out);

/* True when url (absolute) names a host the elicitations that start a
 * session binding may point at: AgentCore's, that is the host of
 * agentcore_endpoint, bedrock-agentcore.<agentcore_region>.amazonaws.com
 * when a region is set, and each elicitation_host.  The port must match
 * as well (443 for https and 80 for http when not written); case does
 * not matter in host names.  A URL elsewhere may still be relayed, but
 * it cannot make a binding: its session URI would bind a user's token to
 * a session nobody at AgentCore asked for.  host (may be NULL) gets the
 * URL's host[:port] for the log. */
bool cp_elicit_host_trusted(const struct cp_config *cfg, const char *url,
    struct cp_buf *host);

/* True when s[0..n) is a session URI: CP_ELICIT_SESSION_URI_PREFIX and
 * one or more unreserved characters, at most CP_ELICIT_MAX_SESSION_URI
 * bytes (AgentCore's sessionUri pattern, doc/agentcore-okta.md 1). */
bool cp_elicit_session_uri_ok(const char *s, size_t n);

#endif
