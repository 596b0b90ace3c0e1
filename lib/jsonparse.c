#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "jsonparse.h"
#include "limits.h"

#define JSON_MAX_LEN    0x7fffffff  /* json-c takes the length as an int */

/* Counts object members in the text: every member owns exactly one ':'
 * outside a string, and valid JSON has no other.  false for a single
 * quote outside a string: json-c's strict mode still takes 'name', which
 * RFC 8259 does not, and which would hide colons from this count. */
static bool
count_members_text(const char *s, size_t len, size_t *n)
{
	bool in_string = false;
	size_t i;

	*n = 0;
	for (i = 0; i < len; i++) {
		if (in_string) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in_string = false;
		} else if (s[i] == '"') {
			in_string = true;
		} else if (s[i] == ':') {
			(*n)++;
		} else if (s[i] == '\'') {
			return false;
		}
	}
	return true;
}

/* Members json-c kept.  A duplicate name replaces the earlier member
 * (and drops its subtree), so the kept count falls below the text count
 * exactly when some object named a member twice. */
static size_t
count_members_tree(json_object *o)
{
	size_t n = 0, i, len;

	switch (json_object_get_type(o)) {
	case json_type_object: {
		json_object_object_foreach(o, k, v) {
			(void)k;
			n += 1 + count_members_tree(v);
		}
		break;
	}
	case json_type_array:
		len = json_object_array_length(o);
		for (i = 0; i < len; i++)
			n += count_members_tree(json_object_array_get_idx(o, i));
		break;
	default:
		break;
	}
	return n;
}

enum cp_status
cp_json_parse_object(const char *text, size_t len, json_object **out)
{
	enum cp_status rc = CP_ERR_SYNTAX;
	enum json_tokener_error jerr;
	json_tokener *tok = NULL;
	json_object *o = NULL;
	size_t end, members;

	*out = NULL;
	if (len > JSON_MAX_LEN) {
		rc = CP_ERR_LIMIT;
		goto out;
	}
	/* json-c reads a NUL as the end of input; refuse it outright. */
	if (len == 0 || memchr(text, '\0', len) != NULL)
		goto out;
	if ((tok = json_tokener_new_ex(CP_MAX_JSON_DEPTH)) == NULL) {
		rc = CP_ERR_NOMEM;
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, text, (int)len);
	jerr = json_tokener_get_error(tok);
	if (o == NULL) {
		if (jerr == json_tokener_error_depth)
			rc = CP_ERR_LIMIT;
		goto out;
	}
	if (jerr != json_tokener_success || !json_object_is_type(o, json_type_object))
		goto out;
	/* RFC 8259 section 2: whitespace may follow the value, nothing else. */
	for (end = json_tokener_get_parse_end(tok); end < len; end++)
		if (strchr(" \t\r\n", text[end]) == NULL)
			goto out;
	if (!count_members_text(text, len, &members))
		goto out;
	if (count_members_tree(o) != members) {
		rc = CP_ERR_DUPLICATE;
		goto out;
	}
	*out = o;
	o = NULL;
	rc = CP_OK;
out:
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	return rc;
}
