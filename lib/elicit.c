#include "config.h"

#define _GNU_SOURCE             /* memmem */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "elicit.h"
#include "form.h"
#include "limits.h"
#include "log.h"
#include "url.h"

enum cp_elicit_framing
cp_elicit_framing_of(const char *content_type)
{
	static const struct { const char *type; enum cp_elicit_framing f; } types[] = {
		{ "application/json", CP_ELICIT_JSON },
		{ "text/event-stream", CP_ELICIT_SSE },
	};
	size_t i, n;

	if (content_type == NULL)
		return CP_ELICIT_OFF;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		n = strlen(types[i].type);
		if (strncasecmp(content_type, types[i].type, n) == 0 &&
		    (content_type[n] == '\0' || content_type[n] == ';' ||
		    content_type[n] == ' ' || content_type[n] == '\t'))
			return types[i].f;
	}
	return CP_ELICIT_OFF;
}

void
cp_elicit_init(struct cp_elicit *s, enum cp_elicit_framing framing,
    cp_elicit_found_fn *found, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->framing = framing;
	s->found = found;
	s->arg = arg;
	cp_buf_init(&s->msg, CP_ELICIT_MAX_MESSAGE);
}

void
cp_elicit_free(struct cp_elicit *s)
{
	cp_buf_free(&s->msg);
}

/* RFC 3986 section 2.3 unreserved characters. */
static bool
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

bool
cp_elicit_session_uri_ok(const char *s, size_t n)
{
	const size_t plen = strlen(CP_ELICIT_SESSION_URI_PREFIX);
	size_t i;

	if (n <= plen || n > CP_ELICIT_MAX_SESSION_URI ||
	    strncmp(s, CP_ELICIT_SESSION_URI_PREFIX, plen) != 0)
		return false;
	for (i = plen; i < n; i++)
		if (!unreserved((unsigned char)s[i]))
			return false;
	return true;
}

enum cp_status
cp_elicit_session_uri(const char *url, struct cp_buf *out)
{
	struct cp_url u;
	struct cp_form f;
	const char *v;
	size_t n;
	enum cp_status rc;

	memset(&f, 0, sizeof(f));
	if (cp_url_parse(url, &u) != CP_OK)
		return CP_ERR_SYNTAX;
	rc = CP_ERR_SYNTAX;
	if (!(strcmp(u.scheme, "https") == 0 ||
	    (strcmp(u.scheme, "http") == 0 && cp_url_host_is_loopback(u.host))))
		goto out;
	rc = CP_ERR_NOT_FOUND;
	if (u.query == NULL)
		goto out;
	/* Duplicates and bad escapes refuse the whole query: an ambiguous
	 * session URI is no session URI. */
	if (cp_form_parse(u.query, strlen(u.query), &f) != CP_OK) {
		rc = CP_ERR_SYNTAX;
		goto out;
	}
	rc = CP_ERR_NOT_FOUND;
	if ((v = cp_form_get(&f, "request_uri")) == NULL)
		goto out;
	rc = CP_ERR_INVALID;
	n = strlen(v);
	if (!cp_elicit_session_uri_ok(v, n))
		goto out;
	rc = cp_buf_add(out, v, n);
out:
	cp_form_free(&f);
	cp_url_free(&u);
	return rc;
}

/* The port u names, or its scheme's default. */
static unsigned long
port_of(const struct cp_url *u)
{
	if (u->port)
		return strtoul(u->port, NULL, 10);
	return strcasecmp(u->scheme, "http") == 0 ? 80 : 443;
}

/* True when u has the host and port of the absolute URL text. */
static bool
same_authority(const struct cp_url *u, const char *text)
{
	struct cp_url a;
	bool same;

	if (cp_url_parse(text, &a) != CP_OK)
		return false;
	same = strcasecmp(a.host, u->host) == 0 && port_of(&a) == port_of(u);
	cp_url_free(&a);
	return same;
}

bool
cp_elicit_host_trusted(const struct cp_config *cfg, const char *url, struct cp_buf *host)
{
	struct cp_url u;
	struct cp_buf known;
	size_t i;
	bool trusted = false;

	if (cp_url_parse(url, &u) != CP_OK)
		return false;
	/* A failed append leaves host empty, which only the log sees. */
	if (host)
		cp_buf_printf(host, "%s%s%s", u.host, u.port ? ":" : "", u.port ? u.port : "");
	cp_buf_init(&known, CP_MAX_URL);
	if (cfg->agentcore_endpoint)
		trusted = same_authority(&u, cfg->agentcore_endpoint);
	if (!trusted && cfg->agentcore_region)
		trusted = cp_buf_printf(&known, "https://bedrock-agentcore.%s.amazonaws.com/",
		    cfg->agentcore_region) == CP_OK && same_authority(&u, cp_buf_cstr(&known));
	for (i = 0; !trusted && i < cfg->elicitation_host.n; i++) {
		cp_buf_reset(&known);
		trusted = cp_buf_printf(&known, "https://%s/", cfg->elicitation_host.v[i]) == CP_OK &&
		    same_authority(&u, cp_buf_cstr(&known));
	}
	cp_buf_free(&known);
	cp_url_free(&u);
	return trusted;
}

static const char *
member_str(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Reports one entry if its URL holds a session URI; counts it otherwise. */
static size_t
report(struct cp_elicit *s, const char *id, const char *url, bool input_required)
{
	struct cp_buf session_uri;
	struct cp_elicitation e;
	enum cp_status rc;

	cp_buf_init(&session_uri, CP_ELICIT_MAX_SESSION_URI);
	if ((rc = cp_elicit_session_uri(url, &session_uri)) != CP_OK) {
		s->malformed++;
		/* The URL itself stays out of the log: it is a capability. */
		cp_log(CP_LOG_WARN, "URL elicitation %.64s ignored: %s", id,
		    rc == CP_ERR_NOT_FOUND ? "its url has no request_uri" :
		    rc == CP_ERR_INVALID ? "its request_uri is not a session URI" :
		    "its url is not a usable https URL");
		cp_buf_free(&session_uri);
		return 0;
	}
	e.session_uri = cp_buf_cstr(&session_uri);
	e.elicitation_id = id;
	e.url = url;
	e.input_required = input_required;
	s->found_n++;
	if (s->found)
		s->found(s->arg, &e);
	cp_buf_free(&session_uri);
	return 1;
}

/* MCP 2025-11-25 URLElicitationRequiredError: error.code -32042,
 * error.data.elicitations[] of ElicitRequestURLParams. */
static size_t
scan_error(struct cp_elicit *s, json_object *error)
{
	json_object *code, *data, *list, *entry;
	const char *mode, *id, *url;
	size_t i, n, got = 0;

	if (!json_object_object_get_ex(error, "code", &code) ||
	    !json_object_is_type(code, json_type_int) || json_object_get_int64(code) != -32042)
		return 0;
	if (!json_object_object_get_ex(error, "data", &data) ||
	    !json_object_object_get_ex(data, "elicitations", &list) ||
	    !json_object_is_type(list, json_type_array)) {
		s->malformed++;
		cp_log(CP_LOG_WARN, "-32042 error without data.elicitations ignored");
		return 0;
	}
	n = json_object_array_length(list);
	if (n > CP_ELICIT_MAX_ENTRIES) {
		cp_log(CP_LOG_WARN, "-32042 error lists %zu elicitations; only the first %d are looked at",
		    n, CP_ELICIT_MAX_ENTRIES);
		n = CP_ELICIT_MAX_ENTRIES;
	}
	for (i = 0; i < n; i++) {
		entry = json_object_array_get_idx(list, i);
		mode = json_object_is_type(entry, json_type_object) ? member_str(entry, "mode") : NULL;
		id = mode ? member_str(entry, "elicitationId") : NULL;
		url = mode ? member_str(entry, "url") : NULL;
		/* Every -32042 entry must be URL mode with an id (MCP
		 * 2025-11-25 client/elicitation), so anything else is broken. */
		if (mode == NULL || strcmp(mode, "url") != 0 || id == NULL || id[0] == '\0' ||
		    url == NULL) {
			s->malformed++;
			cp_log(CP_LOG_WARN, "-32042 elicitation %zu ignored: not a URL-mode entry "
			    "with elicitationId and url", i);
			continue;
		}
		got += report(s, id, url, false);
	}
	return got;
}

/* MCP 2026-07-28 InputRequiredResult: result.resultType "input_required",
 * result.inputRequests { key: ElicitRequest } (schema/2026-07-28/schema.ts). */
static size_t
scan_result(struct cp_elicit *s, json_object *result)
{
	json_object *requests, *params;
	const char *type, *method, *mode, *url;
	size_t n = 0, got = 0;

	type = json_object_is_type(result, json_type_object) ? member_str(result, "resultType") : NULL;
	if (type == NULL || strcmp(type, "input_required") != 0)
		return 0;
	if (!json_object_object_get_ex(result, "inputRequests", &requests))
		return 0;       /* requestState only (load shedding): nothing to bind */
	if (!json_object_is_type(requests, json_type_object)) {
		s->malformed++;
		cp_log(CP_LOG_WARN, "input_required result with a non-object inputRequests ignored");
		return 0;
	}
	json_object_object_foreach(requests, key, request) {
		if (n++ == CP_ELICIT_MAX_ENTRIES) {
			cp_log(CP_LOG_WARN, "input_required result lists over %d requests; "
			    "the rest are not looked at", CP_ELICIT_MAX_ENTRIES);
			break;
		}
		method = json_object_is_type(request, json_type_object) ?
		    member_str(request, "method") : NULL;
		if (method == NULL || strcmp(method, "elicitation/create") != 0)
			continue;       /* sampling, roots: not ours */
		if (!json_object_object_get_ex(request, "params", &params) ||
		    !json_object_is_type(params, json_type_object)) {
			s->malformed++;
			cp_log(CP_LOG_WARN, "input request %.64s ignored: no params", key);
			continue;
		}
		mode = member_str(params, "mode");
		if (mode == NULL || strcmp(mode, "url") != 0)
			continue;       /* form mode (the default): no URL to bind */
		if ((url = member_str(params, "url")) == NULL || key[0] == '\0') {
			s->malformed++;
			cp_log(CP_LOG_WARN, "URL input request %.64s ignored: no url", key);
			continue;
		}
		got += report(s, key, url, true);
	}
	return got;
}

static size_t
scan_message(struct cp_elicit *s, json_object *m)
{
	json_object *v;
	size_t got = 0;

	if (!json_object_is_type(m, json_type_object))
		return 0;
	if (json_object_object_get_ex(m, "error", &v) && json_object_is_type(v, json_type_object))
		got += scan_error(s, v);
	if (json_object_object_get_ex(m, "result", &v))
		got += scan_result(s, v);
	return got;
}

size_t
cp_elicit_scan(struct cp_elicit *s, const char *json, size_t len)
{
	json_tokener *tok;
	json_object *root;
	size_t i, n, got = 0;

	/* Most messages are neither shape: skip the parse for them.  Both
	 * markers are literal JSON (a number; a string nobody escapes). */
	if (len == 0 || (memmem(json, len, "32042", 5) == NULL &&
	    memmem(json, len, "input_required", 14) == NULL))
		return 0;
	if ((tok = json_tokener_new_ex(CP_MAX_JSON_DEPTH)) == NULL)
		return 0;
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		cp_log(CP_LOG_DEBUG, "relayed message is not JSON: not scanned");
		goto out;
	}
	s->messages++;
	if (json_object_is_type(root, json_type_array)) {
		n = json_object_array_length(root);
		for (i = 0; i < n && i < CP_ELICIT_MAX_BATCH; i++)
			got += scan_message(s, json_object_array_get_idx(root, i));
	} else
		got += scan_message(s, root);
out:
	json_object_put(root);
	json_tokener_free(tok);
	return got;
}

/* Keeps n more bytes of the current message, or gives the message up. */
static void
keep(struct cp_elicit *s, const void *p, size_t n)
{
	if (s->oversized || n == 0)
		return;
	if (cp_buf_add(&s->msg, p, n) != CP_OK) {
		/* cp_buf_add freed the buffer; it starts again empty. */
		s->oversized = true;
		cp_buf_init(&s->msg, CP_ELICIT_MAX_MESSAGE);
	}
}

/* The end of one message: scan it unless it outgrew the limit. */
static void
message_end(struct cp_elicit *s)
{
	if (s->oversized) {
		s->skipped++;
		cp_log(CP_LOG_DEBUG, "relayed message over %d bytes: not scanned",
		    CP_ELICIT_MAX_MESSAGE);
	} else
		cp_elicit_scan(s, cp_buf_cstr(&s->msg), s->msg.len);
	cp_buf_reset(&s->msg);
	s->oversized = false;
}

/* An SSE line ended (WHATWG "Server-sent events" 9.2.6 "Interpreting an
 * event stream"): an empty line dispatches the event; a "data" line with
 * no colon adds an empty value. */
static void
sse_line_end(struct cp_elicit *s)
{
	switch (s->line) {
	case CP_ELICIT_LINE_START:
		if (s->has_data) {
			/* The data buffer's last LF is removed before dispatch. */
			if (!s->oversized && s->msg.len > 0)
				s->msg.data[--s->msg.len] = '\0';
			message_end(s);
		} else
			cp_buf_reset(&s->msg);
		s->has_data = false;
		break;
	case CP_ELICIT_LINE_FIELD:
		if (s->field_len == 4 && memcmp(s->field, "data", 4) == 0) {
			s->has_data = true;
			keep(s, "\n", 1);
		}
		break;
	case CP_ELICIT_LINE_VALUE0:
	case CP_ELICIT_LINE_DATA:
		keep(s, "\n", 1);
		break;
	case CP_ELICIT_LINE_SKIP:
		break;
	}
	s->line = CP_ELICIT_LINE_START;
	s->field_len = 0;
}

static void
sse_feed(struct cp_elicit *s, const unsigned char *p, size_t n)
{
	static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };
	size_t i = 0, j;

	while (i < n) {
		unsigned char c = p[i];

		/* A UTF-8 BOM at the very start is not part of the first line
		 * (offset counts its bytes; 3 means the start is behind us). */
		if (s->offset < 3) {
			if (c == bom[s->offset]) {
				s->offset++;
				i++;
				continue;
			}
			s->offset = 3;
		}
		if (s->after_cr) {
			s->after_cr = false;
			if (c == '\n') {
				i++;
				continue;
			}
		}
		if (c == '\r' || c == '\n') {
			s->after_cr = c == '\r';
			sse_line_end(s);
			i++;
			continue;
		}
		switch (s->line) {
		case CP_ELICIT_LINE_START:
			if (c == ':') {
				s->line = CP_ELICIT_LINE_SKIP;
				i++;
				continue;
			}
			s->line = CP_ELICIT_LINE_FIELD;
			/* FALLTHROUGH */
		case CP_ELICIT_LINE_FIELD:
			if (c == ':') {
				if (s->field_len == 4 && memcmp(s->field, "data", 4) == 0) {
					s->has_data = true;
					s->line = CP_ELICIT_LINE_VALUE0;
				} else
					s->line = CP_ELICIT_LINE_SKIP;
			} else if (s->field_len < 5)
				s->field[s->field_len++] = (char)c;
			else
				s->line = CP_ELICIT_LINE_SKIP;
			i++;
			continue;
		case CP_ELICIT_LINE_VALUE0:
			s->line = CP_ELICIT_LINE_DATA;
			if (c == ' ') {
				i++;
				continue;
			}
			/* FALLTHROUGH */
		case CP_ELICIT_LINE_DATA:
		case CP_ELICIT_LINE_SKIP:
			/* The rest of the line in one step. */
			for (j = i; j < n && p[j] != '\r' && p[j] != '\n'; j++)
				;
			if (s->line == CP_ELICIT_LINE_DATA)
				keep(s, p + i, j - i);
			i = j;
			continue;
		}
	}
}

void
cp_elicit_feed(struct cp_elicit *s, const void *p, size_t n)
{
	switch (s->framing) {
	case CP_ELICIT_JSON:
		keep(s, p, n);
		break;
	case CP_ELICIT_SSE:
		sse_feed(s, p, n);
		break;
	case CP_ELICIT_OFF:
		break;
	}
}

void
cp_elicit_end(struct cp_elicit *s)
{
	if (s->framing == CP_ELICIT_JSON)
		message_end(s);
	/* SSE: "If the file ends in the middle of an event, before the final
	 * empty line, the incomplete event is not dispatched." */
	cp_buf_reset(&s->msg);
	s->oversized = false;
	s->has_data = false;
}
