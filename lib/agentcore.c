#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agentcore.h"
#include "elicit.h"
#include "http.h"
#include "limits.h"
#include "log.h"

extern char **environ;

/* The value of name in a NULL-terminated "NAME=value" array, or NULL. */
static const char *
env_in(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp != NULL && *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

static bool
present(const char *s)
{
	return s != NULL && *s != '\0';
}

enum cp_status
cp_aws_creds_get(char **envp, struct cp_aws_creds *creds, const char **missing)
{
	char **src = environ;
	const char *id, *secret, *token;

	memset(creds, 0, sizeof(*creds));
	*missing = NULL;
	/* One source for all three, so a key id never meets another
	 * source's secret or session token. */
	if (!present(env_in(environ, "AWS_ACCESS_KEY_ID")) &&
	    present(env_in(envp, "AWS_ACCESS_KEY_ID")))
		src = envp;
	id = env_in(src, "AWS_ACCESS_KEY_ID");
	secret = env_in(src, "AWS_SECRET_ACCESS_KEY");
	if (!present(token = env_in(src, "AWS_SESSION_TOKEN")))
		token = NULL;
	if (!present(id) || !present(secret)) {
		*missing = !present(id) && !present(secret) ?
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" :
		    !present(id) ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY";
		return CP_ERR_CONFIG;
	}
	/* Checked here, before a binding is spent on a call that could
	 * not be signed (a key pasted with a trailing space or CR). */
	*missing = !cp_http_visible(id, CP_HTTP_MAX_CREDENTIAL) ? "AWS_ACCESS_KEY_ID" :
	    !cp_http_visible(secret, CP_HTTP_MAX_CREDENTIAL) ? "AWS_SECRET_ACCESS_KEY" :
	    token != NULL && !cp_http_visible(token, CP_HTTP_MAX_SESSION_TOKEN) ?
	    "AWS_SESSION_TOKEN" : NULL;
	if (*missing != NULL)
		return CP_ERR_CONFIG;
	creds->access_key_id = id;
	creds->secret_access_key = secret;
	creds->session_token = token;
	return CP_OK;
}

static bool
b64token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/';
}

/* RFC 6750 2.1 b64token: what a bearer token may hold, and nothing that
 * would need escaping in a JSON string. */
static bool
b64token(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len && b64token_char(s[i]))
		i++;
	if (i == 0)
		return false;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

/* The __type member of an AWS error body ("" when absent). */
static void
body_type(const struct cp_buf *body, char *dst, size_t dstlen)
{
	json_tokener *tok = json_tokener_new_ex(CP_MAX_JSON_DEPTH);
	json_object *o = NULL, *v;
	const char *s;

	if (tok == NULL || body->len == 0)
		goto out;
	o = json_tokener_parse_ex(tok, cp_buf_cstr(body), (int)body->len);
	if (o != NULL && json_object_object_get_ex(o, "__type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    strlen(s = json_object_get_string(v)) < dstlen &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789#:._-") == strlen(s))
		memcpy(dst, s, strlen(s) + 1);
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
}

enum cp_status
cp_agentcore_complete(const struct cp_config *cfg,
    const struct cp_aws_creds *creds, const char *session_uri,
    const char *user_token, size_t len, long timeout_ms,
    struct cp_agentcore_answer *ans)
{
	struct cp_http_sigv4 sig;
	struct cp_http_response resp;
	struct cp_buf url, body;
	enum cp_status rc;

	memset(ans, 0, sizeof(*ans));
	memset(&resp, 0, sizeof(resp));
	cp_buf_init(&url, CP_MAX_URL + sizeof(CP_AGENTCORE_PATH));
	cp_buf_init(&body, CP_AGENTCORE_MAX_BODY);
	rc = CP_ERR_LIMIT;
	if (len > CP_AGENTCORE_MAX_TOKEN)
		goto out;
	rc = CP_ERR_INVALID;
	if (!cp_elicit_session_uri_ok(session_uri, strlen(session_uri)) ||
	    !b64token(user_token, len) || cfg->agentcore_endpoint == NULL ||
	    cfg->agentcore_region == NULL)
		goto out;
	/* The API model's request shape (doc/agentcore-okta.md 1): both values
	 * were checked above to need no JSON escaping. */
	if ((rc = cp_buf_printf(&url, "%s%s", cfg->agentcore_endpoint,
	    CP_AGENTCORE_PATH)) != CP_OK ||
	    (rc = cp_buf_printf(&body, "{\"sessionUri\":\"%s\",\"userIdentifier\":"
	    "{\"userToken\":\"%.*s\"}}", session_uri, (int)len, user_token)) != CP_OK)
		goto out;
	memset(&sig, 0, sizeof(sig));
	sig.region = cfg->agentcore_region;
	sig.service = CP_AGENTCORE_SERVICE;
	sig.access_key_id = creds->access_key_id;
	sig.secret_access_key = creds->secret_access_key;
	sig.session_token = creds->session_token;
	rc = cp_http_post_json_sigv4(cfg, cp_buf_cstr(&url), body.data, body.len, &sig,
	    timeout_ms > 0 ? timeout_ms : CP_AGENTCORE_TIMEOUT_MS, &resp);
	if (rc != CP_OK)
		goto out;
	ans->status = resp.status;
	memcpy(ans->request_id, resp.request_id, sizeof(ans->request_id));
	memcpy(ans->error_type, resp.error_type, sizeof(ans->error_type));
	if (resp.status != 200 && ans->error_type[0] == '\0')
		body_type(&resp.body, ans->error_type, sizeof(ans->error_type));
out:
	cp_buf_free(&resp.body);
	cp_buf_free(&url);
	cp_buf_wipe_free(&body);
	return rc;
}
