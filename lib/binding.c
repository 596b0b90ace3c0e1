#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "binding.h"
#include "limits.h"
#include "log.h"

void
cp_binding_free(struct cp_binding_record *b)
{
	free(b->user_id);
	cp_buf_wipe_free(&b->token);
	memset(b, 0, sizeof(*b));
}

static bool
add(json_object *o, const char *key, json_object *v)
{
	if (v == NULL || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* The record text for the fields given; appended to out. */
static enum cp_status
record(const char *user_id, const char *envelope, time_t created, time_t expires,
    bool consumed, struct cp_buf *out)
{
	json_object *o = json_object_new_object();
	const char *text;
	size_t len = 0;
	enum cp_status rc = CP_ERR_NOMEM;

	if (o && add(o, "v", json_object_new_int(1)) &&
	    add(o, "user_id", json_object_new_string(user_id)) &&
	    add(o, "token", json_object_new_string(envelope)) &&
	    add(o, "created", json_object_new_int64(created)) &&
	    add(o, "expires", json_object_new_int64(expires)) &&
	    add(o, "consumed", json_object_new_boolean(consumed)) &&
	    (text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE, &len)) != NULL)
		rc = cp_buf_add(out, text, len);
	json_object_put(o);
	return rc;
}

static bool
member(json_object *o, const char *key, json_type type, json_object **v)
{
	return json_object_object_get_ex(o, key, v) && json_object_is_type(*v, type);
}

/* Parses a stored record into b (token still sealed in *envelope). */
static enum cp_status
parse(const struct cp_buf *raw, struct cp_binding_record *b, json_object **root,
    const char **envelope)
{
	json_tokener *tok = json_tokener_new_ex(CP_MAX_JSON_DEPTH);
	json_object *v, *user, *token, *created, *expires, *consumed;

	*root = NULL;
	if (tok == NULL)
		return CP_ERR_NOMEM;
	*root = json_tokener_parse_ex(tok, raw->data, (int)raw->len);
	if (*root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_is_type(*root, json_type_object) ||
	    !member(*root, "v", json_type_int, &v) || json_object_get_int(v) != 1 ||
	    !member(*root, "user_id", json_type_string, &user) ||
	    !member(*root, "token", json_type_string, &token) ||
	    !member(*root, "created", json_type_int, &created) ||
	    !member(*root, "expires", json_type_int, &expires) ||
	    !member(*root, "consumed", json_type_boolean, &consumed)) {
		json_tokener_free(tok);
		return CP_ERR_SYNTAX;
	}
	json_tokener_free(tok);
	if ((b->user_id = strdup(json_object_get_string(user))) == NULL)
		return CP_ERR_NOMEM;
	b->created = (time_t)json_object_get_int64(created);
	b->expires = (time_t)json_object_get_int64(expires);
	b->consumed = json_object_get_boolean(consumed);
	*envelope = json_object_get_string(token);
	return CP_OK;
}

enum cp_status
cp_binding_put(struct cp_store *st, const struct cp_keys *keys,
    const char *session_uri, const char *user_id, const char *token,
    size_t token_len, time_t now, bool *refreshed)
{
	struct cp_buf envelope, value, raw;
	struct cp_binding_record held;
	json_object *root = NULL;
	const char *held_envelope;
	size_t ulen = strlen(user_id), klen = strlen(session_uri);
	time_t expires = now + CP_BINDING_TTL;
	int tries;
	enum cp_status rc;

	if (refreshed)
		*refreshed = false;
	if (ulen == 0 || ulen > CP_BINDING_MAX_USER_ID)
		return CP_ERR_INVALID;
	memset(&held, 0, sizeof(held));
	cp_buf_init(&envelope, CP_BINDING_MAX_RECORD);
	cp_buf_init(&value, CP_BINDING_MAX_RECORD);
	cp_buf_init(&raw, CP_BINDING_MAX_RECORD);
	if ((rc = cp_seal(keys, CP_SEAL_AT_REST, token, token_len, expires, &envelope,
	    NULL)) != CP_OK ||
	    (rc = record(user_id, cp_buf_cstr(&envelope), now, expires, false, &value)) != CP_OK)
		goto out;
	for (tries = 0; tries < CP_BINDING_PUT_TRIES; tries++) {
		rc = cp_store_add(st, CP_NS_BINDING, session_uri, klen, value.data, value.len,
		    expires + CP_BINDING_GRACE);
		if (rc != CP_ERR_REPLAY)
			goto out;
		/* A binding is there: whose, and is it spent? */
		cp_binding_free(&held);
		json_object_put(root);
		root = NULL;
		cp_buf_reset(&raw);
		rc = cp_store_get(st, CP_NS_BINDING, session_uri, klen, &raw, NULL);
		if (rc == CP_ERR_NOT_FOUND)
			continue;       /* purged since: add again */
		if (rc != CP_OK || (rc = parse(&raw, &held, &root, &held_envelope)) != CP_OK)
			goto out;
		rc = CP_ERR_DENIED;
		if (!cp_secret_eq(held.user_id, strlen(held.user_id), user_id, ulen))
			goto out;
		rc = CP_ERR_REPLAY;
		if (held.consumed)
			goto out;
		/* Only over the very record read: a consume or another
		 * refresh in between makes the swap fail, and we look again. */
		rc = cp_store_swap(st, CP_NS_BINDING, session_uri, klen, raw.data, raw.len,
		    value.data, value.len, expires + CP_BINDING_GRACE);
		if (rc == CP_OK && refreshed)
			*refreshed = true;
		if (rc != CP_ERR_REPLAY && rc != CP_ERR_NOT_FOUND)
			goto out;
	}
	cp_log(CP_LOG_WARN, "binding: the record changed under %d writes in a row; not stored",
	    CP_BINDING_PUT_TRIES);
	rc = CP_ERR_STORE;
out:
	cp_binding_free(&held);
	json_object_put(root);
	cp_buf_free(&envelope);
	cp_buf_free(&value);
	cp_buf_free(&raw);
	return rc;
}

/* Reads the record; raw keeps its stored text for a compare-and-swap. */
static enum cp_status
load(struct cp_store *st, const struct cp_keys *keys, const char *session_uri,
    time_t now, struct cp_binding_record *b, struct cp_buf *raw, const char **envelope_out,
    json_object **root)
{
	const char *envelope;
	enum cp_status rc;

	memset(b, 0, sizeof(*b));
	cp_buf_init(&b->token, CP_SEAL_MAX_PLAIN);
	*root = NULL;
	if ((rc = cp_store_get(st, CP_NS_BINDING, session_uri, strlen(session_uri),
	    raw, NULL)) != CP_OK)
		return rc;
	if ((rc = parse(raw, b, root, &envelope)) != CP_OK)
		return rc;
	if (b->expires <= now)
		return CP_ERR_EXPIRED;
	if (envelope_out)
		*envelope_out = envelope;
	return cp_open(keys, CP_SEAL_AT_REST, envelope, strlen(envelope), now,
	    &b->token, NULL, NULL);
}

enum cp_status
cp_binding_get(struct cp_store *st, const struct cp_keys *keys,
    const char *session_uri, time_t now, struct cp_binding_record *b)
{
	struct cp_buf raw;
	json_object *root;
	enum cp_status rc;

	cp_buf_init(&raw, CP_BINDING_MAX_RECORD);
	rc = load(st, keys, session_uri, now, b, &raw, NULL, &root);
	json_object_put(root);
	cp_buf_free(&raw);
	return rc;
}

enum cp_status
cp_binding_consume(struct cp_store *st, const struct cp_keys *keys,
    const char *session_uri, time_t now, struct cp_binding_record *b)
{
	struct cp_buf raw, next;
	const char *envelope = NULL;
	json_object *root;
	enum cp_status rc;

	cp_buf_init(&raw, CP_BINDING_MAX_RECORD);
	cp_buf_init(&next, CP_BINDING_MAX_RECORD);
	if ((rc = load(st, keys, session_uri, now, b, &raw, &envelope, &root)) != CP_OK)
		goto out;
	rc = CP_ERR_REPLAY;
	if (b->consumed)
		goto out;
	if ((rc = record(b->user_id, envelope, b->created, b->expires, true, &next)) != CP_OK)
		goto out;
	/* The swap succeeds for exactly one of two racing consumers. */
	if ((rc = cp_store_swap(st, CP_NS_BINDING, session_uri, strlen(session_uri),
	    raw.data, raw.len, next.data, next.len,
	    b->expires + CP_BINDING_GRACE)) == CP_OK)
		b->consumed = true;
out:
	json_object_put(root);
	cp_buf_free(&raw);
	cp_buf_free(&next);
	return rc;
}
