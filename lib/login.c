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
cp_login_idp(struct cp_login *lg, struct cp_idp *idp)
{
	return cp_idp_discover(lg->cfg, lg->st, idp);
}

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
cp_login_redirect(struct cp_req *req, int status, const char *location)
{
	enum cp_status rc;

	if ((rc = cp_resp_header(req, "Location", location)) != CP_OK)
		return rc;
	return cp_resp_begin(req, status, NULL);
}

enum cp_status
cp_login_redirect_error(struct cp_req *req, int status,
    const char *redirect_uri, const char *error, const char *description,
    const char *state)
{
	struct cp_oauth_param p[] = {
		{ "error", error },
		{ "error_description", description },
		{ "state", state },
		{ "iss", req->cfg->public_url },
	};
	struct cp_buf url;
	enum cp_status rc;

	cp_buf_init(&url, CP_MAX_REDIRECT);
	rc = cp_oauth_redirect(&url, redirect_uri, p, sizeof(p) / sizeof(p[0]));
	if (rc == CP_OK)
		rc = cp_login_redirect(req, status, cp_buf_cstr(&url));
	cp_buf_free(&url);
	return rc;
}

enum cp_status
cp_login_client_get(struct cp_login *lg, const char *client_id,
    struct cp_login_client *c, char *why, size_t whylen)
{
	enum cp_cimd_source src = CP_CIMD_SRC_NONE;
	const char *reason = NULL;
	struct cp_buf hash;
	enum cp_status rc;

	memset(c, 0, sizeof(*c));
	rc = cp_cimd_resolve(lg->cfg, lg->st, client_id, &c->doc, &src, &reason);
	if (rc == CP_ERR_STORE || rc == CP_ERR_NOMEM)
		return rc;
	if (rc != CP_OK) {
		cp_log(CP_LOG_INFO, "client %.200s refused: %s (%s)", client_id,
		    reason ? reason : "-", cp_status_str(rc));
		snprintf(why, whylen, "%s %.200s: %s.",
		    rc == CP_ERR_DENIED ? "This server does not accept the application" :
		    rc == CP_ERR_NOT_FOUND ? "The application's client metadata document is gone" :
		    rc == CP_ERR_FETCH || rc == CP_ERR_TIMEOUT || rc == CP_ERR_UPSTREAM ?
		    "The application's client metadata document could not be fetched" :
		    "The application's client_id or client metadata document is not acceptable",
		    client_id, reason ? reason : cp_status_str(rc));
		return rc;
	}
	cp_log(CP_LOG_DEBUG, "client %.200s from %s", client_id, cp_cimd_source_str(src));
	cp_buf_init(&hash, sizeof(c->doc_hash) - 1);
	if ((rc = cp_b64url_encode(c->doc.hash, sizeof(c->doc.hash), &hash)) == CP_OK)
		memcpy(c->doc_hash, hash.data, hash.len + 1);
	cp_buf_free(&hash);
	return rc;
}

void
cp_login_client_free(struct cp_login_client *c)
{
	cp_cimd_doc_free(&c->doc);
	memset(c, 0, sizeof(*c));
}

bool
cp_login_redirect_ok(const struct cp_login_client *c, const char *redirect_uri)
{
	return cp_redirect_uri_match(&c->doc, redirect_uri);
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
