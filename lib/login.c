#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limits.h"
#include "log.h"
#include "login.h"
#include "redirect.h"
#include "oauth.h"
#include "response.h"

/* How sealed objects are serialised; cp_login_sealed_len must agree. */
#define CP_LOGIN_JSON_FLAGS (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

enum cp_status
cp_login_seal(struct cp_login *lg, enum cp_seal_purpose purpose,
    json_object *obj, time_t expires, struct cp_buf *out,
    uint8_t id[CP_SEAL_ID_LEN])
{
	const char *text;
	size_t len = 0;

	text = json_object_to_json_string_length(obj, CP_LOGIN_JSON_FLAGS, &len);
	if (text == NULL)
		return CP_ERR_NOMEM;
	return cp_seal(lg->keys, purpose, text, len, expires, out, id);
}

size_t
cp_login_sealed_len(json_object *obj)
{
	size_t len = 0;

	if (json_object_to_json_string_length(obj, CP_LOGIN_JSON_FLAGS, &len) == NULL)
		return 0;
	return cp_seal_text_len(len);
}

enum cp_status
cp_login_open(struct cp_login *lg, enum cp_seal_purpose purpose,
    const char *envelope, time_t now, json_object **obj,
    uint8_t id[CP_SEAL_ID_LEN], time_t *expires)
{
	struct cp_buf plain;
	json_tokener *tok = NULL;
	json_object *o = NULL;
	enum cp_status rc;

	*obj = NULL;
	cp_buf_init(&plain, CP_SEAL_MAX_PLAIN);
	rc = cp_open(lg->keys, purpose, envelope, strlen(envelope), now, &plain,
	    id, expires);
	if (rc != CP_OK)
		goto out;
	rc = CP_ERR_NOMEM;
	if ((tok = json_tokener_new_ex(CP_MAX_JSON_DEPTH)) == NULL)
		goto out;
	rc = CP_ERR_SYNTAX;
	o = json_tokener_parse_ex(tok, cp_buf_cstr(&plain), (int)plain.len);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    json_tokener_get_parse_end(tok) != plain.len)
		goto out;
	*obj = o;
	o = NULL;
	rc = CP_OK;
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	/* The plaintext holds IdP codes and refresh tokens. */
	cp_buf_wipe_free(&plain);
	return rc;
}

const char *
cp_login_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

enum cp_status
cp_login_set(json_object *obj, const char *key, const char *value)
{
	json_object *v;

	if (value == NULL)
		return CP_OK;
	if ((v = json_object_new_string(value)) == NULL)
		return CP_ERR_NOMEM;
	if (json_object_object_add(obj, key, v) != 0) {
		json_object_put(v);
		return CP_ERR_NOMEM;
	}
	return CP_OK;
}

enum cp_status
cp_login_page_store(struct cp_req *req)
{
	return cp_resp_page(req, 503, "Sign-in is unavailable",
	    "This server cannot reach its state store right now. Try again in a minute.");
}

enum cp_status
cp_login_page_bad_params(struct cp_req *req, enum cp_status rc)
{
	if (rc == CP_ERR_TIMEOUT) {
		cp_log(CP_LOG_INFO, "consent form body not in within %d s", CP_BODY_SECONDS);
		return cp_resp_page(req, 408, "Sign-in form too slow", "The form did not "
		    "arrive in time. Start the sign-in again from your application.");
	}
	return cp_resp_page(req, 400, "Bad sign-in request",
	    rc == CP_ERR_DUPLICATE ? "A parameter of the sign-in request was sent more than "
	    "once, so the request was refused. Start the sign-in again from your application." :
	    rc == CP_ERR_LIMIT ? "The sign-in request is too large. Start the sign-in again "
	    "from your application." :
	    rc == CP_ERR_INVALID ? "The form must be sent as application/x-www-form-urlencoded." :
	    "The sign-in request is malformed (bad encoding or control characters). "
	    "Start the sign-in again from your application.");
}
