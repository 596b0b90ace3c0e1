/*
 * MCP 2026-07-28 request metadata headers against the body
 * (doc/protocol.md 13.10-13.14).
 */
#include "config.h"

#include <string.h>

#include "buf.h"
#include "limits.h"
#include "mcphdr.h"
#include "seal.h"

#define BODY_MAX_LEN    0x7fffffff  /* json-c takes the length as an int */

/* The revisions whose requests must carry Mcp-Method (and Mcp-Name
 * where the method names something): doc/protocol.md 13.11.  A revision
 * the proxy does not know is not held to rules it may not have. */
static const char *const headers_required_in[] = {
	"2026-07-28",
};

/* The methods whose body names something, and where (doc/protocol.md
 * 13.10: MCP 2026-07-28 transports, "Standard Request Headers"). */
static const struct {
	const char *method, *member;
} named[] = {
	{ "tools/call", "name" },
	{ "prompts/get", "name" },
	{ "resources/read", "uri" },
};

bool
cp_mcphdr_required(const char *version)
{
	size_t i;

	for (i = 0; version && i < sizeof(headers_required_in) / sizeof(headers_required_in[0]); i++)
		if (strcmp(version, headers_required_in[i]) == 0)
			return true;
	return false;
}

/* RFC 9110 section 5.5 field-value characters without obs-text: visible
 * ASCII, space, tab; not empty (doc/protocol.md 13.12: a value outside
 * them is carried in the Base64 form). */
static bool
field_ok(const char *v)
{
	return v[0] != '\0' && cp_field_value_ok(v, strlen(v));
}

/* The Mcp-Name value v as the body would carry it, into out: the Base64
 * form decoded (UTF-8 required), any other value as it is.  CP_ERR_SYNTAX
 * for a Base64 form that is not canonical Base64 of UTF-8. */
static enum cp_status
name_value(const char *v, struct cp_buf *out)
{
	size_t n = strlen(v), pre = strlen(CP_MCP_B64_PREFIX), suf = strlen(CP_MCP_B64_SUFFIX);
	enum cp_status rc;

	if (n < pre + suf || strncmp(v, CP_MCP_B64_PREFIX, pre) != 0 ||
	    strcmp(v + n - suf, CP_MCP_B64_SUFFIX) != 0)
		return cp_buf_add(out, v, n);
	if ((rc = cp_b64_decode(v + pre, n - pre - suf, out)) != CP_OK)
		return rc;
	return cp_utf8_valid(out->data ? out->data : "", out->len) ? CP_OK : CP_ERR_SYNTAX;
}

/* The string member key of o, or NULL. */
static json_object *
string_member(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return v;
}

/* The member of params that Mcp-Name mirrors for method, or NULL when
 * the method names nothing. */
static const char *
named_member(const char *method)
{
	size_t i;

	for (i = 0; method && i < sizeof(named) / sizeof(named[0]); i++)
		if (strcmp(method, named[i].method) == 0)
			return named[i].member;
	return NULL;
}

/* Mcp-Name against the body's value (NULL when it has none). */
static const char *
check_name(const struct cp_mcphdr *h, json_object *body_value, bool required)
{
	struct cp_buf decoded;
	const char *why = NULL;

	if (h->name == NULL)
		return required && body_value != NULL ?
		    "Header mismatch: the required Mcp-Name header is missing" : NULL;
	cp_buf_init(&decoded, CP_MAX_HEADER);
	if (name_value(h->name, &decoded) != CP_OK)
		why = "Header mismatch: the Mcp-Name header is not valid Base64 of UTF-8";
	else if (body_value == NULL)
		why = "Header mismatch: the Mcp-Name header names what the body does not";
	else if ((size_t)json_object_get_string_len(body_value) != decoded.len ||
	    memcmp(json_object_get_string(body_value), decoded.data ? decoded.data : "",
	    decoded.len) != 0)
		why = "Header mismatch: the Mcp-Name header does not match the body";
	cp_buf_free(&decoded);
	return why;
}

json_object *
cp_mcphdr_body(const char *body, size_t len)
{
	json_tokener *tok;
	json_object *msg = NULL;
	size_t end;

	if (len > BODY_MAX_LEN || (tok = json_tokener_new_ex(CP_MCP_MAX_BODY_DEPTH)) == NULL)
		return NULL;
	msg = json_tokener_parse_ex(tok, body, (int)len);
	end = msg ? json_tokener_get_parse_end(tok) : len;
	json_tokener_free(tok);
	/* RFC 8259 section 2: only white space may follow the value; json-c
	 * stops after it, where the gateway's parser refuses the body. */
	while (end < len && (body[end] == ' ' || body[end] == '\t' || body[end] == '\r' ||
	    body[end] == '\n'))
		end++;
	if (msg != NULL && (end < len || !json_object_is_type(msg, json_type_object))) {
		json_object_put(msg);
		msg = NULL;
	}
	return msg;
}

const char *
cp_mcphdr_check(const struct cp_mcphdr *h, json_object *msg)
{
	json_object *m, *params = NULL, *id;
	const char *method, *member;
	bool required;

	if (msg == NULL || !json_object_is_type(msg, json_type_object))
		return h->method || h->name || h->method_bad || h->name_bad ||
		    cp_mcphdr_required(h->version) ?
		    "Header mismatch: the body is not one JSON object to check the headers against" :
		    NULL;
	if (h->method_bad || (h->method && !field_ok(h->method)))
		return "Header mismatch: the Mcp-Method header has characters it may not have";
	if (h->name_bad || (h->name && !field_ok(h->name)))
		return "Header mismatch: the Mcp-Name header has characters it may not have";
	m = string_member(msg, "method");
	method = m ? json_object_get_string(m) : NULL;
	/* Required on a request only, a method with an id (doc/protocol.md
	 * 13.11): the revision leaves a notification's headers undefined,
	 * and a response (an id, no method) has no method to mirror. */
	required = cp_mcphdr_required(h->version) && method != NULL &&
	    json_object_object_get_ex(msg, "id", &id);
	if (h->method == NULL) {
		if (required)
			return "Header mismatch: the required Mcp-Method header is missing";
	} else if (method == NULL)
		return "Header mismatch: the Mcp-Method header names a method the body does not";
	else if (strcmp(h->method, method) != 0)
		return "Header mismatch: the Mcp-Method header does not match the body's method";
	/* Mcp-Name on a method that names nothing is not compared: there is
	 * nothing in the body it could disagree with. */
	if ((member = named_member(method)) == NULL)
		return NULL;
	json_object_object_get_ex(msg, "params", &params);
	return check_name(h, string_member(params, member), required);
}
